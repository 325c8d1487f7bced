"""`metaalign build` on the command line, and one toy build with the real embedded model (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from build_toy import toy_values

from metaalign.cli.main import main
from metaalign.records import read_records


def _recipe(tmp_path: Path, **extra: object) -> Path:
    data: dict = {}
    for key, value in toy_values(tmp_path / "out", **extra).items():
        *parents, last = key.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cli_builds_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = _recipe(tmp_path)
    assert main(["build", "--config", str(recipe), "--meta_prompts", "3", "--no-progress"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "deprecated" not in captured.err
    assert "sft_train: 39 records" in out  # 13 train instructions x 3 meta-prompts
    assert f"wrote {tmp_path / 'out' / 'dpo_train.jsonl'}" in out
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["files"]["sft_train"]["total"] == 39


def test_the_deprecated_set_alias_still_works_and_says_so(tmp_path: Path, capsys) -> None:
    recipe = _recipe(tmp_path)
    assert main(["build", "--config", str(recipe), "--set", "meta_prompts=2", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "sft_train: 26 records" in captured.out  # the override took effect: 13 x 2
    assert "`--set meta_prompts=2` is deprecated" in captured.err and "--meta_prompts 2" in captured.err


def test_a_bad_override_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = _recipe(tmp_path)
    assert main(["build", "--config", str(recipe), "--candidates", "many"]) == 2
    assert "override candidates=many: field 'candidates'" in capsys.readouterr().err
    assert main(["build", "--config", str(recipe), "--candidatez", "2"]) == 2
    assert "field 'candidatez': an unknown setting" in capsys.readouterr().err


def test_cli_reports_a_bad_recipe_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("seed: 0\ncandidates: 2\npolicy:\n  batch_size: -1\n")
    assert main(["build", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert f"{recipe}:4: field 'policy.batch_size'" in err
    assert not (tmp_path / "runs").exists()


def test_cli_reports_a_bad_instruction_file_before_work(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "mine.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": "", "category": "x"}\n')
    recipe = _recipe(tmp_path)
    assert main(["build", "--config", str(recipe), "--instructions", str(bad)]) == 2
    assert f"{bad}:2: field 'text'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_fresh_starts_over(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path)
    assert main(["build", "--config", str(recipe), "--no-progress"]) == 0
    assert main(["build", "--config", str(recipe), "--seed", "5", "--no-progress"]) == 2  # other config
    assert main(["build", "--config", str(recipe), "--seed", "5", "--fresh", "--no-progress"]) == 0


@pytest.mark.slow
def test_toy_build_with_the_embedded_model(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(1)
    recipe = _recipe(
        tmp_path,
        instructions_train=2,
        instructions_test=1,
        meta_prompts=2,
        candidates=1,
        **{"policy.backend": "local", "policy.max_new_tokens": 40, "policy.threads": 1},
    )
    assert main(["build", "--config", str(recipe), "--no-progress"]) == 0
    sft = read_records(tmp_path / "out" / "sft_train.jsonl").records
    assert len(sft) == 4
    store = json.loads((tmp_path / "out" / "stats.json").read_text())["store"]
    assert store["candidates"]["total"] == 3 and store["candidates"]["mean_completion_tokens"] > 0
    assert store["verifier"]["verified"] == store["verifier"]["responses"]
