"""Two-stage wiring: sections become stage configs, prompts are deduplicated, bad configs say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaalign.records import PreferenceRecord
from metaalign.train.config_io import ConfigError
from metaalign.train.two_stage_pipeline import split_config, unique_prompts


def test_sections_become_stage_configs(tmp_path: Path) -> None:
    config = {"model": "smollm2-135m", "output_dir": str(tmp_path), "seed": 3,
              "sft": {"train_file": "sft.jsonl", "max_steps": 2}, "dpo": {"beta": 0.2},
              "sample": {"prompts_file": "p.jsonl", "k": 2}}  # fmt: skip
    sft, dpo, sample, judge = split_config(config)
    assert sft == {"model": "smollm2-135m", "seed": 3, "train_file": "sft.jsonl", "max_steps": 2,
                   "output_dir": str(tmp_path / "sft")}  # fmt: skip
    # DPO trains the merged SFT model on the annotated on-policy pairs
    pairs, merged = str(tmp_path / "pairs.jsonl"), str(tmp_path / "sft-merged")
    assert dpo == {
        "seed": 3,
        "beta": 0.2,
        "output_dir": str(tmp_path / "dpo"),
        "train_file": pairs,
        "model": merged,
    }
    assert sample == {"prompts_file": "p.jsonl", "k": 2} and judge is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"output_dir": "x", "smaple": {}}, "unknown field 'smaple'; did you mean sample"),
        ({"output_dir": "x", "sample": {"prompts_file": "p", "kk": 2}}, "unknown field 'kk'"),
        ({"output_dir": "x", "sample": {}}, "sample.prompts_file"),
        ({"sample": {"prompts_file": "p"}}, "output_dir is required"),
    ],
)
def test_bad_configs_name_the_problem(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        split_config(config)


def test_one_prompt_per_meta_prompt_and_dialogue() -> None:
    def rec(rid: str, user_info: str) -> PreferenceRecord:
        prompt = [{"role": "user", "content": "Q"}]
        return PreferenceRecord(
            id=rid, system_info="S", user_info=user_info, prompt=prompt, chosen="a", rejected="b"
        )

    got = unique_prompts([rec("1", "U"), rec("2", "U"), rec("3", "V")])
    assert [r.id for r in got] == ["1", "3"]


def _config(tmp_path: Path, **dpo: object) -> dict:
    (tmp_path / "sft.jsonl").write_text('{"id": "s"}\n')
    (tmp_path / "p.jsonl").write_text('{"id": "p"}\n')
    return {"model": "smollm2-135m", "output_dir": str(tmp_path / "run"), "seed": 0, "threads": 1,
            "sft": {"train_file": str(tmp_path / "sft.jsonl"), "max_steps": 2},
            "sample": {"prompts_file": str(tmp_path / "p.jsonl"), "k": 2},
            "dpo": {"beta": 0.1, **dpo}}  # fmt: skip


def test_two_stage_is_three_stages_with_their_inputs(tmp_path: Path) -> None:
    from metaalign.train.two_stage_pipeline import two_stage_stages

    stages = two_stage_stages(_config(tmp_path))
    assert [s.name for s in stages] == ["sft", "on-policy", "dpo"]
    assert [s.main_only for s in stages] == [False, True, False]  # rank 0 alone samples and annotates
    assert stages[0].inputs == (str(tmp_path / "sft.jsonl"),)
    assert stages[1].inputs == (str(tmp_path / "p.jsonl"),)
    # paths and thread counts are not settings: the same run in another folder has the same fingerprints
    other = two_stage_stages({**_config(tmp_path), "output_dir": str(tmp_path / "elsewhere"), "threads": 2})
    assert [s.fingerprint() for s in stages] == [s.fingerprint() for s in other]


@pytest.fixture
def fake_training(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """train_sft, export, annotation and train_dpo replaced by recorders (no model is loaded)."""
    import metaalign.train.run as run
    import metaalign.train.two_stage_pipeline as pipeline

    calls: list[str] = []

    def train(kind: str):
        def fake(values: dict) -> Path:
            calls.append(kind)
            Path(values["output_dir"]).mkdir(parents=True, exist_ok=True)
            return Path(values["output_dir"])

        return fake

    def annotate(out: Path, sample: dict, judge, merged: Path) -> Path:
        calls.append("on-policy")
        (out / "annotation.json").write_text('{"pairs": 1}')
        return out / "pairs.jsonl"

    monkeypatch.setattr(run, "train_sft", train("sft"))
    monkeypatch.setattr(run, "train_dpo", train("dpo"))
    monkeypatch.setattr(pipeline, "export_once", lambda run_dir, target: target)
    monkeypatch.setattr(pipeline, "annotate_stage", annotate)
    return calls


def test_two_stage_resumes_through_the_runner_and_refuses_a_changed_section(
    tmp_path: Path, fake_training: list[str]
) -> None:
    import json

    from metaalign.errors import MetaAlignError
    from metaalign.train.two_stage_pipeline import two_stage

    out = two_stage(_config(tmp_path))
    assert fake_training == ["sft", "on-policy", "dpo"]
    assert json.loads((out / "metaalign_run.json").read_text())["status"] == "done"
    assert sorted(p.name for p in (out / "stages").iterdir()) == ["dpo.json", "on-policy.json", "sft.json"]
    fake_training.clear()
    two_stage(_config(tmp_path))
    assert fake_training == []  # every stage skipped
    with pytest.raises(MetaAlignError, match="stage 'dpo' finished earlier with other settings"):
        two_stage(_config(tmp_path, beta=0.3))
    assert fake_training == []


def test_without_on_policy_sampling_the_stratified_prompts_keep_their_build_pairs(
    tmp_path: Path, write_fixture_records
) -> None:
    import json

    from metaalign.records import read_records
    from metaalign.train.two_stage_pipeline import annotate_stage

    prompts = write_fixture_records(tmp_path / "p.jsonl", "preference")
    records = read_records(prompts, "preference").records
    sample = {"prompts_file": str(prompts), "max_prompts": 2, "on_policy": False}
    # no engine is loaded: the merged model folder does not even exist
    pairs_path = annotate_stage(tmp_path, sample, None, tmp_path / "no-model")
    pairs = read_records(pairs_path, "preference").records
    assert len(pairs) == 2 and all(p in records for p in pairs)  # the build's own pairs, unchanged
    assert not (tmp_path / "samples.jsonl").exists()
    assert json.loads((tmp_path / "annotation.json").read_text()) == {
        "prompts": 2, "on_policy": 0, "off_policy": 0, "judged": 0, "from_build": 2, "skipped": {}
    }  # fmt: skip


def test_a_kind_weight_naming_no_prompts_kind_is_reported(
    tmp_path: Path, write_fixture_records, caplog
) -> None:
    from metaalign.records import read_records
    from metaalign.train.two_stage_pipeline import annotate_stage

    prompts = write_fixture_records(tmp_path / "p.jsonl", "preference")
    sample = {
        "prompts_file": str(prompts),
        "max_prompts": 2,
        "on_policy": False,
        "kind_weights": {"conflcit": 2},
    }
    with caplog.at_level("WARNING", logger="metaalign.train"):
        pairs_path = annotate_stage(tmp_path, sample, None, tmp_path / "no-model")
    assert "sample.kind_weights.conflcit: no DPO prompt has this kind" in caplog.text
    assert len(read_records(pairs_path, "preference").records) == 2  # the other kinds weigh 1 as before
