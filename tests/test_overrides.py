"""One override syntax (`--field value`, `--section.field value`) for every command that takes a
config, the deprecated `--set key=value` alias, and the one settings loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaalign.errors import RecordError
from metaalign.overrides import ConfigError, apply, load_settings, parse_overrides


def test_overrides_parse_flags_pairs_and_types() -> None:
    got = parse_overrides(
        ["--learning_rate", "1e-4", "--max-steps=3", "lora_r=8", "--name", "x", "--use_peft"]
    )
    assert got == {"learning_rate": 1e-4, "max_steps": 3, "use_peft": True, "lora_r": 8, "name": "x"}
    assert parse_overrides(["--use_peft", "--lora_r", "4"]) == {"use_peft": True, "lora_r": 4}
    assert parse_overrides(["--lora_target_modules", "[q_proj, v_proj]"]) == {
        "lora_target_modules": ["q_proj", "v_proj"]
    }
    assert parse_overrides(["--sample.k", "2", "--policy.max_new_tokens=24"]) == {
        "sample.k": 2, "policy.max_new_tokens": 24,
    }  # fmt: skip
    assert parse_overrides(["--system_info", ""]) == {"system_info": ""}
    with pytest.raises(ConfigError, match="expected --field value"):
        parse_overrides(["stray"])
    with pytest.raises(ConfigError, match="'candidates': expected --field value or key=value"):
        parse_overrides(["candidates"])


def test_the_deprecated_set_alias_still_works_and_warns() -> None:
    warnings: list[str] = []
    got = parse_overrides(["--set", "policy.batch_size=8", "--set=seed=2", "--k", "4"], warn=warnings.append)
    assert got == {"policy.batch_size": 8, "seed": 2, "k": 4}
    assert len(warnings) == 2
    assert "`--set policy.batch_size=8` is deprecated" in warnings[0]
    assert "write `--policy.batch_size 8`" in warnings[0]
    with pytest.raises(ConfigError, match="--set nothing: expected key=value"):
        parse_overrides(["--set", "nothing"], warn=warnings.append)
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["--set"], warn=warnings.append)


def test_both_syntaxes_give_the_same_settings() -> None:
    new = parse_overrides(["--instructions_train", "4", "--policy.max_new_tokens", "24"])
    old = parse_overrides(["--set", "instructions_train=4", "--set", "policy.max_new_tokens=24"], warn=print)
    assert new == old


def test_dotted_keys_apply_at_any_depth_and_leave_the_input_alone() -> None:
    data = {"a": {"b": {"c": 1, "d": 2}}, "e": 3}
    got = apply(data, {"a.b.c": 9, "f.g": 4, "e": 5})
    assert got == {"a": {"b": {"c": 9, "d": 2}}, "e": 5, "f": {"g": 4}}
    assert data == {"a": {"b": {"c": 1, "d": 2}}, "e": 3}
    assert apply({"a": {"b": 1}}, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}  # a mapping merges
    assert apply({}, {"a.b": 1, "c": 2}) == {"a": {"b": 1}, "c": 2}
    with pytest.raises(ConfigError, match=r"override e\.x: 'e' is not a section"):
        apply(data, {"e.x": 1})


def test_load_settings_keeps_lines_and_the_overrides_behind_each_key(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("# metaalign build --config r.yaml\nseed: 1\npolicy:\n  batch_size: 4\n")
    settings = load_settings(path, ["--policy.batch_size", "8"], what="build settings")
    assert settings.data == {"seed": 1, "policy": {"batch_size": 8}}
    assert settings.lines == {"seed": 2, "policy": 3, "policy.batch_size": 4}
    assert settings.origin("policy.batch_size") == "policy.batch_size=8"
    assert settings.origin("seed") is None and settings.source == str(path)
    assert load_settings(None, {"a.b": 1}).data == {"a": {"b": 1}}


def test_load_settings_names_the_file_and_line_of_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("seed: 1\npolicy: [unclosed\n")
    with pytest.raises(RecordError, match=r"broken\.yaml:\d+: valid YAML"):
        load_settings(path)
    path.write_text("- a list\n")
    with pytest.raises(RecordError, match=r"broken\.yaml:1: .*a YAML mapping of quickstart settings"):
        load_settings(path, what="quickstart settings")
