"""`MetaAlignDPOTrainer`: TRL's DPOTrainer on pre-rendered pairs, with shared-prompt batches.

Owns `from_config` (config -> pairs rendered -> trainer), taking tokenised rows (prompt_ids /
chosen_ids / rejected_ids from metaalign.train.token_rows) as they are, and, in single-process runs with
`shared_prompt`, scoring each pair in one packed row (shared_prompt.py) for both the policy and
the (precomputed) reference. The DPO loss, metrics and adapter-disabled reference are TRL's.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import torch
from trl import DPOTrainer
from trl.trainer.dpo_trainer import DataCollatorForPreference
from trl.trainer.utils import use_adapter

from metaalign.train.lm_head import fast_path_ok
from metaalign.train.shared_prompt import pack_pairs, score_packed

TOKEN_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")


class SharedPromptCollator:
    """TRL's preference collator, plus the packed shared-prompt tensors under "packed"."""

    def __init__(self, pad_token_id: int, max_length: int | None, pad_to_multiple_of: int | None = None):
        self.standard = DataCollatorForPreference(
            pad_token_id=pad_token_id, max_length=max_length, pad_to_multiple_of=pad_to_multiple_of
        )
        self.pad_token_id = pad_token_id

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.standard(examples)
        batch["packed"] = pack_pairs(examples, batch["input_ids"].size(1), self.pad_token_id)
        return batch


def truncate_pair(row: dict[str, list[int]], max_length: int | None) -> dict[str, list[int]]:
    """Completions cut so prompt + completion fits `max_length` (TRL's keep_start truncation)."""
    if not max_length:
        return row
    room = max(max_length - len(row["prompt_ids"]), 0)
    return {**row, "chosen_ids": row["chosen_ids"][:room], "rejected_ids": row["rejected_ids"][:room]}


class MetaAlignDPOTrainer(DPOTrainer):
    """DPOTrainer that trusts MetaAlign's tokenisation and runs each prompt once per pair."""

    def __init__(self, *args: Any, shared_prompt: bool | None = None, **kwargs: Any) -> None:
        """`shared_prompt` defaults to the args' (MetaAlignDPOConfig checks it against truncation)."""
        args_ = kwargs.get("args")
        tokenizer = kwargs.get("processing_class")
        if shared_prompt is None:
            shared_prompt = getattr(args_, "shared_prompt", True)
        # packed pairs are laid out from the untruncated lengths: keep_start truncation only
        keep_start = getattr(args_, "truncation_mode", "keep_start") == "keep_start"
        self._shared_prompt = bool(shared_prompt) and keep_start
        if self._shared_prompt and kwargs.get("data_collator") is None and tokenizer is not None:
            max_length = getattr(args_, "max_length", None)
            multiple = getattr(args_, "pad_to_multiple_of", None)
            kwargs["data_collator"] = SharedPromptCollator(tokenizer.pad_token_id, max_length, multiple)
        super().__init__(*args, **kwargs)
        if not self._packs() and isinstance(self.data_collator, SharedPromptCollator):
            self.data_collator = self.data_collator.standard

    @classmethod
    def from_config(cls, config: Any, callbacks: list | None = None) -> MetaAlignDPOTrainer:
        """The trainer for `config` (a MetaAlignDPOConfig or its values), pairs rendered, model
        loaded, ready for `.train()`. `config` itself is not changed."""
        from metaalign.train.distributed import is_main, shared_dataset
        from metaalign.train.policy import RunModel

        run = RunModel.prepare(config, "dpo")
        config, train, evals = run.config, run.train, run.evals
        if config.precompute_ref_log_probs:  # the ranks must share the file TRL caches reference scores in
            shared = Path(config.output_dir) / "datasets"
            train = shared_dataset(train, shared)
            evals = shared_dataset(evals, shared) if evals is not None else None
        if is_main():
            Path(config.output_dir).mkdir(parents=True, exist_ok=True)
        return cls(train_dataset=train, eval_dataset=evals, **run.trainer_kwargs(callbacks))

    def _packs(self) -> bool:
        """Shared-prompt scoring applies: asked for, single process, no WPO weights or MoE aux loss."""
        plain = not (self.use_weighting or self.aux_loss_enabled)
        return self._shared_prompt and plain and fast_path_ok(self)

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        """Under several processes the dataset lives on disk (`shared_dataset`) and each map
        writes a cache file beside it: rank 0 maps first, the others then read its files."""
        from accelerate import PartialState

        with PartialState().main_process_first():
            return self._prepare_rows(dataset, processing_class, args, dataset_name)

    def _prepare_rows(self, dataset, processing_class, args, dataset_name):
        if not set(TOKEN_COLUMNS) <= set(dataset.column_names):
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)
        limit = args.max_length
        if limit and args.truncation_mode == "keep_start":
            dataset = dataset.filter(lambda row: len(row["prompt_ids"]) < limit)
            dataset = dataset.map(truncate_pair, fn_kwargs={"max_length": limit})
        return dataset

    def compute_ref_log_probs(self, model, inputs):
        packed = inputs.pop("packed", None)
        if packed is None or not self._packs():
            return super().compute_ref_log_probs(model, inputs)
        unwrapped = self.accelerator.unwrap_model(self.model)
        adapters = getattr(unwrapped, "peft_config", None)
        adapter = contextlib.nullcontext()
        if self.ref_model is None and adapters is not None:
            adapter = use_adapter(unwrapped, adapter_name="ref" if "ref" in adapters else None)
        with torch.no_grad(), adapter:
            scores = score_packed(self.ref_model or model, packed, self._layout(inputs))
        return scores.log_probs.sum(dim=1).chunk(2, dim=0)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        packed = inputs.pop("packed", None)
        if packed is None or not self._packs():
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        if not self.precompute_ref_logps:
            inputs["ref_chosen_logps"], inputs["ref_rejected_logps"] = self.compute_ref_log_probs(
                model, {**inputs, "packed": packed}
            )
        proxy = _PackedModel(model, packed, self._layout(inputs))
        saved = self.precompute_ref_logps
        self.precompute_ref_logps = True  # the reference scores are in `inputs` now
        try:
            return self._compute_loss(proxy, inputs, return_outputs)
        finally:
            self.precompute_ref_logps = saved

    @staticmethod
    def _layout(inputs: dict[str, Any]) -> tuple[int, int]:
        rows, width = inputs["input_ids"].shape
        return rows, width - 1


class _PackedModel:
    """Stands in for the policy inside TRL's loss: returns scores of the packed batch."""

    def __init__(self, model: Any, packed: dict[str, torch.Tensor], layout: tuple[int, int]) -> None:
        self.model, self.packed, self.layout = model, packed, layout

    def __call__(self, **_: Any) -> Any:
        return score_packed(self.model, self.packed, self.layout)
