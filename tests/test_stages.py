"""The stage runner's one resume rule: skip on the same fingerprint, refuse a changed one, rerun a
stage that did not finish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaalign.errors import MetaAlignError
from metaalign.stages import Stage, fingerprint, marker_path, run_stages


def _stages(
    calls: list[str], workdir: Path, fail_at: str | None = None, lr: float = 1e-4, inputs=()
) -> list[Stage]:
    def make(name: str) -> Stage:
        def run() -> dict:
            calls.append(name)
            if name == fail_at:
                raise RuntimeError("killed")
            (workdir / f"{name}.out").write_text(name)
            return {"rows": len(calls)}

        settings = {"name": name, "lr": lr if name == "sft" else None}
        return Stage(name, name.upper(), run, settings, inputs=inputs if name == "build" else ())

    return [make(n) for n in ("build", "sft", "eval")]


def _quiet(_: str) -> None:
    pass


def test_runs_in_order_and_records_each_summary(tmp_path: Path) -> None:
    calls: list[str] = []
    done = run_stages(_stages(calls, tmp_path), tmp_path / "stages", log=_quiet)
    assert calls == ["build", "sft", "eval"]
    assert [done[n]["summary"]["rows"] for n in calls] == [1, 2, 3]
    marker = json.loads(marker_path(tmp_path / "stages", "sft").read_text())
    assert marker["stage"] == "sft" and marker["seconds"] >= 0 and marker["summary"] == {"rows": 2}


def test_the_same_fingerprint_is_skipped(tmp_path: Path) -> None:
    run_stages(_stages([], tmp_path), tmp_path / "stages", log=_quiet)
    calls: list[str] = []
    lines: list[str] = []
    done = run_stages(_stages(calls, tmp_path), tmp_path / "stages", log=lines.append)
    assert calls == []
    assert sum("done in an earlier run, skipped" in line for line in lines) == 3
    assert done["eval"]["summary"] == {"rows": 3}  # the earlier run's record


def test_a_stage_killed_midway_leaves_no_marker_and_reruns(tmp_path: Path) -> None:
    calls: list[str] = []
    with pytest.raises(RuntimeError):
        run_stages(_stages(calls, tmp_path, fail_at="sft"), tmp_path / "stages", log=_quiet)
    assert not marker_path(tmp_path / "stages", "sft").exists()
    calls.clear()
    lines: list[str] = []
    done = run_stages(_stages(calls, tmp_path), tmp_path / "stages", log=lines.append)
    assert calls == ["sft", "eval"]
    assert "skipped" in lines[0] and set(done) == {"build", "sft", "eval"}


def test_a_changed_setting_is_refused_not_reused(tmp_path: Path) -> None:
    run_stages(_stages([], tmp_path), tmp_path / "stages", log=_quiet)
    calls: list[str] = []
    with pytest.raises(MetaAlignError, match="stage 'sft' finished earlier with other settings"):
        run_stages(_stages(calls, tmp_path, lr=3e-4), tmp_path / "stages", log=_quiet)
    assert calls == []  # build was skipped, sft refused before running, nothing overwritten


def test_a_changed_input_file_is_refused_and_so_is_everything_after_it(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text('{"a": 1}\n')
    run_stages(_stages([], tmp_path, inputs=(data,)), tmp_path / "stages", log=_quiet)
    data.write_text('{"a": 2}\n')
    with pytest.raises(MetaAlignError, match="stage 'build' finished earlier"):
        run_stages(_stages([], tmp_path, inputs=(data,)), tmp_path / "stages", log=_quiet)
    # a hand-deleted upstream marker does not let a later stage be reused over the new input
    marker_path(tmp_path / "stages", "build").unlink()
    calls: list[str] = []
    with pytest.raises(MetaAlignError, match="stage 'sft' finished earlier"):
        run_stages(_stages(calls, tmp_path, inputs=(data,)), tmp_path / "stages", log=_quiet)
    assert calls == ["build"]


def test_a_missing_input_and_a_foreign_marker_name_their_file(tmp_path: Path) -> None:
    with pytest.raises(MetaAlignError, match=r"nope\.jsonl: no such input file"):
        run_stages(_stages([], tmp_path, inputs=(tmp_path / "nope.jsonl",)), tmp_path / "s", log=_quiet)
    marker = marker_path(tmp_path / "s", "build")
    marker.parent.mkdir(parents=True)
    marker.write_text("not json")
    with pytest.raises(MetaAlignError, match=r"build\.json:1: not a metaalign stage marker"):
        run_stages(_stages([], tmp_path), tmp_path / "s", log=_quiet)


def test_fingerprints_ignore_key_order_and_see_every_value() -> None:
    assert fingerprint({"a": 1, "b": [2]}) == fingerprint({"b": [2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert len(fingerprint({})) == 16


def test_other_ranks_wait_for_a_main_only_stage_and_write_no_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    stages = [Stage("x", "X", lambda: calls.append("x") or {"n": 1}, main_only=True),
              Stage("y", "Y", lambda: calls.append("y") or {"n": 2})]  # fmt: skip
    run_stages(stages, tmp_path / "stages", log=_quiet)  # rank 0 made both markers
    (tmp_path / "stages" / "y.json").unlink()
    monkeypatch.setenv("RANK", "1")
    calls.clear()
    done = run_stages(stages, tmp_path / "stages", log=_quiet)
    assert calls == ["y"]  # x: rank 1 found rank 0's marker; y runs on every rank
    assert done["x"]["summary"] == {"n": 1}
    assert not (tmp_path / "stages" / "y.json").exists()  # only rank 0 writes markers
