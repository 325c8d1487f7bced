"""Log-probabilities of the trained tokens only: the LM head runs on completion positions alone.

Owns the single-process fast path shared by the SFT and DPO trainers: run the backbone, pick
the positions whose next token is labelled, project only those through the LM head (in
chunks, so the logits never cover the prompt). Distributed runs keep TRL's fused head.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

IGNORE = -100
CHUNK_TOKENS = 2048  # logits of at most this many positions exist at once (2048 x 49k fp32 = 400 MB)


def split_model(model: Any) -> tuple[Any, Any, Any]:
    """(causal LM, its backbone, its output embedding) of a plain or PEFT-wrapped model."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = getattr(causal_lm, causal_lm.base_model_prefix)
    return causal_lm, backbone, causal_lm.get_output_embeddings()


def completion_log_probs(model: Any, inputs: dict[str, Any], labels: torch.Tensor) -> torch.Tensor:
    """Per-position log p(label) with shape labels[:, 1:], zero where the label is -100.

    `inputs` are the backbone's keyword arguments (input_ids, attention_mask / position_ids);
    position t scores labels[:, t + 1], as in a causal LM loss.
    """
    _, backbone, head = split_model(model)
    hidden = backbone(**inputs, use_cache=False).last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    mask = targets != IGNORE
    picked = hidden[mask]
    wanted = targets[mask]
    pieces = []
    for start in range(0, picked.size(0), CHUNK_TOKENS):
        logits = head(picked[start : start + CHUNK_TOKENS]).float()
        pieces.append(-F.cross_entropy(logits, wanted[start : start + CHUNK_TOKENS], reduction="none"))
    flat = torch.cat(pieces) if pieces else picked.new_zeros(0, dtype=torch.float32).sum(-1)
    out = torch.zeros(mask.shape, dtype=flat.dtype, device=flat.device)
    return out.masked_scatter(mask, flat)


def fast_path_ok(trainer: Any) -> bool:
    """The compact head is used in single-process runs (DeepSpeed/FSDP wrap submodules their own way)."""
    return trainer.accelerator.num_processes == 1 and not (
        trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled
    )
