"""The LLM paths against a live `metaalign serve` on the embedded model, through the real HTTP client.

`metaalign build --config recipes/build/endpoint.yaml` at toy size (candidates, LLM rewrite and
LLM judge all through the endpoint) and `metaalign eval judge` on a few prompts. A counting
proxy between client and server logs every request's Idempotency-Key: it shows the client had
more than one request in flight, and that after a SIGKILL mid-build the re-run sends no request
for an item whose reply was already committed. SmolLM2-135M is a weak annotator: this proves
the plumbing (complete, valid records; resume), not the quality of its rewrites or verdicts.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from counting_proxy import CountingProxy

from metaalign.records import read_records

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-deployer-live-test"
KEY_ENV = "METAALIGN_LIVE_TEST_KEY"
# toy size; mostly open (non-verifiable) preferences, so the LLM judge path gets work
TOY = {"instructions_train": 2, "instructions_test": 0, "meta_prompts": 2, "candidates": 2,
       "pairs_per_meta_prompt": 1, "formats": "[jsonl]", "policy.max_new_tokens": 16,
       "endpoint.model": "metaalign", "endpoint.api_key_env": KEY_ENV, "endpoint.tiers": "metaalign",
       "endpoint.concurrency": 4, "endpoint.timeout": 600, "endpoint.max_tokens": 16,
       "endpoint.judge_max_tokens": 8, "endpoint.judge_parse_retries": 0,
       "mix.open": 20.0}  # fmt: skip


def _env() -> dict[str, str]:
    offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return {**os.environ, **offline, KEY_ENV: KEY, "OMP_NUM_THREADS": "1"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CountingProxy]:
    """`metaalign serve` on the embedded model (a deployer key, 1 thread) behind a counting proxy."""
    root = tmp_path_factory.mktemp("live")
    config = root / "serve.yaml"
    keys = [{"key": KEY, "role": "deployer", "name": "build"}]
    config.write_text(yaml.safe_dump({"served_model_name": "metaalign", "max_batch": 8, "keys": keys}))
    port = _free_port()
    command = [sys.executable, "-m", "metaalign.cli.main", "serve", "--model", "smollm2-135m",
               "--config", str(config), "--port", str(port), "--threads", "1"]  # fmt: skip
    log = (root / "serve.log").open("wb")
    server = subprocess.Popen(command, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(port, server, root / "serve.log")
        with CountingProxy(f"http://127.0.0.1:{port}") as counting:
            yield counting
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_healthy(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 900  # a loaded shared machine; seconds on an idle one
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)


def _build_command(out: Path, base_url: str) -> list[str]:
    overrides = {**TOY, "endpoint.base_url": base_url}
    command = [sys.executable, "-m", "metaalign.cli.main", "build", "--config", "recipes/build/endpoint.yaml",
               "--output-dir", str(out), "--no-progress"]  # fmt: skip
    return command + [part for k, v in overrides.items() for part in (f"--{k}", str(v))]


def _committed_keys(store: Path) -> set[str]:
    if not store.exists():
        return set()
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=0.1)
        try:
            return {row[0] for row in db.execute("SELECT id FROM calls")}
        finally:
            db.close()
    except sqlite3.Error:
        return set()


def test_build_through_a_live_server_resumes_after_sigkill(proxy: CountingProxy, tmp_path: Path) -> None:
    out = tmp_path / "build"
    command = _build_command(out, proxy.base_url)
    first_log = tmp_path / "first.log"
    with first_log.open("wb") as log:
        first = subprocess.Popen(command, cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while first.poll() is None and len(_committed_keys(out / "store.sqlite")) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert first.poll() is None, first_log.read_text()[-2000:]  # still running: a kill mid-build
    first.send_signal(signal.SIGKILL)
    first.wait()
    committed = _committed_keys(out / "store.sqlite")
    sent_before = len(proxy.log)
    second = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    rerun_keys = [r.key for r in proxy.log[sent_before:] if r.key]
    print(f"live build: {len(committed)} replies committed at the kill, {len(rerun_keys)} calls after "
          f"it, max in flight {proxy.max_in_flight}")  # fmt: skip
    assert committed and not committed & set(rerun_keys)  # no finished item was asked again
    assert proxy.max_in_flight > 1  # the client's concurrency reached the server
    ok = proxy.keys(200)
    assert len(ok) == len(set(ok))  # no item answered twice over the whole build
    stages = {r.key.split(":")[0] for r in proxy.log if r.key}
    assert {"candidates", "responses", "judgments"} <= stages, stages  # sampling, LLM rewrite, LLM judge
    sft = read_records(out / "sft_train.jsonl", "sft").records  # a bad record would raise here
    dpo = read_records(out / "dpo_train.jsonl", "preference").records
    ids = [r.id for r in sft + dpo]
    assert sft and dpo and len(ids) == len(set(ids))
    assert all(r.messages[-1].content.strip() for r in sft)
    assert all(r.chosen.strip() and r.rejected.strip() and r.chosen != r.rejected for r in dpo)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["store"]["judge"]["judgments"] > 0


def test_eval_judge_through_a_live_server(proxy: CountingProxy, tmp_path: Path) -> None:
    out = tmp_path / "judge"
    command = [sys.executable, "-m", "metaalign.cli.main", "eval", "judge", "--model", "smollm2-135m",
               "--baseline", "base", "--test-split", "examples/prefs.jsonl", "--limit", "3",
               "--max-new-tokens", "12", "--threads", "1", "--judge-url", proxy.base_url,
               "--judge-model", "metaalign", "--judge-api-key-env", KEY_ENV, "--concurrency", "4",
               "--out", str(out)]  # fmt: skip
    sent_before = len(proxy.log)
    done = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    verdicts = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines()]
    assert len(verdicts) == 3
    judged = proxy.log[sent_before:]
    assert len(judged) >= 2 * 3 and all(r.status == 200 for r in judged)  # both orders of every pair
    report = json.loads((out / "report.json").read_text())
    print(f"live eval judge: {report}")
    assert report
