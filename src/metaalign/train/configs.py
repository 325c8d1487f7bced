"""MetaAlignSFTConfig / MetaAlignDPOConfig (TRL's configs plus fields.py's) and `sft_config()` /
`dpo_config()`, the one place a config is assembled from values and checked.

Owns MetaAlign's defaults, the unknown-field and section checks and each config's __post_init__
checks, so the Python API and the CLI refuse the same things. No TRL field is re-declared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trl import DPOConfig, SFTConfig

from metaalign.train.config_io import ConfigError, check_fields
from metaalign.train.fields import SHARED_DEFAULTS, MetaAlignFields

ConfigLike = Mapping[str, Any] | Any

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
