"""`MetaAlignSFTConfig`: TRL's SFTConfig plus MetaAlign's model, data, LoRA and precision fields.

Owns the SFT defaults that differ from TRL's (LoRA-sized learning rate, padding-free batches,
hardware-chosen precision). Every TRL field keeps its name and meaning; none is re-declared.
"""

from __future__ import annotations

from dataclasses import dataclass

from trl import SFTConfig

from metaalign.train.fields import MetaAlignFields

# Defaults that differ from TRL's, applied only where the user left TRL's default in place.
SFT_DEFAULTS = {
    "learning_rate": 3e-4,  # LoRA on a 135M model learns format preferences fast at this rate
    "per_device_train_batch_size": 8,
    "num_train_epochs": 2.0,
    "padding_free": True,
    "logging_steps": 5,
    "save_steps": 50,
    "save_total_limit": 2,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.05,
    "max_length": 1024,
    "report_to": "none",
}


@dataclass
class MetaAlignSFTConfig(MetaAlignFields, SFTConfig):
    """SFT on MetaAlign SFT records (see `metaalign.train.sft_trainer`)."""

    def __post_init__(self) -> None:
        self._metaalign_post_init()
        super().__post_init__()
