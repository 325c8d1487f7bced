"""`metaalign --help` stays light: building the parser imports no torch or other heavy library."""

from __future__ import annotations

import subprocess
import sys

import pytest

from metaalign.cli.main import build_parser

HEAVY = ("torch", "transformers", "datasets", "pyarrow", "trl", "peft")


def test_building_the_parser_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from metaalign.cli.main import build_parser\n"
        "build_parser().format_help()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_help_lists_the_models_command(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--help"])
    assert info.value.code == 0
    assert "models" in capsys.readouterr().out


def test_models_help_explains_the_reference_forms(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["models", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "smollm2-135m" in out
    assert ".gguf file" in out
    assert "hub id org/name" in out
