"""`MetaAlignSFTConfig`: TRL's SFTConfig plus MetaAlign's model, data, LoRA and precision fields.

Owns the SFT defaults that differ from TRL's (LoRA-sized learning rate, padding-free batches,
hardware-chosen precision). Every TRL field keeps its name and meaning; none is re-declared.
"""

from __future__ import annotations

from dataclasses import dataclass

from trl import SFTConfig

from metaalign.train.fields import SHARED_DEFAULTS, MetaAlignFields

# Defaults that differ from TRL's, applied only where the user left TRL's default in place.
SFT_DEFAULTS = {
    **SHARED_DEFAULTS,
    "learning_rate": 3e-4,  # LoRA on a 135M model learns format preferences fast at this rate
    "padding_free": True,
}


@dataclass
class MetaAlignSFTConfig(MetaAlignFields, SFTConfig):
    """SFT on MetaAlign SFT records (see `metaalign.train.sft_trainer`)."""

    def __post_init__(self) -> None:
        self._metaalign_post_init()
        super().__post_init__()
