"""Every command the README shows is run: `metaalign ...` lines here, set-up scripts by .ci/run.

Like a reader would, these use the default model cache (METAALIGN_HOME unset), so the first run
on a machine converts the embedded model there once.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.DOTALL)


def shell_lines() -> list[str]:
    return [line.strip() for block in blocks("bash") for line in block.splitlines() if line.strip()]


def metaalign_commands() -> list[str]:
    return [line for line in shell_lines() if line.startswith("metaalign ")]


def test_every_shell_line_is_a_metaalign_command_or_run_by_ci() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    others = [line.split("#")[0].strip() for line in shell_lines() if not line.startswith("metaalign ")]
    assert others == [
        "bash scripts/quickstart.sh",
        "bash scripts/test.sh",
        ".venv/bin/python benchmarks/model_load.py --repeats 1",
    ]
    assert all(cmd in ci for cmd in others)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", work / "examples")
    return work


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    args = ["bash", "-c", command]
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("command", metaalign_commands(), ids=lambda c: "-".join(c.split()[:3]))
def test_readme_command_runs(command: str, workdir: Path) -> None:
    result = run(command, workdir)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"{command} printed nothing"
    if command.startswith("metaalign render") and "--format" not in command:  # the README shows its output
        (shown,) = blocks("text")
        assert result.stdout.strip() == shown.strip()
    if command.startswith("metaalign generate"):  # greedy: the same answer as the Python API gives
        from metaalign.cli.main import build_parser
        from metaalign.engine import GenerationRequest
        from metaalign.engine.hf import TransformersEngine

        args = build_parser().parse_args(shlex.split(command)[1:])
        request = GenerationRequest.for_query(
            args.system_info, args.user_info, args.query, max_new_tokens=args.max_new_tokens
        )
        (expected,) = TransformersEngine.from_pretrained(args.model, batch_size=1).generate([request])
        assert result.stdout.strip() == expected.text.strip()


@pytest.mark.slow
def test_readme_python_runs(workdir: Path) -> None:
    (code,) = blocks("python")
    result = run(f"{sys.executable} -c {_quote(code)}", workdir)
    assert result.returncode == 0, result.stderr
    tokens, trained = map(int, result.stdout.splitlines()[0].split())
    assert 0 < trained < tokens
    assert result.stdout.splitlines()[1] == "I am a zookeeper."


def _quote(code: str) -> str:
    return "'" + code.replace("'", "'\"'\"'") + "'"
