"""Choosing the next token of every row: greedy, or temperature + top-p with a per-request seed.

Owns the per-row sampling state (each request's own torch.Generator, so a seeded request
gives the same answer whatever else shares its batch). It does not run the model or
decode text (decode.py, textstream.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Below this a temperature is greedy: dividing logits by less overflows to inf (then NaN
# probabilities), and the distribution is one-hot in all but name anyway (vLLM uses 1e-5 too).
MIN_TEMPERATURE = 1e-5


@dataclass
class RowSampler:
    """One request's sampling settings; greedy when `temperature` is 0 (below MIN_TEMPERATURE)."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        self.generator: torch.Generator | None = None
        if not self.greedy:
            self.generator = torch.Generator()
            if self.seed is None:
                self.generator.seed()
            else:
                self.generator.manual_seed(self.seed)

    @property
    def greedy(self) -> bool:
        return self.temperature < MIN_TEMPERATURE

    def sample(self, logits: torch.Tensor) -> int:
        """Draws one id from a 1-D row of logits (float32)."""
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            cumulative = torch.cumsum(sorted_probs, dim=-1)
            # keep the smallest set whose mass reaches top_p (always at least the top token)
            drop = cumulative - sorted_probs >= self.top_p
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            pick = torch.multinomial(sorted_probs.cpu(), 1, generator=self.generator)
            return int(order[pick.item()])
        return int(torch.multinomial(probs.cpu(), 1, generator=self.generator).item())


def next_tokens(logits: torch.Tensor, samplers: list[RowSampler]) -> list[int]:
    """The next id of each row of `logits` ([rows, vocab]); greedy rows share one argmax."""
    greedy = logits.argmax(dim=-1).tolist()
    return [
        g if s.greedy else s.sample(logits[i]) for i, (g, s) in enumerate(zip(greedy, samplers, strict=True))
    ]
