"""`MetaAlignDPOConfig`: TRL's DPOConfig plus MetaAlign's model, data, LoRA and precision fields.

Owns only the added fields and the DPO defaults MetaAlign prefers (see DPO_DEFAULTS); every
TRL field keeps its name and meaning. The loss is TRL's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import DPOConfig

from metaalign.train.fields import SHARED_DEFAULTS, MetaAlignFields

DPO_DEFAULTS = {
    **SHARED_DEFAULTS,
    "learning_rate": 1e-4,
    "precompute_ref_log_probs": True,  # one reference pass, cached, instead of one per step
}


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
        super().__post_init__()
