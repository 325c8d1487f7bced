"""run_log: the manifest is replaced whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaalign.records import io
from metaalign.train.run_log import read_manifest, write_manifest


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
