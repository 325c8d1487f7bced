"""The one stage runner: ordered stages, each run once, skipped on a re-run, refused when changed.

Owns the resume rule every multi-stage command follows (quickstart, two-stage): a stage is
skipped when its marker holds the fingerprint of its inputs and settings; a marker with another
fingerprint is refused, never silently reused. Also the markers (written atomically after a
stage finishes, by the main process only) and timing. It does not own what a stage does, nor the
partial work inside one (SQLite store, checkpoints, JSONL logs): those resume themselves.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError

Summary = Mapping[str, Any]
CHUNK = 1 << 20


def fingerprint(value: Any) -> str:
    """A short, stable hash of a JSON-ready value (keys sorted; other objects by their str)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """The sha256 of a file's bytes, or of a folder's files and their relative names (a datasets
    folder); a missing path is an error naming it."""
    path = Path(path)
    if not path.exists():
        raise MetaAlignError(f"{path}: no such input file")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(path)).encode() if file != path else b"")
        with open(file, "rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Stage:
    """One step: `run()` does the work and returns a JSON-ready summary.

    `settings` are what its result depends on (JSON-ready, no paths of the work folder); `inputs`
    are files it reads that no earlier stage of the same run makes (their bytes count). The
    previous stage's fingerprint counts too, so a stage is never reused over a changed upstream.
    `main_only`: under several processes, rank 0 runs it and the others wait for its marker.
    """

    name: str
    title: str
    run: Callable[[], Summary]
    settings: Mapping[str, Any] = field(default_factory=dict)
    inputs: Sequence[str | Path] = ()
    main_only: bool = False

    def fingerprint(self, upstream: str = "") -> str:
        files = {str(p): file_digest(p) for p in self.inputs}
        return fingerprint({"settings": self.settings, "inputs": sorted(files.values()), "after": upstream})


def marker_path(marker_dir: Path, name: str) -> Path:
    return Path(marker_dir) / f"{name}.json"


def read_marker(path: Path, stage: Stage, expected: str) -> dict[str, Any] | None:
    """The finished record at `path` if it holds `expected`; None when there is none.

    A marker made with other inputs or settings raises: reusing it would mix two configurations.
    """
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        made = record["fingerprint"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise MetaAlignError(
            f"{path}:1: not a metaalign stage marker; delete it to rerun '{stage.name}'"
        ) from None
    if made != expected:
        raise MetaAlignError(
            f"{path}: stage '{stage.name}' finished earlier with other settings or inputs "
            f"(fingerprint {made}, now {expected}); use another work folder, or delete "
            f"{path.parent.parent} to start over"
        )
    return record


def _wait_for(path: Path, stage: Stage, expected: str) -> dict[str, Any]:
    from metaalign.train.distributed import run_once

    run_once(stage.title, lambda: None, lambda: path.exists())
    record = read_marker(path, stage, expected)
    assert record is not None  # the wait ends once the marker exists
    return record


def run_stages(
    stages: Sequence[Stage], marker_dir: Path, *, log: Callable[[str], None] = print
) -> dict[str, dict[str, Any]]:
    """Runs the stages in order, skipping those whose marker matches. Returns name -> marker record."""
    from metaalign.records.writing import atomic_write_text
    from metaalign.train.distributed import is_main

    done: dict[str, dict[str, Any]] = {}
    upstream, total = "", len(stages)
    for number, stage in enumerate(stages, 1):
        expected = stage.fingerprint(upstream)
        upstream = expected
        marker = marker_path(marker_dir, stage.name)
        record = read_marker(marker, stage, expected)
        if record is not None:
            done[stage.name] = record
            log(f"[{number}/{total}] {stage.title}: done in an earlier run, skipped")
            continue
        if stage.main_only and not is_main():
            done[stage.name] = _wait_for(marker, stage, expected)
            continue
        log(f"[{number}/{total}] {stage.title} ...")
        start = time.perf_counter()
        summary = dict(stage.run())
        seconds = round(time.perf_counter() - start, 1)
        record = {"stage": stage.name, "seconds": seconds, "fingerprint": expected, "summary": summary}
        if is_main():
            marker.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(marker, json.dumps(record, indent=2, sort_keys=True) + "\n")
        done[stage.name] = record
        log(f"[{number}/{total}] {stage.title}: done in {seconds:.0f} s")
    return done
