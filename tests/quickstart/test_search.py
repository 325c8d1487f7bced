"""The recipe search: variant settings (deep merge, removal), the table, and the shipped search files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from metaalign.quickstart.search import TABLE_END, TABLE_START, merged, table, variant_settings, write_table

SEARCHES = sorted((Path(__file__).resolve().parents[2] / "recipes" / "search").glob("*.yaml"))
SEARCH = {
    "model": "m",
    "build": {"meta_prompts": 8, "policy": {"max_new_tokens": 48}},
    "train": {"sft": {"learning_rate": 5e-4, "lora_r": 32}, "dpo": {"beta": 0.1}},
    "variants": {
        "base-like": {},
        "full": {"train": {"sft": {"use_peft": False, "lora_r": None}, "dpo": None}},
    },
}


def test_a_variant_overrides_mapping_by_mapping_and_null_removes() -> None:
    got = variant_settings(SEARCH, "full")
    assert got["train"] == {"sft": {"learning_rate": 5e-4, "use_peft": False}}
    assert got["build"] == SEARCH["build"] and got["model"] == "m"
    assert variant_settings(SEARCH, "base-like")["train"] == SEARCH["train"]
    assert merged({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}
    with pytest.raises(KeyError, match="unknown variant 'nope'"):
        variant_settings(SEARCH, "nope")


def test_the_table_names_changes_zero_types_and_the_rerun_command() -> None:
    result = {
        "name": "full",
        "settings": variant_settings(SEARCH, "full"),
        "figures": {"single_tier_adherence": 0.5, "conflict_accuracy": 0.25, "leakage": 0.125},
        "types": {"all_caps": 0.0, "json_object": 1.0},
        "minutes": {"train": 3.25},
    }
    text = table([result], SEARCH, "python -m metaalign.quickstart.search s.yaml")
    row = text.splitlines()[2]
    assert row.startswith("| full | 0.500 | 0.250 | 0.125 | all_caps | 3.2 |")
    assert "train.sft.use_peft=False" in row and "train.dpo removed" in row
    assert (
        "train.sft.lora_r removed" in row
        and "`python -m metaalign.quickstart.search s.yaml --only full`" in row
    )


@pytest.mark.parametrize("path", SEARCHES, ids=lambda p: p.name)
def test_shipped_searches_start_with_their_command_and_validate(path: Path) -> None:
    from metaalign.build.build_config import BuildConfig
    from metaalign.train.configs import dpo_config, sft_config

    rel = path.relative_to(path.parents[2])
    assert path.read_text().splitlines()[0].startswith(f"# python -m metaalign.quickstart.search {rel}")
    search = yaml.safe_load(path.read_text())
    for name in search["variants"]:
        settings = variant_settings(search, name)
        BuildConfig.model_validate(settings["build"])
        train = settings.get("train") or {}
        sft_config({**train.get("sft", {}), "output_dir": "x"})
        if train.get("dpo"):
            dpo_config({**train["dpo"], "output_dir": "x"})


def test_the_table_replaces_only_what_sits_between_its_markers_and_keeps_earlier_rows(tmp_path: Path) -> None:
    doc = tmp_path / "recipes.md"
    header = "| variant | x |\n|---|---|\n"
    doc.write_text(f"intro\n{TABLE_START}\n{header}| a | 1 |\n| b | 2 |\n{TABLE_END}\nafter\n")
    write_table(doc, f"{header}| b | 3 |\n| c | 4 |\n", order=["c", "a", "b"])
    # b is re-run (its new row replaces the old), a's row from an earlier workdir stays, order: c a b
    assert (
        doc.read_text()
        == f"intro\n{TABLE_START}\n{header}| c | 4 |\n| a | 1 |\n| b | 3 |\n{TABLE_END}\nafter\n"
    )
    fresh = tmp_path / "fresh.md"
    write_table(fresh, "| t |\n")
    assert fresh.read_text() == "| t |\n"
