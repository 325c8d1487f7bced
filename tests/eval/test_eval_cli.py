"""The eval commands end to end on the embedded model (tiny runs) and against the fake judge server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaalign.cli.main import main
from metaalign.endpoints import FakeOpenAIServer
from metaalign.records import SFTRecord, write_records


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_verifiable_with_a_baseline_then_compare(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    args = ["eval", "verifiable", "--model", "smollm2-135m", "--baseline", "base-no-meta", "--limit", "4"]
    assert main([*args, "--max-new-tokens", "8", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert [s["name"] for s in report["systems"]] == ["smollm2-135m", "base-no-meta"]
    assert [s["info"]["cases"] for s in report["systems"]] == [4, 4]
    for name in ("smollm2-135m", "base-no-meta"):
        lines = (out / "generations" / f"{name}.jsonl").read_text().splitlines()
        assert len(lines) == 1 + 4
    assert "| metric | smollm2-135m | base-no-meta |" in capsys.readouterr().out
    # a rerun generates nothing new
    assert main([*args, "--max-new-tokens", "8", "--out", str(out)]) == 0
    again = json.loads((out / "report.json").read_text())
    assert [s["info"]["resumed"] for s in again["systems"]] == [4, 4]
    assert again["systems"][0]["metrics"] == report["systems"][0]["metrics"]
    # other settings in the same folder are refused with one clear line
    assert main([*args, "--max-new-tokens", "9", "--out", str(out)]) == 2
    assert "max_new_tokens: 8 there, 9 now" in capsys.readouterr().err
    assert main(["eval", "compare", str(out), str(out), "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "report.png").exists()


@pytest.mark.slow
def test_judge_on_the_embedded_model_against_the_fake_server(tmp_path: Path) -> None:
    split = write_records(
        [
            SFTRecord(
                id=f"t{i}",
                system_info="Answer in capital letters only.",
                user_info="I'm a student.",
                messages=[{"role": "user", "content": q}, {"role": "assistant", "content": "-"}],
            )
            for i, q in enumerate(["Why is the sky blue?", "Name a fruit."])
        ],
        tmp_path / "test.jsonl",
    )
    with FakeOpenAIServer(lambda messages: "Verdict: tie") as server:
        args = ["eval", "judge", "--model", "smollm2-135m", "--baseline", "base-no-meta"]
        args += ["--test-split", str(split), "--judge-url", server.base_url, "--judge-model", "fake-judge"]
        assert main([*args, "--max-new-tokens", "8", "--out", str(tmp_path / "judge")]) == 0
        assert server.calls == 4
        bodies = [r.body for r in server.log]
    assert all(b["model"] == "fake-judge" for b in bodies)
    assert "Answer in capital letters only." in bodies[0]["messages"][-1]["content"]
    report = json.loads((tmp_path / "judge" / "report.json").read_text())
    metrics = report["systems"][0]["metrics"]
    assert metrics["win-rate"]["value"] == 0.5 and metrics["tie"]["value"] == 1.0
    assert report["info"]["judge_prompt"] == "judge.v1"


def test_bad_suite_file_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "suite.jsonl"
    bad.write_text('{"id": "x"}\n')
    args = ["eval", "verifiable", "--model", "smollm2-135m", "--suite", str(bad)]
    assert main([*args, "--out", str(tmp_path / "o")]) == 2
    assert f"{bad}:1: field 'split': present (required)" in capsys.readouterr().err


def test_compare_of_a_folder_without_a_report_is_one_clear_line(tmp_path: Path, capsys) -> None:
    assert main(["eval", "compare", str(tmp_path), "--out", str(tmp_path / "c")]) == 2
    assert "no eval report there" in capsys.readouterr().err
