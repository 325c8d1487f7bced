"""Shared-prompt DPO batches: each pair runs as ONE row, prompt + chosen + rejected.

Owns the packed layout and its forward. The rejected tokens attend to the prompt and to
themselves, never to the chosen ones (a 4D mask; positions restart after the prompt), so
each completion sees exactly the context it has in TRL's layout, while the prompt (the
long meta-prompt) is computed once instead of twice. Scores land in TRL's [2B, L-1] layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from metaalign.train.lm_head import CHUNK_TOKENS, split_model


def pack_pairs(examples: list[dict[str, Any]], standard_width: int, pad_id: int) -> dict[str, torch.Tensor]:
    """The packed tensors for examples with prompt_ids / chosen_ids / rejected_ids.

    `standard_width` is L, the padded width of TRL's [chosen; rejected] batch; a token at
    position t of that layout is scored at column t - 1.
    """
    rows = [e["prompt_ids"] + e["chosen_ids"] + e["rejected_ids"] for e in examples]
    width = max(map(len, rows))
    batch = len(examples)
    ids = torch.full((batch, width), pad_id, dtype=torch.long)
    pos = torch.zeros((batch, width), dtype=torch.long)
    mask = torch.zeros((batch, 1, width, width), dtype=torch.bool)
    src, target, dst = [], [], []
    for b, e in enumerate(examples):
        p, c, r = len(e["prompt_ids"]), len(e["chosen_ids"]), len(e["rejected_ids"])
        ids[b, : p + c + r] = torch.tensor(rows[b])
        pos[b, : p + c] = torch.arange(p + c)
        pos[b, p + c : p + c + r] = torch.arange(p, p + r)
        mask[b, 0, : p + c, : p + c] = torch.ones(p + c, p + c, dtype=torch.bool).tril()
        mask[b, 0, p + c : p + c + r, :p] = True
        mask[b, 0, p + c : p + c + r, p + c : p + c + r] = torch.ones(r, r, dtype=torch.bool).tril()
        mask[b, 0, p + c + r :, 0] = True  # padding rows attend somewhere, so softmax stays finite
        for j in range(c):
            src.append(b * width + p + j - 1)
            target.append(e["chosen_ids"][j])
            dst.append(b * (standard_width - 1) + p + j - 1)
        for j in range(r):
            src.append(b * width + (p - 1 if j == 0 else p + c + j - 1))
            target.append(e["rejected_ids"][j])
            dst.append((batch + b) * (standard_width - 1) + p + j - 1)
    return {
        "input_ids": ids,
        "position_ids": pos,
        "attention_mask": mask,
        "src": torch.tensor(src, dtype=torch.long),
        "target": torch.tensor(target, dtype=torch.long),
        "dst": torch.tensor(dst, dtype=torch.long),
    }


@dataclass
class ScoreOutput:
    """The fields of TRL's FusedCausalLMOutput that DPOTrainer reads."""

    log_probs: torch.Tensor
    entropy: torch.Tensor
    mean_logits: torch.Tensor
    is_top1: torch.Tensor
    log_sum_sq_probs: None = None
    aux_loss: None = None


def score_packed(model: Any, packed: dict[str, torch.Tensor], layout: tuple[int, int]) -> ScoreOutput:
    """Per-token scores of a packed batch, scattered into TRL's [2B, L-1] layout (`layout`)."""
    _, backbone, head = split_model(model)
    mask = packed["attention_mask"]
    hidden = backbone(
        input_ids=packed["input_ids"],
        position_ids=packed["position_ids"],
        attention_mask=mask,
        use_cache=False,
    ).last_hidden_state
    picked = hidden.reshape(-1, hidden.size(-1))[packed["src"]]
    target = packed["target"]
    parts: dict[str, list[torch.Tensor]] = {"log_probs": [], "entropy": [], "mean_logits": [], "is_top1": []}
    for start in range(0, picked.size(0), CHUNK_TOKENS):
        logits = head(picked[start : start + CHUNK_TOKENS]).float()
        wanted = target[start : start + CHUNK_TOKENS]
        parts["log_probs"].append(-F.cross_entropy(logits, wanted, reduction="none"))
        with torch.no_grad():
            logp = logits.log_softmax(-1)
            parts["entropy"].append(-(logp.exp() * logp).sum(-1))
            parts["mean_logits"].append(logits.mean(-1))
            parts["is_top1"].append(logits.argmax(-1) == wanted)
    size = layout[0] * layout[1]
    out = {}
    for name, pieces in parts.items():
        flat = torch.cat(pieces) if pieces else picked.new_zeros(0).float().sum(-1)
        out[name] = (
            torch.zeros(size, dtype=flat.dtype, device=flat.device)
            .index_put((packed["dst"],), flat)
            .view(layout)
        )
    return ScoreOutput(**out)
