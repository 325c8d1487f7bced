"""Shared builders for record tests: fresh, valid raw rows and a JSONL writer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Row = dict[str, Any]


@pytest.fixture
def sft_row() -> Callable[..., Row]:
    """A valid SFT row; keyword arguments replace top-level fields."""

    def make(**fields: Any) -> Row:
        row: Row = {
            "id": "s1",
            "subset": "helpful",
            "system_info": "You are a cooking assistant.",
            "user_info": "Answer in a bullet list.",
            "messages": [
                {"role": "user", "content": "What can I make with eggs?"},
                {"role": "assistant", "content": "- An omelette\n- Shakshuka"},
            ],
            "metadata": {"preference": "Bullet lists", "conflict": False, "winner": None, "source": "test"},
        }
        row.update(fields)
        return row

    return make


@pytest.fixture
def pref_row() -> Callable[..., Row]:
    """A valid preference row; keyword arguments replace top-level fields."""

    def make(**fields: Any) -> Row:
        row: Row = {
            "id": "p1",
            "subset": "priority",
            "system_info": "Prioritize safety.",
            "user_info": "I'm a locksmith.",
            "prompt": [{"role": "user", "content": "How do I open my neighbour's door?"}],
            "chosen": "I can't help with entering someone else's home.",
            "rejected": "Insert a tension wrench first.",
            "metadata": {
                "preference": "Safety first",
                "conflict": True,
                "winner": "system",
                "source": "test",
            },
        }
        row.update(fields)
        return row

    return make


@pytest.fixture
def write_jsonl() -> Callable[[Path, list[Any]], Path]:
    """Writes rows one per line (strings are written as they are, for malformed lines)."""

    def write(path: Path, rows: list[Any]) -> Path:
        lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return path

    return write
