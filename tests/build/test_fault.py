"""Fault tolerance of `metaalign build` as a real process: SIGKILL at random points, then resume.

The builder runs the fake policy (with a small delay per request, so a kill can land in any
stage) and the LLM rewrite and judge paths against the fake HTTP server of this test process.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from build_toy import toy_values
from test_endpoint_build import smart_reply

from metaalign.endpoints import FakeOpenAIServer

SRC = Path(__file__).resolve().parents[2] / "src"


def _recipe(tmp: Path, name: str, base_url: str) -> Path:
    values = toy_values(tmp / name)
    values.update({"response_path": "rewrite", "judge": True, "policy.fake_delay": 0.01})
    values.update({"endpoint.base_url": base_url, "endpoint.model": "m", "endpoint.api_key_env": None})
    values.update({"endpoint.concurrency": 2, "endpoint.backoff": 0.01})
    data: dict = {}
    for key, value in values.items():
        *parents, last = key.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _command(recipe: Path) -> list[str]:
    return [sys.executable, "-m", "metaalign.cli.main", "build", "--config", str(recipe)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}


def _export(out: Path) -> dict[str, bytes]:
    names = sorted(
        p.name for p in out.iterdir() if p.suffix in (".jsonl", ".parquet") or p.name == "stats.json"
    )
    return {name: (out / name).read_bytes() for name in names}


def _progress(store: Path) -> int:
    """Rows committed so far in every stage table (0 while the store does not exist yet)."""
    if not store.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=0.1)
        try:
            tables = ("candidates", "responses", "judgments", "calls")
            return sum(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables)
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def _run_until(command: list[str], store: Path, target: int) -> bool:
    """Start the builder; SIGKILL it once `target` rows are committed. True if it was killed."""
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None:
        if _progress(store) >= target:
            process.send_signal(signal.SIGKILL)
            return process.wait() == -signal.SIGKILL
        time.sleep(0.005)
    return False


@pytest.mark.slow
def test_sigkill_at_five_random_points_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    with FakeOpenAIServer(reply=smart_reply, latency=0.01) as server:
        subprocess.run(_command(_recipe(tmp_path, "clean", server.base_url)), env=_env(), check=True,
                       capture_output=True)  # fmt: skip
        calls_clean = server.calls
        total = _progress(tmp_path / "clean" / "store.sqlite")
        recipe = _recipe(tmp_path, "killed", server.base_url)
        store = tmp_path / "killed" / "store.sqlite"
        # five kill points, at random amounts of committed work (the last may land in the export)
        targets = sorted(random.Random(1234).sample(range(1, total + 1), 5))
        kills = sum(_run_until(_command(recipe), store, target) for target in targets)
        done = subprocess.run(_command(recipe), env=_env(), capture_output=True, text=True)
        calls_killed = server.calls - calls_clean
    assert done.returncode == 0, done.stderr[-2000:]
    assert kills >= 4  # a kill point at the very end may find the run already finished
    assert _export(tmp_path / "killed") == _export(tmp_path / "clean")
    # every reply is committed as it arrives: a kill loses at most the 2 calls in flight
    assert calls_clean <= calls_killed <= calls_clean + kills * 2
