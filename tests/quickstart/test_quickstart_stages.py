from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaalign.errors import MetaAlignError
from metaalign.quickstart.stages import Stage, marker_path, run_stages


def _stages(calls: list[str], fail_at: str | None = None, lr: float = 1e-4) -> list[Stage]:
    def make(name: str) -> Stage:
        def run(workdir: Path) -> dict:
            calls.append(name)
            if name == fail_at:
                raise RuntimeError("killed")
            (workdir / f"{name}.out").write_text(name)
            return {"rows": len(calls)}

        return Stage(name, name.upper(), run, {"name": name, "lr": lr})

    return [make(n) for n in ("build", "sft", "eval")]


def test_runs_in_order_and_records_each_summary(tmp_path: Path) -> None:
    calls: list[str] = []
    done = run_stages(_stages(calls), tmp_path, log=lambda _: None)
    assert calls == ["build", "sft", "eval"]
    assert [done[n]["summary"]["rows"] for n in calls] == [1, 2, 3]
    marker = json.loads(marker_path(tmp_path, "sft").read_text())
    assert marker["stage"] == "sft" and marker["seconds"] >= 0


def test_a_failed_stage_leaves_no_marker_and_the_rerun_skips_only_finished_ones(tmp_path: Path) -> None:
    calls: list[str] = []
    with pytest.raises(RuntimeError):
        run_stages(_stages(calls, fail_at="sft"), tmp_path, log=lambda _: None)
    assert not marker_path(tmp_path, "sft").exists()
    calls.clear()
    lines: list[str] = []
    done = run_stages(_stages(calls), tmp_path, log=lines.append)
    assert calls == ["sft", "eval"]
    assert "skipped" in lines[0] and set(done) == {"build", "sft", "eval"}


def test_a_stage_finished_with_other_settings_is_refused_not_reused(tmp_path: Path) -> None:
    run_stages(_stages([]), tmp_path, log=lambda _: None)
    calls: list[str] = []
    with pytest.raises(MetaAlignError, match="stage 'build' finished earlier with other settings"):
        run_stages(_stages(calls, lr=3e-4), tmp_path, log=lambda _: None)
    assert calls == []  # nothing ran, nothing was overwritten
