from __future__ import annotations

from pathlib import Path

import pytest

from metaalign.errors import MetaAlignError, RecordError
from metaalign.quickstart.quickstart_config import (
    DEFAULT_CONFIG,
    FAST_CONFIG,
    load_quickstart_config,
    recipe_folder,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("path", "command"), [(DEFAULT_CONFIG, ""), (FAST_CONFIG, " --fast")])
def test_shipped_recipes_load_and_are_headed_by_their_command(path: Path, command: str) -> None:
    config = load_quickstart_config(path)
    assert config.model == "smollm2-135m"
    assert path.parent == REPO / "recipes" / "quickstart"  # a checkout reads recipes/ itself
    assert path.read_text().splitlines()[0] == f"# metaalign quickstart{command}"


def test_an_installed_package_reads_its_own_copy_of_the_recipes(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "metaalign" / "quickstart"
    (package / "recipes").mkdir(parents=True)
    assert recipe_folder(package) == package / "recipes"  # a wheel: setup.py copied them in
    checkout = tmp_path / "repo" / "src" / "metaalign" / "quickstart"
    checkout.mkdir(parents=True)
    assert recipe_folder(checkout) == tmp_path / "repo" / "recipes" / "quickstart"


def test_overrides_reach_the_config_and_a_bad_one_is_named(tmp_path: Path) -> None:
    config = load_quickstart_config(FAST_CONFIG, ["--eval.limit", "3", "--train.sft.max_steps", "1"])
    assert config.eval.limit == 3 and config.train["sft"]["max_steps"] == 1
    assert config.train["sft"]["lora_r"] == load_quickstart_config(FAST_CONFIG).train["sft"]["lora_r"]
    with pytest.raises(MetaAlignError, match=r"override eval\.limit=-1: field 'eval\.limit'"):
        load_quickstart_config(FAST_CONFIG, ["--eval.limit", "-1"])


def test_sections_reach_their_stages(tmp_path: Path) -> None:
    from metaalign.build.build_config import BuildConfig
    from metaalign.quickstart.quickstart_pipeline import WorkFolder, train_values
    from metaalign.train.two_stage_pipeline import split_config

    config = load_quickstart_config(FAST_CONFIG)
    folders = WorkFolder(tmp_path)
    BuildConfig.model_validate({**config.build, "output_dir": str(folders.build)})
    sft, dpo, sample, judge = split_config(train_values(config, folders))
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
    from metaalign.quickstart.quickstart_pipeline import stages

    calls: list[int] = []
    real = two_stage.split_config
    monkeypatch.setattr(two_stage, "split_config", lambda config: calls.append(1) or real(config))
    names = [s.name for s in stages(load_quickstart_config(FAST_CONFIG), tmp_path)]
    assert names == ["build", "sft", "on-policy", "dpo", "export", "eval-base", "eval-metaaligned"]
    assert calls == [1]  # the two-stage config is split once, by two-stage itself


@pytest.mark.slow
def test_a_wheel_carries_the_recipes_and_the_installed_package_finds_them(tmp_path: Path) -> None:
    """`metaalign quickstart` and `--fast` must work where there is no checkout: from a wheel."""
    import os
    import subprocess
    import sys
    import zipfile

    build = [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
             "-q", "-w", str(tmp_path / "dist")]  # fmt: skip
    subprocess.run(build, check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("metaalign-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in ("smollm2-135m.yaml", "fast.yaml"):
            shipped = archive.read(f"metaalign/quickstart/recipes/{name}").decode()
            assert shipped == (REPO / "recipes" / "quickstart" / name).read_text()
        archive.extractall(tmp_path / "site")
    probe = (
        "from metaalign.quickstart.quickstart_config import DEFAULT_CONFIG, FAST_CONFIG\n"
        "from metaalign.quickstart.quickstart_config import load_quickstart_config as l\n"
        "print(DEFAULT_CONFIG); print(l(DEFAULT_CONFIG).model, l(FAST_CONFIG).build['instructions_train'])"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}  # ahead of the editable checkout
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    where, loaded = out.stdout.splitlines()
    assert where == str(tmp_path / "site" / "metaalign" / "quickstart" / "recipes" / "smollm2-135m.yaml")
    assert loaded == "smollm2-135m 6"
