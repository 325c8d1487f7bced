"""Every command the README shows is run: `metaalign ...` lines here, set-up scripts by .ci/run.

Like a reader would, these use the default model cache (METAALIGN_HOME unset), so the first run
on a machine converts the embedded model there once.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
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
    """Every `metaalign` line but `serve`, which runs until stopped (see test_readme_serve)."""
    return [line for line in shell_lines() if line.startswith("metaalign ") and " serve " not in f"{line} "]


def serve_commands() -> list[str]:
    return [line for line in shell_lines() if line.startswith("metaalign serve ")]


def python_block(marker: str) -> str:
    """The README's Python block that contains `marker`."""
    (code,) = [block for block in blocks("python") if marker in block]
    return code


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
    shutil.copytree(ROOT / "recipes", work / "recipes")
    return work


def readme_env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(command: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    args = ["bash", "-c", command]
    return subprocess.run(
        args, cwd=cwd, env=readme_env(), input=stdin, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
@pytest.mark.parametrize("command", metaalign_commands(), ids=lambda c: "-".join(c.split()[:3]))
def test_readme_command_runs(command: str, workdir: Path) -> None:
    chat = "What is umami?\n/user I am five years old.\n/show\n/quit\n"  # a reader typing into the chat
    result = run(command, workdir, stdin=chat if command.startswith("metaalign chat") else None)
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
    code = python_block("Renderer")
    result = run(f"{sys.executable} -c {_quote(code)}", workdir)
    assert result.returncode == 0, result.stderr
    tokens, trained = map(int, result.stdout.splitlines()[0].split())
    assert 0 < trained < tokens
    assert result.stdout.splitlines()[1] == "I am a zookeeper."


def _quote(code: str) -> str:
    return "'" + code.replace("'", "'\"'\"'") + "'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_readme_serve_answers_the_readme_client(workdir: Path) -> None:
    """The README's `metaalign serve` line, on a free port, answers the README's openai client."""
    (command,) = serve_commands()
    port = str(_free_port())
    server = subprocess.Popen(
        ["bash", "-c", f"exec {command.replace('--port 8000', '--port ' + port)}"],
        cwd=workdir, env=readme_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_healthy(port, server)
        client = python_block("openai").replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        result = run(f"{sys.executable} -c {_quote(client)}", workdir)
        assert result.returncode == 0, result.stderr
        answers = [a for a in result.stdout.split("\n---\n") if a.strip()]
        assert len(answers) == 2 and answers[0] != answers[1]  # two User Infos, two answers
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_healthy(port: str, server: subprocess.Popen, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read() if server.stdout else "server exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError("the README's server never became healthy")
