"""The training configs: MetaAlignSFTConfig / MetaAlignDPOConfig (TRL's SFTConfig / DPOConfig plus
MetaAlignFields) and `sft_config()` / `dpo_config()`, where a config is assembled and checked.

Owns the added fields (model, records, LoRA, precision), MetaAlign's defaults, and the checks
(unknown fields, sections, each __post_init__), so the Python API and the CLI refuse the same
things. No TRL field is re-declared; the precision policy is hardware.py's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trl import DPOConfig, SFTConfig

from metaalign.models.resolver import DEFAULT_MODEL
from metaalign.train.config_io import ConfigError, check_fields
from metaalign.train.hardware import PRECISIONS, apply_hardware_defaults

ConfigLike = Mapping[str, Any] | Any

# TrainingArguments defaults MetaAlign prefers for both SFT and DPO (SFT_DEFAULTS and DPO_DEFAULTS
# add their own); applied only where the user left TRL's default in place.
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


# Defaults that differ from TRL's, applied only where the user left TRL's default in place.
SFT_DEFAULTS = {
    **SHARED_DEFAULTS,
    "learning_rate": 3e-4,  # LoRA on a 135M model learns format preferences fast at this rate
    "padding_free": True,
}
DPO_DEFAULTS = {
    **SHARED_DEFAULTS,
    "learning_rate": 1e-4,
    "precompute_ref_log_probs": True,  # one reference pass, cached, instead of one per step
}


@dataclass
class MetaAlignSFTConfig(MetaAlignFields, SFTConfig):
    """SFT on MetaAlign SFT records (see `metaalign.train.sft_trainer`)."""

    def __post_init__(self) -> None:
        self._metaalign_post_init()
        super().__post_init__()


@dataclass
class MetaAlignDPOConfig(MetaAlignFields, DPOConfig):
    """DPO on MetaAlign preference records (see `metaalign.train.dpo_trainer`)."""

    shared_prompt: bool = field(
        default=True,
        metadata={
            "help": "run each prompt once per pair (chosen and rejected attend to one copy of the prompt)"
        },
    )
    adapter: str | None = field(
        default=None,
        metadata={
            "help": "start from this LoRA adapter folder (e.g. an SFT run's final/), merged into the base"
        },
    )

    def __post_init__(self) -> None:
        self._metaalign_post_init()
        if self.shared_prompt and self.truncation_mode != "keep_start":
            # packed pairs are laid out from the untruncated lengths; keep_end would misplace scores
            raise ConfigError(
                f"shared_prompt: packs pairs truncated keep_start only, got truncation_mode "
                f"{self.truncation_mode!r}; set shared_prompt: false to use it",
                field="truncation_mode",
            )
        super().__post_init__()


def field_names(cls: type) -> set[str]:
    """The fields a config of `cls` takes by name."""
    return {f.name for f in dataclasses.fields(cls) if f.init}


def check_sections(values: Mapping[str, Any], known: set[str], where: str) -> None:
    """Refuse nested sections (`sft:`, `dpo:`...): a one-method config is flat; two-stage nests."""
    nested = [k for k, v in values.items() if isinstance(v, Mapping) and k not in known]
    if nested:
        raise ConfigError(
            f"{where}: unexpected section(s) {', '.join(nested)} (two-stage only)", field=nested[0]
        )


def make_config(cls: type, values: ConfigLike, defaults: Mapping[str, Any], where: str = "config") -> Any:
    """`cls` from MetaAlign's defaults overlaid with `values`; a config object passes through.

    A gradient_checkpointing the user sets explicitly wins over the hardware choice.
    """
    if isinstance(values, cls):
        return values
    values = dict(values)
    known = field_names(cls)
    check_sections(values, known, where)
    check_fields(values, known, where)
    if "gradient_checkpointing" in values:  # the deprecated alias, said explicitly: it wins
        values.setdefault("activation_checkpointing", values.pop("gradient_checkpointing"))
    try:
        return cls(**{**defaults, **values})
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}", field=err.field) from err
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from err


def sft_config(values: ConfigLike = (), **overrides: Any) -> MetaAlignSFTConfig:
    """A `MetaAlignSFTConfig` with MetaAlign's SFT defaults; keyword overrides win."""
    if isinstance(values, MetaAlignSFTConfig) and not overrides:
        return values
    return make_config(MetaAlignSFTConfig, {**dict(values or {}), **overrides}, SFT_DEFAULTS, "sft config")


def dpo_config(values: ConfigLike = (), **overrides: Any) -> MetaAlignDPOConfig:
    """A `MetaAlignDPOConfig` with MetaAlign's DPO defaults; keyword overrides win."""
    if isinstance(values, MetaAlignDPOConfig) and not overrides:
        return values
    return make_config(MetaAlignDPOConfig, {**dict(values or {}), **overrides}, DPO_DEFAULTS, "dpo config")
