"""Per-key rate limits (429) and the bounded queue (503 + Retry-After) under overload."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from serve_fixtures import OTHER_USER_KEY, USER_KEY, make_config

from metaalign.engine import FakeEngine
from metaalign.serve.config import KeyConfig
from metaalign.serve.serving import APIError, RateLimiter

BODY = {"model": "metaalign", "messages": [{"role": "user", "content": "hi"}]}


def post(url: str, key: str = USER_KEY) -> httpx.Response:
    return httpx.post(
        url + "/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


def test_rate_limit_is_per_key_and_says_when_to_retry(serve) -> None:
    with serve() as s:
        codes = [post(s.url, OTHER_USER_KEY).status_code for _ in range(4)]  # bob: 3 per minute
        refused = post(s.url, OTHER_USER_KEY)
        other = post(s.url, USER_KEY)  # alice has no limit
    assert codes == [200, 200, 200, 429]
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert other.status_code == 200


def test_rate_limiter_window_slides() -> None:
    limiter = RateLimiter()
    key = KeyConfig(key="sk-test-00000", requests_per_minute=2)
    limiter.check(key, now=0.0)
    limiter.check(key, now=10.0)
    try:
        limiter.check(key, now=30.0)
        raise AssertionError("the third call inside a minute must be refused")
    except APIError as err:
        assert err.status == 429 and err.headers["Retry-After"] == "30"
    limiter.check(key, now=60.5)  # the first call has left the window


class GatedEngine(FakeEngine):
    """A FakeEngine that blocks every batch until `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def generate(self, requests, on_delta=None):
        self.gate.wait(timeout=60)
        return super().generate(requests, on_delta)


def test_overload_gets_503_and_the_server_keeps_serving(serve) -> None:
    engine = GatedEngine()
    config = make_config(max_queue=3, max_batch=1, batch_wait_ms=0)
    with serve(engine, config) as s, ThreadPoolExecutor(max_workers=12) as pool:
        futures = [pool.submit(post, s.url) for _ in range(12)]
        deadline = time.monotonic() + 30
        while sum(f.done() for f in futures) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)  # 1 running + 3 waiting; the other 8 are refused at once
        refused = [f.result() for f in futures if f.done()]
        engine.gate.set()
        results = [f.result() for f in futures]
        after = post(s.url)
    assert len(refused) == 8 and all(r.status_code == 503 for r in refused)
    assert all(r.headers["Retry-After"] == "1" for r in refused)
    assert sorted(r.status_code for r in results) == [200] * 4 + [503] * 8
    assert after.status_code == 200


def test_an_engine_failure_is_a_retryable_503_and_the_server_recovers(serve) -> None:
    calls = []

    def flaky(request) -> str:
        calls.append(request)
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return "fine"

    with serve(FakeEngine(respond=flaky)) as s:
        failed = post(s.url)
        after = post(s.url)
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "1"
    assert failed.json()["error"]["code"] == "engine_error" and "out of memory" in failed.text
    assert after.status_code == 200 and after.json()["choices"][0]["message"]["content"] == "fine"
