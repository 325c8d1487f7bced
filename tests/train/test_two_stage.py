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
