"""The `ChatClient` protocol and its OpenAI-compatible implementation over async httpx.

Owns one chat-completion call: the concurrency limit, retries with exponential backoff and
jitter (429, 5xx, timeouts, dropped connections), Retry-After, and token/cost counters.
It does not build prompts (metaalign.render.chat_messages does) nor decide what to do with
an item whose retries are spent (the caller gets an `EndpointError` and keeps it pending).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx

from metaalign.errors import MetaAlignError

Messages = Sequence[Mapping[str, str]]
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
IDEMPOTENCY_HEADER = "Idempotency-Key"


class EndpointError(MetaAlignError):
    """A call that failed for good: a non-retryable answer, or every retry spent."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True)
class ChatResult:
    """The assistant text of one completion, its token usage and its cost in the configured currency."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    attempts: int = 1


@dataclass
class Usage:
    """Running counters of a client: calls that succeeded or failed, retries, tokens and cost."""

    calls: int = 0
    failures: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, result: ChatResult) -> None:
        self.calls += 1
        self.retries += result.attempts - 1
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.cost += result.cost

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "failures": self.failures,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": round(self.cost, 6),
        }


@runtime_checkable
class ChatClient(Protocol):
    """Anything that answers chat messages asynchronously (an endpoint, or a fake)."""

    usage: Usage

    async def complete(
        self,
        messages: Messages,
        *,
        temperature: float = 0.0,
        max_tokens: int = 256,
        seed: int | None = None,
        idempotency_key: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ChatResult: ...


class _Retry(Exception):
    """A failed attempt worth retrying; `wait` is the server's Retry-After in seconds, if any."""

    def __init__(self, reason: str, *, status: int | None = None, wait: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.wait = wait


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class OpenAIChatClient:
    """Calls `POST {base_url}/chat/completions` of any OpenAI-compatible server (vLLM, hosted APIs).

    `price_prompt` / `price_completion` are per million tokens. `backoff` is the first retry
    delay; each retry doubles it up to `backoff_max`, with full jitter (seeded by `jitter_seed`).
    A Retry-After header (capped at `backoff_max`) replaces the computed delay when longer.
    """

    base_url: str
    model: str
    api_key: str | None = None
    concurrency: int = 8
    max_retries: int = 5
    timeout: float = 60.0
    backoff: float = 0.5
    backoff_max: float = 30.0
    price_prompt: float = 0.0
    price_completion: float = 0.0
    jitter_seed: int | None = None
    transport: httpx.AsyncBaseTransport | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    usage: Usage = field(default_factory=Usage)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise MetaAlignError(f"endpoint concurrency: expected an integer >= 1, got {self.concurrency}")
        self._rng = random.Random(self.jitter_seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lanes: list[httpx.AsyncClient] = []
        self._free: asyncio.Queue[int] | None = None

    def _session(self) -> tuple[list[httpx.AsyncClient], asyncio.Queue[int]]:
        """The connection lanes and the queue of free lanes of the running event loop.

        Each of the `concurrency` lanes is an httpx client with one keep-alive connection; a call
        takes a free lane from the queue (that is the concurrency limit) and gives it back. One
        pool of N connections costs O(N) per request in httpcore; N pools of one cost O(1).
        """
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._free is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            tls = httpx.create_ssl_context()  # loading certificates once, not once per lane
            self._lanes = [
                httpx.AsyncClient(
                    base_url=self.base_url.rstrip("/"),
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout),
                    limits=limits,
                    verify=tls,
                    transport=self.transport,
                )
                for _ in range(self.concurrency)
            ]
            self._free = asyncio.Queue()
            for lane in range(self.concurrency):
                self._free.put_nowait(lane)
            self._loop = loop
        return self._lanes, self._free

    async def aclose(self) -> None:
        """Close the HTTP connections of the current loop's lanes (safe to call twice)."""
        if self._loop is asyncio.get_running_loop():
            for lane in self._lanes:
                await lane.aclose()
        self._lanes, self._free, self._loop = [], None, None

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff * 2 ** (attempt - 1))
        jittered = ceiling * (0.5 + 0.5 * self._rng.random())
        if retry_after is not None:
            return max(jittered, min(retry_after, self.backoff_max))
        return jittered

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
        """One completion. `extra_body` adds fields outside the OpenAI spec (e.g. `metaalign` tiers)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        if seed is not None:
            body["seed"] = seed
        body.update(extra_body or {})
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else {}
        lanes, free = self._session()
        last: _Retry | None = None
        for attempt in range(1, self.max_retries + 2):
            if last is not None:
                await self.sleep(self.delay(attempt - 1, last.wait))
            try:
                lane = await free.get()
                try:
                    result = await self._attempt(lanes[lane], body, headers)
                finally:
                    free.put_nowait(lane)
            except _Retry as retry:
                last = retry
                continue
            except EndpointError:
                self.usage.failures += 1
                raise
            result = ChatResult(
                result.text, result.prompt_tokens, result.completion_tokens, result.cost, attempt
            )
            self.usage.add(result)
            return result
        self.usage.failures += 1
        self.usage.retries += self.max_retries
        assert last is not None
        raise EndpointError(
            f"{self.base_url}: gave up after {self.max_retries + 1} attempts: {last}",
            status=last.status,
            attempts=self.max_retries + 1,
        )

    async def _attempt(self, http: httpx.AsyncClient, body: dict, headers: dict) -> ChatResult:
        try:
            response = await http.post("/chat/completions", json=body, headers=headers)
        except httpx.TimeoutException as err:
            raise _Retry(f"timed out after {self.timeout:g} s ({type(err).__name__})") from err
        except httpx.TransportError as err:
            raise _Retry(f"connection error: {type(err).__name__}: {err}") from err
        if response.status_code in RETRY_STATUS:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            raise _Retry(f"HTTP {response.status_code}", status=response.status_code, wait=wait)
        if response.status_code >= 400:
            raise EndpointError(
                f"{self.base_url}: HTTP {response.status_code}: {response.text[:300]}",
                status=response.status_code,
            )
        return self._parse(response)

    def _parse(self, response: httpx.Response) -> ChatResult:
        try:
            data = response.json()
            text = data["choices"][0]["message"]["content"] or ""
            usage = data.get("usage") or {}
            prompt = int(usage.get("prompt_tokens") or 0)
            completion = int(usage.get("completion_tokens") or 0)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
            raise _Retry(f"malformed completion body ({type(err).__name__})") from err
        cost = (prompt * self.price_prompt + completion * self.price_completion) / 1e6
        return ChatResult(str(text), prompt, completion, cost)
