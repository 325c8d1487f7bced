"""Seed user queries: `Instruction` and `load_instructions()` (JSONL, file:line:field errors).

Owns the instruction file format (one JSON object per line: id, text, category, split; see
docs/preferences.md). Does not own how instructions are paired with preferences (the build stage).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from metaalign.errors import RecordError

INSTRUCTIONS_FILE = Path(__file__).parent / "data" / "instructions.jsonl"
CATEGORIES = (
    "advice",
    "explanation",
    "howto",
    "opinion",
    "creative",
    "coding",
    "harmful_probe",
    "factual",
    "planning",
)
_FIELDS = ("id", "text", "category", "split")


@dataclass(frozen=True)
class Instruction:
    """One seed user query. Files of your own may omit id (then `<file stem>-<line>`), category
    ("general") and split ("train")."""

    id: str
    text: str
    category: str
    split: Literal["train", "test"]


def _parse(source: Path, lineno: int, raw: str) -> Instruction | None:
    where = str(source)
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise RecordError(where, lineno, None, f"valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(data, dict):
        raise RecordError(where, lineno, None, "a JSON object with 'text' (and id, category, split)")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise RecordError(where, lineno, unknown[0], "not an instruction field (id, text, category, split)")
    data.setdefault("id", f"{source.stem}-{lineno}")
    data.setdefault("category", "general")
    data.setdefault("split", "train")
    for field in ("id", "text", "category"):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            raise RecordError(where, lineno, field, "a non-empty string")
    if data["split"] not in ("train", "test"):
        raise RecordError(where, lineno, "split", "'train' or 'test'")
    return Instruction(data["id"], data["text"].strip(), data["category"], data["split"])


def load_instructions(path: str | Path | None = None) -> list[Instruction]:
    """The instructions of a JSONL file (default: the packaged seed instructions), in file order."""
    source = Path(path) if path is not None else INSTRUCTIONS_FILE
    try:
        raw_lines = source.read_text(encoding="utf-8-sig").split("\n")
    except FileNotFoundError:
        raise RecordError(str(source), None, None, "an existing JSONL file") from None
    except UnicodeDecodeError as err:
        raise RecordError(str(source), None, None, f"UTF-8 text ({err.reason})") from None
    out: list[Instruction] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(raw_lines, start=1):
        inst = _parse(source, lineno, raw)
        if inst is None:
            continue
        if inst.id in seen:
            raise RecordError(
                str(source), lineno, "id", f"a unique id ({inst.id!r} is also on line {seen[inst.id]})"
            )
        seen[inst.id] = lineno
        out.append(inst)
    return out
