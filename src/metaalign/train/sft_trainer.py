"""`MetaAlignSFTTrainer`: TRL's SFTTrainer on pre-rendered, pre-masked MetaAlign examples.

Owns `from_config` (config -> records rendered -> trainer) and the loss on assistant tokens
through the compact LM head (lm_head.py) in single-process runs; batching (padding-free),
checkpoints and optimisation stay TRL's. Rendering is metaalign.train.token_rows's, the model policy.py's.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import SFTTrainer

from metaalign.train.lm_head import IGNORE, completion_log_probs, fast_path_ok

# Collator keys the backbone takes; the varlen-kernel extras only matter for flash attention.
BACKBONE_KEYS = ("input_ids", "attention_mask", "position_ids")


class MetaAlignSFTTrainer(SFTTrainer):
    """SFTTrainer whose loss scores only labelled positions (TRL's own loss on multi-process runs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._compact = fast_path_ok(self)

    @classmethod
    def from_config(cls, config: Any, callbacks: list | None = None) -> MetaAlignSFTTrainer:
        """The trainer for `config` (a MetaAlignSFTConfig or its values), records rendered, model
        loaded, ready for `.train()`. `config` itself is not changed."""
        from metaalign.train.policy import RunModel

        run = RunModel.prepare(config, "sft")
        config = run.config
        # max_length is enforced per example when rendering; TRL cannot enforce it padding-free
        unbounded = config.padding_free and not config.packing
        kwargs = run.trainer_kwargs(callbacks, max_length=None if unbounded else config.max_length)
        return cls(train_dataset=run.train, eval_dataset=run.evals, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self._compact or return_outputs or not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs["labels"]
        backbone_inputs = {k: inputs[k] for k in BACKBONE_KEYS if k in inputs}
        log_probs = completion_log_probs(model, backbone_inputs, labels)
        trained = (labels[:, 1:] != IGNORE).sum()
        denominator = trained if num_items_in_batch is None else num_items_in_batch
        loss = -log_probs.sum() / torch.as_tensor(denominator).clamp(min=1)
        self._count_tokens(inputs)
        return loss

    def _count_tokens(self, inputs: dict[str, Any]) -> None:
        if "attention_mask" in inputs:
            tokens = int(inputs["attention_mask"].sum())
        else:
            tokens = int(inputs["input_ids"].numel())
        self._total_train_tokens += tokens
        self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
