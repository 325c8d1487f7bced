"""The fields MetaAlign adds to TRL's configs: model reference, record files, LoRA and precision.

Owns these dataclass fields and their checks only; every TRL / TrainingArguments field keeps
its TRL name, default and meaning (configs.py combines the two), plus the
TrainingArguments defaults both methods share (SHARED_DEFAULTS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metaalign.models.resolver import DEFAULT_MODEL
from metaalign.train.hardware import PRECISIONS, apply_hardware_defaults

# TrainingArguments defaults MetaAlign prefers for both SFT and DPO (configs.py
# adds their own); applied only where the user left TRL's default in place.
SHARED_DEFAULTS = {
    "per_device_train_batch_size": 8,
    "num_train_epochs": 2.0,
    "logging_steps": 5,
    "save_steps": 50,
    "save_total_limit": 2,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.05,
    "max_length": 1024,
    "report_to": "none",
}
DECODER_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class MetaAlignFields:
    """Model, data, adapter and precision settings shared by the SFT and DPO configs."""

    model: str = field(
        default=DEFAULT_MODEL,
        metadata={
            "help": "model reference: an alias (smollm2-135m), a local folder, a .gguf file or org/name"
        },
    )
    train_file: str | None = field(
        default=None, metadata={"help": "training records: .jsonl, .json, .parquet or a datasets folder"}
    )
    eval_file: str | None = field(default=None, metadata={"help": "optional evaluation records"})
    max_records: int | None = field(
        default=None, metadata={"help": "use only the first N training records (quick runs)"}
    )
    use_peft: bool = field(default=True, metadata={"help": "train LoRA adapters (False: full fine-tuning)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (scale = alpha / r)"})
    lora_dropout: float = field(default=0.0, metadata={"help": "dropout on the LoRA input"})
    lora_target_modules: Any = field(
        default="all-linear", metadata={"help": "'all-linear' or a list of module names"}
    )
    lora_layers: int | None = field(
        default=None,
        metadata={
            "help": "LoRA on the last N transformer layers only (None: all). Backward then stops at "
            "those layers, which saves time on CPU"
        },
    )
    precision: str = field(
        default="auto",
        metadata={
            "help": "auto (bf16 on capable GPUs and CPUs, fp32 on other CPUs, checkpointing off on CPU), "
            "fp32, bf16 or fp16"
        },
    )
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (default: torch's)"})

    def _metaalign_post_init(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.lora_r < 1:
            raise ValueError(f"lora_r: expected a positive integer, got {self.lora_r}")
        apply_hardware_defaults(self)

    def lora_config(self, num_layers: int | None = None) -> Any:
        """The PEFT LoraConfig these fields describe (None for full fine-tuning).

        `num_layers` (the model's hidden layer count) is needed when `lora_layers` is set.
        """
        if not self.use_peft:
            return None
        from peft import LoraConfig

        targets = self.lora_target_modules
        layers = {}
        if self.lora_layers:
            if not num_layers:
                raise ValueError("lora_layers needs the model's number of layers")
            first = max(num_layers - self.lora_layers, 0)
            if isinstance(targets, str):  # PEFT needs names here; these cover Llama, Qwen, Mistral, Gemma
                targets = list(DECODER_LINEAR)
            layers = {"layers_to_transform": list(range(first, num_layers)), "layers_pattern": "layers"}
        return LoraConfig(
            **layers,
            r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=list(targets) if isinstance(targets, list | tuple) else targets,
            task_type="CAUSAL_LM",
        )
