"""The decode loop of the transformers engine: one prefill, then one token per step for all rows.

Owns a batch's tensors: left padding (after a shared prefix when there is one) with an
attention mask and explicit position ids, the KV cache, and dropping finished rows so the
remaining ones run on a smaller batch. It does not render prompts or group requests (hf.py),
choose tokens (sampling.py) or turn ids into text (textstream.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from metaalign.engine.kvcache import make_cache
from metaalign.engine.prefix import KV
from metaalign.engine.sampling import RowSampler, next_tokens
from metaalign.engine.textstream import TextStream


@dataclass
class Row:
    """One request inside a batch: its prompt, limits and the state of its answer."""

    ids: list[int]
    max_new_tokens: int
    sampler: RowSampler
    stream: TextStream
    on_delta: Callable[[str], None] | None = None
    generated: list[int] = field(default_factory=list)
    finish: str | None = None  # "stop" or "length" once done

    def take(self, token: int, end_ids: frozenset[int]) -> None:
        """Adds one sampled token, emitting its text and deciding whether the row is done."""
        if token in end_ids:
            self.finish = "stop"
        else:
            self.generated.append(token)
            self._emit(self.stream.push(token))
            if self.stream.stopped:
                self.finish = "stop"
            elif len(self.generated) >= self.max_new_tokens:
                self.finish = "length"
        if self.finish is not None:
            self._emit(self.stream.finish())

    def _emit(self, delta: str) -> None:
        if delta and self.on_delta is not None:
            self.on_delta(delta)


@torch.inference_mode()
def run_batch(
    model: Any, rows: Sequence[Row], *, pad_id: int, end_ids: frozenset[int], prefix: KV | None = None
) -> None:
    """Generates every row to its end; each Row's `generated`, `stream` and `finish` are filled."""
    start = prefix[0][0].shape[-2] if prefix else 0
    ids, mask, positions = _prefill_inputs([r.ids[start:] for r in rows], start, pad_id, model.device)
    cache = make_cache(model, prefix, len(rows))
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        cache=cache,
        use_cache=True,
        logits_to_keep=1,
    )
    active = list(rows)
    last = positions[:, -1:]
    while True:
        tokens = next_tokens(out.logits[:, -1, :], [r.sampler for r in active])
        for row, token in zip(active, tokens, strict=True):
            row.take(token, end_ids)
        keep = [i for i, row in enumerate(active) if row.finish is None]
        if not keep:
            return
        if len(keep) < len(active):  # drop finished rows: later steps run on a smaller batch
            index = torch.tensor(keep, device=mask.device)
            cache.batch_select_indices(index)
            mask, last = mask[index], last[index]
            active = [active[i] for i in keep]
            tokens = [tokens[i] for i in keep]
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
        last = last + 1
        out = model(
            input_ids=torch.tensor(tokens, device=mask.device)[:, None],
            attention_mask=mask,
            position_ids=last,
            cache=cache,
            use_cache=True,
        )


def _prefill_inputs(
    suffixes: list[list[int]], start: int, pad_id: int, device: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-padded ids, the mask over prefix + ids, and positions counting real tokens only."""
    width = max(map(len, suffixes))
    ids, mask, positions = [], [], []
    for s in suffixes:
        pad = width - len(s)
        ids.append([pad_id] * pad + s)
        mask.append([1] * start + [0] * pad + [1] * len(s))
        positions.append([1] * pad + list(range(start, start + len(s))))
    as_tensor = lambda rows: torch.tensor(rows, device=device)  # noqa: E731
    return as_tensor(ids), as_tensor(mask), as_tensor(positions)
