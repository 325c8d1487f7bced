"""Helpers for the server tests: keys, a test config, and a real uvicorn server on 127.0.0.1.

`running(engine, config)` starts the server on port 0 in a thread (`models=` for several models);
conftest.py wraps it in fixtures. `start_cli(tmp_path, config, *args)` runs `metaalign serve` itself.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from metaalign.engine import FakeEngine
from metaalign.serve.config import KeyConfig, ServeConfig

USER_KEY = "sk-user-alice-0001"
OTHER_USER_KEY = "sk-user-bob-00002"
DEPLOYER_KEY = "sk-deployer-0001"
SYSTEM_INFO = "You are the library assistant. Answer in English."


def tier_echo(request) -> str:
    """A fake answer that shows which tiers reached the engine."""
    return f"SI={request.system_info!r} UI={request.user_info!r} Q={request.dialogue[-1]['content']}"


def make_config(**overrides) -> ServeConfig:
    keys = [
        KeyConfig(key=USER_KEY, role="user", name="alice"),
        KeyConfig(key=OTHER_USER_KEY, role="user", name="bob", requests_per_minute=3),
        KeyConfig(key=DEPLOYER_KEY, role="deployer", name="ops"),
    ]
    return ServeConfig(**{"system_info": SYSTEM_INFO, "keys": keys, "batch_wait_ms": 1, **overrides})


class Server:
    """A running test server: its URL, its registry, and (`service`) its first model's ChatService."""

    def __init__(self, url: str, registry) -> None:
        self.url = url
        self.registry = registry
        self.service = next(iter(registry.services.values()))


@contextmanager
def running(
    engine=None, config: ServeConfig | None = None, *, models=None, renderer=None
) -> Iterator[Server]:
    """A real server on a free port. `models` ({name: engine}) serves several models instead of one."""
    import uvicorn

    from metaalign.serve.registry import ModelRegistry
    from metaalign.serve.router import build_app
    from metaalign.serve.serving import ChatService

    config = config or make_config()
    engines = models or {config.served_model_name: engine or FakeEngine(respond=tier_echo)}
    registry = ModelRegistry(
        ChatService(e, config, context_window=2048, name=name, renderer=renderer)
        for name, e in engines.items()
    )
    server = uvicorn.Server(
        uvicorn.Config(build_app(registry), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Server(f"http://127.0.0.1:{port}", registry)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def start_cli(tmp_path: Path, config: dict, *args: str) -> tuple[subprocess.Popen, str]:
    """`metaalign serve` with `config` (written as serve.yaml) and `args` on a free port; (process, URL)
    once /health answers (up to 300 s: the model loads, maybe converts, first)."""
    import httpx

    path = tmp_path / "serve.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = Path(sys.executable).with_name("metaalign")
    cmd = [str(cli), "serve", "--config", str(path), "--port", str(port), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("the server did not start")
