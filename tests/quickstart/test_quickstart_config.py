from __future__ import annotations

from pathlib import Path

import pytest

from metaalign.errors import RecordError
from metaalign.quickstart.config import DEFAULT_CONFIG, FAST_CONFIG, load_quickstart_config


@pytest.mark.parametrize("path", [DEFAULT_CONFIG, FAST_CONFIG])
def test_packaged_configs_load_and_are_headed_by_their_command(path: Path) -> None:
    config = load_quickstart_config(path)
    assert config.model == "smollm2-135m"
    assert path.read_text().splitlines()[0].startswith("# metaalign quickstart")


def test_sections_reach_their_stages(tmp_path: Path) -> None:
    from metaalign.build.build_config import BuildConfig
    from metaalign.quickstart.pipeline import Layout, train_values
    from metaalign.train.two_stage_pipeline import split_config

    config = load_quickstart_config(FAST_CONFIG)
    layout = Layout(tmp_path)
    BuildConfig.model_validate({**config.build, "output_dir": str(layout.build)})
    sft, dpo, sample, judge = split_config(train_values(config, layout))
    assert sft["train_file"] == str(tmp_path / "build" / "sft_train.jsonl")
    assert sample["prompts_file"] == str(tmp_path / "build" / "dpo_train.jsonl")
    assert dpo["train_file"] == str(tmp_path / "train" / "pairs.jsonl") and judge is None


def test_a_bad_field_names_the_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "q.yaml"
    bad.write_text("model: smollm2-135m\nseed: 0\neval:\n  limit: -3\n")
    with pytest.raises(RecordError) as err:
        load_quickstart_config(bad)
    assert str(err.value).startswith(f"{bad}:4") and "eval.limit" in str(err.value)


def test_an_unknown_section_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "q.yaml"
    bad.write_text("model: smollm2-135m\ntrian: {}\n")
    with pytest.raises(RecordError, match="trian"):
        load_quickstart_config(bad)


def test_quickstart_is_build_then_two_stages_stages_then_export_and_eval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import metaalign.train.two_stage_pipeline as two_stage
    from metaalign.quickstart.pipeline import stages

    calls: list[int] = []
    real = two_stage.split_config
    monkeypatch.setattr(two_stage, "split_config", lambda config: calls.append(1) or real(config))
    names = [s.name for s in stages(load_quickstart_config(FAST_CONFIG), tmp_path)]
    assert names == ["build", "sft", "on-policy", "dpo", "export", "eval-base", "eval-metaaligned"]
    assert calls == [1]  # the two-stage config is split once, by two-stage itself
