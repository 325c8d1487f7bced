"""Helpers of the build tests: a small instruction file and library, and toy build settings."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
INSTRUCTIONS = DATA / "instructions.jsonl"
LIBRARY = DATA / "library.yaml"


def toy_values(out: Path, **extra: object) -> dict[str, object]:
    """Dotted settings of a toy build: 12 train + 4 test instructions, fake policy, no bars."""
    return {
        "output_dir": str(out),
        "instructions": str(INSTRUCTIONS),
        "library": str(LIBRARY),
        "instructions_train": 0,
        "instructions_test": 4,
        "meta_prompts": 4,
        "candidates": 2,
        "progress": False,
        "policy.backend": "fake",
        "policy.batch_size": 4,
        **extra,
    }
