"""Configs: TRL subclassing without re-declared fields, hardware precision, recipes and overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from metaalign.train.config_io import ConfigError, check_fields, load
from metaalign.train.hardware import Hardware, choose, cpu_has_native_bf16
from metaalign.train.run_log import write_manifest

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_sections_nest_and_overrides_win(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: m\nsft:\n  learning_rate: 0.1\n  max_steps: 5\n")
    got = load(recipe, ["--sft.max_steps", "2", "--seed", "3"])
    assert got == {"model": "m", "sft": {"learning_rate": 0.1, "max_steps": 2}, "seed": 3}


def test_unknown_field_names_the_closest_ones() -> None:
    with pytest.raises(ConfigError, match="unknown field 'lerning_rate'; did you mean learning_rate"):
        check_fields({"lerning_rate": 1}, ["learning_rate", "lora_r"], "sft config")


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("model: m\nsft: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: valid YAML"):
        load(recipe)


def test_configs_add_fields_without_redeclaring_trl_ones() -> None:
    from trl import DPOConfig, SFTConfig

    from metaalign.train.configs import MetaAlignDPOConfig, MetaAlignFields, MetaAlignSFTConfig

    for ours, trl_cls in ((MetaAlignSFTConfig, SFTConfig), (MetaAlignDPOConfig, DPOConfig)):
        assert issubclass(ours, trl_cls)
        trl_fields = {f.name: f for f in dataclasses.fields(trl_cls)}
        added = {f.name for f in dataclasses.fields(MetaAlignFields)} | set(ours.__annotations__)
        assert not added & set(trl_fields), added & set(trl_fields)
        for f in dataclasses.fields(ours):  # every TRL field keeps TRL's default
            if f.name in trl_fields:
                assert f.default == trl_fields[f.name].default, f.name


def test_precision_table() -> None:
    cpu, amx, gpu, old_gpu = (Hardware("cpu", False), Hardware("cpu", True), Hardware("cuda", True),
                              Hardware("cuda", False))  # fmt: skip
    assert choose("auto", cpu) == {"bf16": False, "fp16": False}
    assert choose("auto", amx) == {"bf16": True, "fp16": False}
    assert choose("auto", gpu) == {"bf16": True, "fp16": False}
    assert choose("auto", old_gpu) == {"bf16": False, "fp16": True}
    assert choose("bf16", cpu) == {"bf16": True, "fp16": False}
    with pytest.raises(ValueError, match="precision"):
        choose("fp8", cpu)
    assert cpu_has_native_bf16("flags : fpu avx2 amx_bf16 amx_tile")
    assert not cpu_has_native_bf16("flags : fpu avx2 avx512f avx512_bf16")


@pytest.mark.parametrize("amx", [False, True])
def test_auto_config_on_a_cpu_turns_trl_defaults_off(tmp_path: Path, monkeypatch, amx: bool) -> None:
    from metaalign.train import hardware
    from metaalign.train.configs import sft_config

    monkeypatch.setattr(hardware, "detect", lambda: Hardware("cpu", amx))
    config = sft_config(output_dir=str(tmp_path))
    assert (config.bf16, config.fp16, config.activation_checkpointing) == (amx, False, False)
    forced = sft_config(output_dir=str(tmp_path), gradient_checkpointing=True)
    assert forced.activation_checkpointing is True  # the user's explicit value wins
    assert sft_config(output_dir=str(tmp_path), learning_rate=1e-5).learning_rate == 1e-5


def test_make_config_rejects_unknown_fields(tmp_path: Path) -> None:
    from metaalign.train.configs import dpo_config

    with pytest.raises(ConfigError, match="unknown field 'bta'; did you mean beta"):
        dpo_config(output_dir=str(tmp_path), bta=0.1)


def test_shared_prompt_refuses_keep_end_truncation(tmp_path: Path) -> None:
    # packs are laid out from untruncated lengths, so keep_end would put scores in the wrong rows
    from metaalign.train.configs import dpo_config

    with pytest.raises(
        ConfigError, match=r"dpo config: shared_prompt: .* truncation_mode 'keep_end'"
    ) as info:
        dpo_config(output_dir=str(tmp_path), truncation_mode="keep_end")
    assert info.value.field == "truncation_mode"  # so the CLI names the recipe's line
    config = dpo_config(output_dir=str(tmp_path), truncation_mode="keep_end", shared_prompt=False)
    assert (config.truncation_mode, config.shared_prompt) == ("keep_end", False)


def test_sections_belong_to_two_stage_only(tmp_path: Path) -> None:
    from metaalign.train.configs import dpo_config, sft_config

    with pytest.raises(ConfigError, match=r"sft config: unexpected section\(s\) dpo \(two-stage only\)"):
        sft_config(output_dir=str(tmp_path), dpo={"beta": 0.1})
    # a known field that takes a mapping is no section
    config = dpo_config(output_dir=str(tmp_path), model_init_kwargs={"attn_implementation": "eager"})
    assert config.model_init_kwargs == {"attn_implementation": "eager"}


# build recipes: tests/build; search files: tests/quickstart/test_search.py
TRAIN_RECIPES = sorted(p for p in RECIPES.glob("*/*.yaml") if p.parent.name not in ("build", "search"))


@pytest.mark.parametrize("path", TRAIN_RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipes_start_with_their_command_and_name_known_fields(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    if first.startswith("# metaalign quickstart"):  # a whole-pipeline recipe: quickstart's schema
        from metaalign.build.build_config import BuildConfig
        from metaalign.quickstart.quickstart_config import DEFAULT_CONFIG, FAST_CONFIG, load_quickstart_config
        from metaalign.train.two_stage_pipeline import split_config

        # the shipped quickstart recipes are what `metaalign quickstart [--fast]` runs by default
        shipped = {DEFAULT_CONFIG: "# metaalign quickstart", FAST_CONFIG: "# metaalign quickstart --fast"}
        command = f"# metaalign quickstart --config {path.relative_to(RECIPES.parent)}"
        if path in shipped:
            assert first == shipped[path]
        else:
            assert first.startswith(command)
        config = load_quickstart_config(path)
        BuildConfig.model_validate(config.build)
        sft, dpo, _, _ = split_config({**config.train, "output_dir": "x", "sample": {"prompts_file": "p"}})
        from metaalign.train.configs import dpo_config, sft_config

        sft_config(sft), dpo_config(dpo)
        return
    if path.parent.name == "accelerate":
        assert (
            first.startswith("# accelerate launch")
            and "--config_file " + str(path.relative_to(RECIPES.parent)) in first
        )
        return
    stage = path.stem
    assert first == f"# metaalign train {stage} --config {path.relative_to(RECIPES.parent)}"
    from metaalign.train.configs import field_names
    from metaalign.train.two_stage_pipeline import SAMPLE_KEYS, SECTIONS, SHARED

    values = load(path)
    if stage == "two-stage":
        check_fields(values, (*SECTIONS, *SHARED), str(path))
        check_fields(values["sample"], SAMPLE_KEYS, str(path))
        sections = {"sft": values["sft"], "dpo": values["dpo"]}
    else:
        sections = {stage: values}
    from metaalign.train.configs import MetaAlignDPOConfig, MetaAlignSFTConfig

    for name, section in sections.items():
        cls = MetaAlignSFTConfig if name == "sft" else MetaAlignDPOConfig
        check_fields(section, field_names(cls), f"{path}: {name}")


def test_sft_and_dpo_defaults_share_one_base() -> None:
    from metaalign.train.configs import DPO_DEFAULTS, SFT_DEFAULTS, SHARED_DEFAULTS

    assert SFT_DEFAULTS == {**SHARED_DEFAULTS, "learning_rate": 3e-4, "padding_free": True}
    assert DPO_DEFAULTS == {**SHARED_DEFAULTS, "learning_rate": 1e-4, "precompute_ref_log_probs": True}
    assert SHARED_DEFAULTS == {
        "per_device_train_batch_size": 8, "num_train_epochs": 2.0, "logging_steps": 5, "save_steps": 50,
        "save_total_limit": 2, "lr_scheduler_type": "cosine", "warmup_steps": 0.05, "max_length": 1024,
        "report_to": "none",
    }  # fmt: skip


@pytest.mark.parametrize("kind", ["sft", "dpo"])
def test_a_finished_run_is_not_trained_again(tmp_path: Path, kind: str) -> None:
    from metaalign.train import run

    write_manifest(tmp_path, status="done", kind=kind)
    (tmp_path / "final").mkdir()
    entry = run.train_sft if kind == "sft" else run.train_dpo
    # no train_file and no model load: a finished run returns before either is needed
    assert entry({"output_dir": str(tmp_path)}) == tmp_path
