"""`RunModel`: what a training run starts from (checked config, model resolved once, rendered records).

Owns resolving `config.model` once into a `Pretrained` that the tokenizer, the LoRA sizing and the
policy load all use, and the trainer arguments SFT and DPO share; TRL gets a copy of the config
with model_init_kwargs filled, the caller's stays as it was. Rows are token_rows.py's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaalign.models.loading import Pretrained


@dataclass
class RunModel:
    """A run's checked config, its model reference resolved once, that model's tokenizer and
    renderer, and the training (and optional evaluation) dataset rendered with them."""

    config: Any  # a MetaAlignSFTConfig or MetaAlignDPOConfig
    target: Pretrained
    tokenizer: Any
    renderer: Any
    train: Any = None
    evals: Any = None

    @classmethod
    def prepare(cls, values: Any, kind: str) -> RunModel:
        """`values` checked into a `kind` ("sft" or "dpo") config, torch threads set, `config.model`
        resolved, its tokenizer loaded, and the records rendered (a bad record file fails before
        any weights load)."""
        import torch

        from metaalign.models.loading import load_tokenizer, locate_pretrained
        from metaalign.render import Renderer
        from metaalign.train.configs import dpo_config, sft_config
        from metaalign.train.token_rows import record_datasets

        config = sft_config(values) if kind == "sft" else dpo_config(values)
        if config.threads:
            torch.set_num_threads(config.threads)
        target = locate_pretrained(config.model)
        tokenizer = load_tokenizer(target)
        run = cls(config, target, tokenizer, Renderer(tokenizer))
        run.train, run.evals = record_datasets(config, kind, run.renderer)
        return run

    def model_init_kwargs(self) -> dict[str, Any]:
        """`from_pretrained` keywords for the policy: the reference's, the training dtype, the user's."""
        from metaalign.train.hardware import torch_dtype_name

        config = self.config
        # full fine-tuning keeps fp32 master weights
        dtype = torch_dtype_name(config) if config.use_peft else "float32"
        return {**self.target.kwargs, "dtype": dtype, **(config.model_init_kwargs or {})}

    def trainer_args(self, **changes: Any) -> Any:
        """A copy of the config for TRL: model_init_kwargs filled (TRL loads the model and, for DPO
        without an adapter or precomputed scores, the reference from them), then `changes`."""
        args = copy.copy(self.config)
        args.model_init_kwargs = self.model_init_kwargs()
        for name, value in changes.items():
            setattr(args, name, value)
        return args

    def policy(self) -> Any:
        """The model to train: the path TRL loads itself, or (with `adapter`) a base with it merged."""
        adapter = getattr(self.config, "adapter", None)
        if not adapter:
            return self.target.location
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(self.target.location, **self.model_init_kwargs())
        return PeftModel.from_pretrained(base, adapter).merge_and_unload()

    def lora(self) -> Any:
        """The LoraConfig of the config, sized to the model when only the last layers get adapters."""
        config = self.config
        if not config.use_peft or not config.lora_layers:
            return config.lora_config()
        from transformers import AutoConfig

        model_config = AutoConfig.from_pretrained(self.target.location, **self.target.kwargs)
        return config.lora_config(model_config.get_text_config().num_hidden_layers)

    def trainer_kwargs(self, callbacks: list | None = None, **arg_changes: Any) -> dict[str, Any]:
        """What every MetaAlign trainer takes besides its datasets: model, args, tokenizer, LoRA, and
        the JSONL log callback ahead of `callbacks`. `arg_changes` apply to TRL's copy of the config."""
        from metaalign.train.run_log import LOG_NAME, JsonlLogCallback

        log = JsonlLogCallback(Path(self.config.output_dir) / LOG_NAME)
        return {
            "model": self.policy(),
            "args": self.trainer_args(**arg_changes),
            "processing_class": self.tokenizer,
            "peft_config": self.lora(),
            "callbacks": [log, *(callbacks or [])],
        }
