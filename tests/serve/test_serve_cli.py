"""The `serve` and `chat` commands: light help, clear config errors (file and field), exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from metaalign.cli.main import main
from metaalign.serve.config import load_config


def test_help_of_serve_and_chat_imports_no_server_or_torch() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from metaalign.cli.main import main\n"
        "for cmd in ('serve', 'chat'):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        main([cmd, '--help'])\n"
        "print(sorted(m for m in ('torch', 'fastapi', 'uvicorn', 'transformers') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("keys:\n  - key: short\n", ":1: field 'keys.0.key'"),  # list items: the line of their section
        ("keys:\n  - key: sk-long-enough-1\n    role: admin\n", "field 'keys.0.role'"),
        ("served_model_name: m\nsystem_message_policy: ignore\n", ":2: field 'system_message_policy'"),
        ("max_queue: 0\n", ":1: field 'max_queue'"),
        ("max_batch: 2\ncolour: red\n", ":2: field 'colour'"),
        ("keys: [\n", "valid YAML"),
        ("- a list\n", "a YAML mapping of server settings"),
    ],
)
def test_bad_config_files_name_the_file_and_field(tmp_path, capsys, text, needle) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text(text)
    assert main(["serve", "--config", str(path), "--engine", "fake"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and needle in err


def test_the_example_config_is_valid() -> None:
    config = load_config(Path(__file__).parents[2] / "examples" / "serve.yaml")
    assert {k.role for k in config.keys} == {"deployer", "user"} and config.system_info
    assert config.find_key("sk-user-alice-change-me").name == "alice"
    assert config.find_key("sk-user-alice-change-m") is None and config.find_key(None) is None


@pytest.mark.slow
def test_the_serve_command_answers_over_http(tmp_path) -> None:
    import socket
    import time

    import httpx

    path = tmp_path / "serve.yaml"
    path.write_text("system_info: Be kind.\nkeys:\n  - key: sk-cli-test-0001\n    role: user\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metaalign = Path(sys.executable).with_name("metaalign")
    cmd = [str(metaalign), "serve", "--config", str(path), "--port", str(port), "--engine", "fake"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        body = {"model": "metaalign", "messages": [{"role": "user", "content": "hi"}]}
        reply = httpx.post(
            url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-cli-test-0001"}
        )
        assert reply.json()["choices"][0]["message"]["content"] == "[SI=Be kind.|UI=None] hi"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_the_serve_command_serves_several_models_by_name(tmp_path) -> None:
    import socket
    import time

    import httpx

    path = tmp_path / "serve.yaml"
    path.write_text("keys:\n  - key: sk-cli-test-0001\n    role: user\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metaalign = Path(sys.executable).with_name("metaalign")
    cmd = [str(metaalign), "serve", "--config", str(path), "--port", str(port), "--engine", "fake"]
    cmd += ["--model", "base=smollm2-135m", "--model", "aligned=runs/aligned"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url, headers = f"http://127.0.0.1:{port}", {"Authorization": "Bearer sk-cli-test-0001"}
        for _ in range(600):
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        listed = httpx.get(url + "/v1/models", headers=headers).json()
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        unknown = httpx.post(url + "/v1/chat/completions", json=body, headers=headers)
        page = httpx.get(url + "/playground")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert [m["id"] for m in listed["data"]] == ["base", "aligned"]
    assert unknown.status_code == 404 and "'base', 'aligned'" in unknown.json()["error"]["message"]
    assert page.status_code == 200 and "/playground" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "bf16"),  # no --dtype on transformers: the serving default (here: a bf16 CPU)
        (["--dtype", "fp32"], "fp32"),  # asked for: kept
        (["--backend", "ctranslate2"], None),  # other backends choose their own
    ],
)
def test_serve_and_chat_default_to_the_serving_dtype_on_transformers(monkeypatch, argv, expected) -> None:
    import metaalign.engine.load as load
    import metaalign.engine.precision as precision
    from metaalign.cli.main import build_parser
    from metaalign.cli.serve import make_engine

    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx512_bf16"})
    seen = {}
    monkeypatch.setattr(
        load, "load_engine", lambda model, backend, batch, threads, dtype: seen.update(dtype=dtype)
    )
    args = build_parser().parse_args(["chat", "--model", "m", *argv])
    make_engine(args, "m")
    assert seen == {"dtype": expected}
