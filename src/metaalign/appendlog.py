"""The one durable append-only JSONL log that every resumable run keeps (eval generations, judge
verdicts, two-stage samples).

Owns the rule: rows are written, flushed and fsynced before `append` returns; reopening cuts a
half-written last line (a kill mid-write) off the file, so appending starts on a fresh line and
nothing finished is lost or duplicated; any other bad line is an error naming file and line.
It does not own what a row means or which rows are done: each caller keys its own rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError


def drop_partial_line(path: str | os.PathLike[str]) -> str:
    """Cut a half-written last line (a kill mid-write) off `path`; returns the whole lines kept."""
    path = Path(path)
    raw = path.read_bytes()
    keep = raw[: raw.rfind(b"\n") + 1]
    if len(keep) != len(raw):
        with open(path, "r+b") as handle:
            handle.truncate(len(keep))
    return keep.decode("utf-8")


class AppendLog:
    """A JSONL file at `path` that only grows, one JSON object per line."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def reopen(self) -> list[str]:
        """The file's whole lines, after cutting a torn last line off it; [] when there is no file."""
        return drop_partial_line(self.path).splitlines() if self.path.exists() else []

    def rows(self, what: str, *, first_line: int = 1) -> Iterator[dict[str, Any]]:
        """Every whole line from `first_line` on, parsed (after `reopen`).

        A line that is not a JSON object raises MetaAlignError `path:line: not <what>`.
        """
        for number, line in enumerate(self.reopen(), start=1):
            if number < first_line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if not isinstance(row, dict):
                raise MetaAlignError(f"{self.path}:{number}: not {what}")
            yield row

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Write `rows`, one line each, and flush them to disk (fsync) before returning."""
        text = "".join(json.dumps(dict(row), ensure_ascii=False) + "\n" for row in rows)
        if not text:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
