"""Generations persisted as they complete: one JSONL file per evaluated system, resumable.

Owns the file layout (a header line with the settings, then one line per case) and resuming:
a killed run keeps every finished line, drops a half-written last line, and refuses to mix
generations made with other settings. It does not generate or score.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError
from metaalign.records.io import drop_partial_line

HEADER_KEY = "metaalign_generations"


class GenerationStore:
    """`path` holds `{"metaalign_generations": settings}` then `{"case_id", "text", ...}` lines."""

    def __init__(self, path: str | os.PathLike[str], settings: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.settings = dict(settings)
        self.done: dict[str, dict[str, Any]] = {}
        if self.path.exists() and self.path.stat().st_size:
            self._resume()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({HEADER_KEY: self.settings}) + "\n", encoding="utf-8")

    def _resume(self) -> None:
        lines = drop_partial_line(self.path).splitlines()
        try:
            header = json.loads(lines[0])[HEADER_KEY]
        except (IndexError, json.JSONDecodeError, KeyError, TypeError):
            raise MetaAlignError(
                f"{self.path}:1: not a metaalign generations file; use another --out"
            ) from None
        if header != self.settings:
            raise MetaAlignError(
                f"{self.path}: made with other settings ({_diff(header, self.settings)}); "
                "use another --out folder or delete this file to regenerate"
            )
        for number, line in enumerate(lines[1:], start=2):
            try:
                row = json.loads(line)
                self.done[row["case_id"]] = row
            except (json.JSONDecodeError, KeyError, TypeError):
                raise MetaAlignError(f"{self.path}:{number}: not a generation line") from None

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add finished generations and flush them to disk before returning."""
        rows = list(rows)
        with open(self.path, "a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        for row in rows:
            self.done[row["case_id"]] = dict(row)


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    return ", ".join(
        f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in keys if old.get(k) != new.get(k)
    )
