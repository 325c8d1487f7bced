"""run_log: a resumed run's log holds each step once; the manifest is replaced whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import TrainerControl, TrainerState

from metaalign.records import io
from metaalign.train.run_log import JsonlLogCallback, read_log, read_manifest, write_manifest


def _log_steps(callback: JsonlLogCallback, state: TrainerState, steps: range) -> None:
    for step in steps:
        state.global_step = step
        callback.on_log(None, state, TrainerControl(), logs={"loss": 1.0 / step})


def test_resume_drops_rows_logged_after_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "train_log.jsonl"
    callback = JsonlLogCallback(path)
    first = TrainerState()
    callback.on_train_begin(None, first, TrainerControl())
    _log_steps(callback, first, range(1, 8))  # checkpoint at step 4, killed after logging step 7 ...
    with path.open("a") as f:
        f.write('{"step": 8, "lo')  # ... in the middle of writing step 8

    resumed = TrainerState(global_step=4)  # what Trainer loads from checkpoint-4
    callback.on_train_begin(None, resumed, TrainerControl())
    assert [r["step"] for r in read_log(path)] == [1, 2, 3, 4]
    _log_steps(callback, resumed, range(5, 9))
    rows = read_log(path)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6, 7, 8]  # each step once
    assert rows[4]["loss"] == pytest.approx(1 / 5)
    assert all(line.endswith("}") for line in path.read_text().splitlines())  # the torn line is gone

    callback.on_train_begin(None, TrainerState(), TrainerControl())  # a run started afresh
    assert read_log(path) == []


def test_read_log_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "train_log.jsonl"
    path.write_text('{"step": 1, "loss": 2.0}\n\n{"step": 2, "lo')
    assert read_log(path) == [{"step": 1, "loss": 2.0}]
    assert read_log(tmp_path / "missing.jsonl") == []


def test_manifest_is_replaced_whole(tmp_path: Path, monkeypatch) -> None:
    write_manifest(tmp_path, status="running", global_step=3)
    assert read_manifest(tmp_path) == {"status": "running", "global_step": 3}

    def killed(*args):
        raise KeyboardInterrupt  # a kill after the new text is written, before it replaces the old

    monkeypatch.setattr(io.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_manifest(tmp_path, status="done", global_step=9)
    kept = json.loads((tmp_path / "metaalign_run.json").read_text())
    assert kept == {"status": "running", "global_step": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["metaalign_run.json"]
