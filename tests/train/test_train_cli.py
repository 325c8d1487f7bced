"""`metaalign train ...` and `metaalign export`: overrides reach the config; bad input is one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from metaalign.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
SFT_RECIPE = ROOT / "recipes" / "smollm2-135m" / "sft.yaml"


def test_stages_parse_the_recipe_and_collect_overrides() -> None:
    args = build_parser().parse_args(
        ["train", "two-stage", "--config", "r.yaml", "--sft.max_steps", "3", "--sample.k=2", "--seed", "1"]
    )
    assert args.stage == "two-stage" and args.config == Path("r.yaml")
    assert args.overrides == ["--sft.max_steps", "3", "--sample.k=2", "--seed", "1"]
    args = build_parser().parse_args(["export", "runs/x", "--out", "merged"])
    assert (args.run_dir, args.out) == (Path("runs/x"), Path("merged"))


def test_a_misspelt_field_fails_before_any_model_loads(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "sft", "--config", str(SFT_RECIPE), "--lerning_rate", "1e-4"]) == 2
    err = capsys.readouterr().err
    assert "unknown field 'lerning_rate'; did you mean learning_rate" in err
    assert err.count("\n") == 1


def test_a_misspelt_recipe_field_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"# metaalign train sft --config r.yaml\noutput_dir: {tmp_path}\nlerning_rate: 1e-4\n")
    assert main(["train", "sft", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert f"{recipe}:3: sft config: unknown field 'lerning_rate'; did you mean learning_rate" in err
    assert err.count("\n") == 1
    # the same misspelling on the command line: no file line to name
    assert main(["train", "sft", "--output_dir", str(tmp_path), "--lerning_rate", "1"]) == 2
    assert capsys.readouterr().err.startswith("metaalign: error: sft config: unknown field 'lerning_rate'")


def test_a_misspelt_two_stage_field_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    recipe = tmp_path / "two.yaml"
    head = f"output_dir: {tmp_path}\nsample:\n  prompts_file: p.jsonl\n"
    recipe.write_text(head + "  k: 2\nsft:\n  max_steps: 2\n  bta: 1\n")
    assert main(["train", "two-stage", "--config", str(recipe)]) == 2  # before any model loads
    assert f"{recipe}:7: sft config: unknown field 'bta'" in capsys.readouterr().err
    recipe.write_text(head + "  kk: 2\n")
    assert main(["train", "two-stage", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert f"{recipe}:4: two-stage config: sample: unknown field 'kk'; did you mean k" in err


def test_sections_are_rejected_outside_two_stage(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "dpo", "--sft.max_steps", "3"]) == 2
    assert "two-stage only" in capsys.readouterr().err


def test_the_cli_refuses_what_the_config_class_refuses(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "dpo", "--truncation_mode", "keep_end"]) == 2  # before any model loads
    assert "dpo config: shared_prompt: packs pairs truncated keep_start only" in capsys.readouterr().err


def test_the_deprecated_set_alias_reaches_the_config_with_a_warning(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "dpo", "--set", "sft.max_steps=3"]) == 2  # parsed as --sft.max_steps 3
    err = capsys.readouterr().err
    assert "`--set sft.max_steps=3` is deprecated" in err and "two-stage only" in err


def test_export_of_an_unfinished_run_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "not a finished MetaAlign training run" in capsys.readouterr().err


def test_module_entry_point_works_for_accelerate_launch() -> None:
    """`accelerate launch -m metaalign.cli.main train sft ...` runs the module as a script."""
    proc = subprocess.run(
        [sys.executable, "-m", "metaalign.cli.main", "train", "sft", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "--config YAML" in proc.stdout


@pytest.mark.slow
def test_toy_sft_from_the_recipe(tmp_path: Path, sft_file: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    argv = [
        "train",
        "sft",
        "--config",
        str(SFT_RECIPE),
        "--train_file",
        str(sft_file),
        "--output_dir",
        str(out),
        "--max_steps",
        "2",
        "--per_device_train_batch_size",
        "2",
        "--threads",
        "1",
        "--lora_r",
        "4",
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    assert (out / "final" / "adapter_model.safetensors").exists()
    assert (out / "train_log.jsonl").exists() and (out / "loss.png").exists()


def test_gguf_flags_need_the_gguf_format(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "m"), "--dtype", "q8_0"]) == 2
    assert "--dtype and --force apply to --format gguf only" in capsys.readouterr().err


def test_gguf_export_refuses_an_existing_file_before_loading(tmp_path: Path, capsys) -> None:
    out = tmp_path / "model.gguf"
    out.write_bytes(b"mine")
    assert main(["export", "no-such-model", "--out", str(out), "--format", "gguf"]) == 2
    assert f"{out}: exists; pass --force to replace it" in capsys.readouterr().err
    assert out.read_bytes() == b"mine"


def test_gguf_export_names_an_unsupported_architecture(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "gpt2-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "gpt2", "n_layer": 2}')
    assert main(["export", str(folder), "--out", str(tmp_path / "x.gguf"), "--format", "gguf"]) == 2
    err = capsys.readouterr().err
    assert "architecture 'gpt2' is not supported (supported: llama, qwen2)" in err
    assert not (tmp_path / "x.gguf").exists()
