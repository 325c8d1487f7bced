"""Fakes of an OpenAI-compatible endpoint for tests and benchmarks: in-process and over real HTTP.

`FakeChatClient` answers in-process from a reply function; `FakeOpenAIServer` is a real HTTP
server on 127.0.0.1 (port 0, background thread) with latency, injected 500/429/hang failures
and a thread-safe request log (incl. the Idempotency-Key header). Neither is a model.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from metaalign.endpoints.client import IDEMPOTENCY_HEADER, ChatResult, EndpointError, Messages, Usage

Reply = Callable[[Sequence[Mapping[str, str]]], str]


def echo_reply(messages: Sequence[Mapping[str, str]]) -> str:
    """The default reply: echoes the last message's content."""
    return f"echo: {messages[-1]['content']}" if messages else "echo:"


@dataclass
class FakeChatClient:
    """An in-process `ChatClient`: `reply(messages)` gives the text; exceptions it raises propagate.

    Every call is appended to `calls` as (messages, idempotency_key). Tokens are counted as words.
    """

    reply: Reply = echo_reply
    usage: Usage = field(default_factory=Usage)
    calls: list[tuple[list[dict[str, str]], str | None]] = field(default_factory=list)

    async def complete(
        self,
        messages: Messages,
        *,
        temperature: float = 0.0,
        max_tokens: int = 256,
        seed: int | None = None,
        idempotency_key: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ChatResult:
        turns = [dict(m) for m in messages]
        self.calls.append((turns, idempotency_key))
        try:
            text = self.reply(turns)
        except EndpointError:
            self.usage.failures += 1
            raise
        prompt = sum(len(m["content"].split()) for m in turns)
        result = ChatResult(text, prompt, len(text.split()))
        self.usage.add(result)
        return result


@dataclass(frozen=True)
class LoggedRequest:
    """One request the fake server received: its idempotency key, the status sent, and the body."""

    key: str | None
    status: int  # 200, 500, 429, or 0 for a hang (no answer sent before the client gave up)
    body: Mapping[str, Any]
    at: float


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one small reply must not wait for a delayed ACK
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            body = json.loads(raw or b"null")
            messages = body["messages"]
            assert isinstance(messages, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            self._send(400, {"error": {"message": "expected a JSON body with 'messages'", "type": "invalid"}})
            return
        outcome = fake._decide()
        fake._record(self.headers.get(IDEMPOTENCY_HEADER), outcome, body)
        if fake.latency:
            time.sleep(fake.latency)
        if outcome == 0:
            time.sleep(fake.hang_seconds)
            self.close_connection = True
            return
        if outcome != 200:
            extra = {"Retry-After": fake.retry_after} if outcome == 429 else {}
            self._send(outcome, {"error": {"message": f"injected {outcome}", "type": "fake"}}, extra)
            return
        self._send(200, fake._completion(body))

    def _send(
        self, status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (timed out, or was killed) is normal here: no traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeOpenAIServer:
    """A fake `/v1/chat/completions` server on 127.0.0.1; use as a context manager.

    Each request first waits `latency` seconds, then fails with 500 (`fail_500`), 429 with a
    Retry-After of `retry_after` seconds (`fail_429`), hangs `hang_seconds` (`hang`), or answers
    `reply(messages)`. Failure draws come from a seeded RNG. `calls` counts requests; `log`
    holds a `LoggedRequest` each, in arrival order.
    """

    def __init__(
        self,
        reply: Reply = echo_reply,
        *,
        latency: float = 0.0,
        fail_500: float = 0.0,
        fail_429: float = 0.0,
        hang: float = 0.0,
        hang_seconds: float = 30.0,
        retry_after: str = "0",
        seed: int = 0,
        model: str = "fake-model",
    ) -> None:
        self.reply = reply
        self.latency = latency
        self.fail_500, self.fail_429, self.hang = fail_500, fail_429, hang
        self.hang_seconds = hang_seconds
        self.retry_after = retry_after
        self.model = model
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> FakeOpenAIServer:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start the server first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ending in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self._log)

    @property
    def log(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def keys(self, status: int | None = 200) -> list[str | None]:
        """Idempotency keys of logged requests (only those answered with `status`; None: all)."""
        return [r.key for r in self.log if status is None or r.status == status]

    def _decide(self) -> int:
        with self._lock:
            draw = self._rng.random()
        for status, rate in ((500, self.fail_500), (429, self.fail_429), (0, self.hang)):
            if draw < rate:
                return status
            draw -= rate
        return 200

    def _record(self, key: str | None, status: int, body: Mapping[str, Any]) -> None:
        with self._lock:
            self._log.append(LoggedRequest(key, status, body, time.monotonic()))

    def _completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        text = self.reply(messages)
        prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
        return {
            "id": f"chatcmpl-fake-{self.calls}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model") or self.model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": len(text.split()),
                "total_tokens": prompt + len(text.split()),
            },
        }
