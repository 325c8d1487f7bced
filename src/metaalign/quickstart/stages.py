"""The quickstart's stage runner: ordered stages, each run once and skipped when re-run.

Owns the order, the done-markers (written atomically after a stage finishes), timing and the
summary a stage returns. It does not own what a stage does: build, train and eval do, and each
resumes its own partial work (SQLite store, checkpoints, persisted generations).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError

Summary = Mapping[str, Any]


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline: `run(workdir)` does the work and returns a JSON-ready summary.

    `settings` are what its result depends on (JSON-ready); a finished stage is reused only
    when they are unchanged.
    """

    name: str
    title: str
    run: Callable[[Path], Summary]
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.settings, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def marker_path(workdir: Path, name: str) -> Path:
    return workdir / "stages" / f"{name}.json"


def _write_marker(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run_stages(
    stages: Sequence[Stage], workdir: Path, *, log: Callable[[str], None] = print
) -> dict[str, dict[str, Any]]:
    """Runs the stages in order; a stage whose marker exists is skipped. Returns name -> marker."""
    done: dict[str, dict[str, Any]] = {}
    total = len(stages)
    for number, stage in enumerate(stages, 1):
        marker = marker_path(workdir, stage.name)
        if marker.exists():
            done[stage.name] = _reusable(json.loads(marker.read_text(encoding="utf-8")), stage, marker)
            log(f"[{number}/{total}] {stage.title}: done in an earlier run, skipped")
            continue
        log(f"[{number}/{total}] {stage.title} ...")
        start = time.perf_counter()
        summary = dict(stage.run(workdir))
        seconds = round(time.perf_counter() - start, 1)
        record = {"stage": stage.name, "seconds": seconds, "settings": stage.fingerprint, "summary": summary}
        _write_marker(marker, record)
        done[stage.name] = record
        log(f"[{number}/{total}] {stage.title}: done in {record['seconds']:.0f} s")
    return done


def _reusable(record: dict[str, Any], stage: Stage, marker: Path) -> dict[str, Any]:
    """The earlier run's record, if it was made with this stage's settings."""
    if record.get("settings") != stage.fingerprint:
        raise MetaAlignError(
            f"{marker}: stage '{stage.name}' finished earlier with other settings; "
            f"use another work folder, or delete {marker.parent.parent} to start over"
        )
    return record
