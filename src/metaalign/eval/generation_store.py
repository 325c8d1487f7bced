"""Generations persisted as they complete: one JSONL file per evaluated system, resumable.

Owns the file layout (a header line with the settings, then one line per case) and resuming:
a killed run keeps every finished line and refuses to mix generations made with other settings.
Durability (fsync, a torn last line dropped) is metaalign.appendlog's. It does not generate or score.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from metaalign.appendlog import AppendLog
from metaalign.errors import MetaAlignError

HEADER_KEY = "metaalign_generations"


class GenerationStore:
    """`path` holds `{"metaalign_generations": settings}` then `{"case_id", "text", ...}` lines."""

    def __init__(self, path: str | os.PathLike[str], settings: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.settings = dict(settings)
        self.done: dict[str, dict[str, Any]] = {}
        self.log = AppendLog(self.path)
        if self.log.exists():
            self._resume()
        else:
            self.log.append([{HEADER_KEY: self.settings}])

    def _resume(self) -> None:
        lines = self.log.reopen()
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
        for number, row in enumerate(self.log.rows("a generation line", first_line=2), start=2):
            if "case_id" not in row:
                raise MetaAlignError(f"{self.path}:{number}: not a generation line (no case_id)")
            self.done[row["case_id"]] = row

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add finished generations and flush them to disk before returning."""
        rows = list(rows)
        self.log.append(rows)
        for row in rows:
            self.done[row["case_id"]] = dict(row)


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    return ", ".join(
        f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in keys if old.get(k) != new.get(k)
    )
