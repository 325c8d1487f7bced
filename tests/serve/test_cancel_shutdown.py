"""A real `metaalign serve` on the embedded model: hung-up clients are dropped; SIGTERM ends work in time."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from serve_fixtures import start_cli

pytestmark = pytest.mark.slow

KEY = "sk-cancel-test-0001"
COUNT = {"role": "user", "content": "Count from 1 to 500, separated by commas."}  # a long answer


def start(tmp_path: Path, **settings) -> tuple[subprocess.Popen, str]:
    config = {"system_info": "Follow the instructions exactly.", "keys": [{"key": KEY}], "max_batch": 4}
    return start_cli(tmp_path, {**config, **settings}, "--threads", "1")


def body(stream: bool) -> dict:
    return {"model": "metaalign", "messages": [COUNT], "max_tokens": 1000, "temperature": 0, "stream": stream}


def content_chunks(lines, wanted: int) -> list[str]:
    """Reads SSE lines until `wanted` chunks with text have come."""
    seen = []
    for line in lines:
        if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
            seen.append(line)
            if len(seen) == wanted:
                break
    return seen


def wait_health(url: str, ready, seconds: float = 300) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        health = httpx.get(url + "/health", timeout=60).json()
        if ready(health):
            return health
        time.sleep(0.2)
    raise AssertionError(f"not reached: last /health {health}")


def test_a_client_that_hangs_up_has_its_row_dropped(tmp_path) -> None:
    proc, url = start(tmp_path)
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        chat = url + "/v1/chat/completions"
        with httpx.stream("POST", chat, json=body(True), headers=headers, timeout=300) as reply:
            assert len(content_chunks(reply.iter_lines(), 3)) == 3  # it is generating
        # closed after 3 of up to 1,000 tokens: the row leaves the batch and nothing else runs
        health = wait_health(url, lambda h: h["cancelled"] == 1)
        wait_health(url, lambda h: h["running"] == 0)
        with pytest.raises(httpx.ReadTimeout):  # a non-streamed request whose client gives up
            httpx.post(chat, json=body(False), headers=headers, timeout=httpx.Timeout(300, read=3))
        health = wait_health(url, lambda h: h["cancelled"] == 2 and h["running"] == 0)
        assert health["waiting"] == 0
        short = {**body(False), "max_tokens": 5}  # and the server still answers
        answer = httpx.post(chat, json=short, headers=headers, timeout=300).json()
        assert answer["choices"][0]["finish_reason"] in ("length", "stop")
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_sigterm_ends_in_flight_work_within_the_shutdown_timeout(tmp_path) -> None:
    proc, url = start(tmp_path, shutdown_timeout_s=2)
    lines: list[str] = []
    started = threading.Event()

    def client() -> None:
        headers = {"Authorization": f"Bearer {KEY}"}
        try:
            with httpx.stream(
                "POST", url + "/v1/chat/completions", json=body(True), headers=headers
            ) as reply:
                for line in reply.iter_lines():
                    lines.append(line)
                    if '"content"' in line and len(lines) > 2:
                        started.set()
        except httpx.HTTPError:
            pass  # the server closed the connection: expected
        started.set()

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    assert started.wait(300)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=120)  # 2 s of grace plus a step: far less than 1,000 tokens take
    finally:
        proc.kill()
    thread.join(timeout=30)
    assert proc.returncode is not None
    finishes = [
        json.loads(x[6:])["choices"][0].get("finish_reason") for x in lines if x.startswith("data: {")
    ]
    assert not any(finishes), "the answer ran to its end instead of being cut at shutdown"
