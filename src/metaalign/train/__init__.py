"""Training: SFT and DPO on TRL + PEFT, the two-stage recipe, and LoRA export.

Owns the public Python API below; the names are loaded on first use so that importing
`metaalign.train` (e.g. from the CLI) pulls in no torch or TRL. Rendering is the renderer's,
records are metaalign.records', annotation rules are metaalign.preferences'.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "train_sft": "metaalign.train.run",
    "train_dpo": "metaalign.train.run",
    "sft_config": "metaalign.train.configs",
    "dpo_config": "metaalign.train.configs",
    "two_stage": "metaalign.train.two_stage_pipeline",
    "export_model": "metaalign.train.merge_export",
    "MetaAlignSFTConfig": "metaalign.train.configs",
    "MetaAlignDPOConfig": "metaalign.train.configs",
    "MetaAlignSFTTrainer": "metaalign.train.sft_trainer",
    "MetaAlignDPOTrainer": "metaalign.train.dpo_trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'metaalign.train' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
