"""The logic of `/v1/chat/completions`: authenticate, rate-limit, resolve tiers, tokenize, queue, answer.

Owns `ChatService.handle` (authenticate -> rate limit -> prepare -> tokenize -> submit, in that
order, so a refused request costs no tokenizing), turning a validated ChatCompletionRequest into a
GenerationRequest (through trust.py), the per-key rate limits, input limits (max tokens, context
window), rendering the prompt once off the event loop, and building the non-streaming response or
the SSE chunk stream. HTTP wiring is router.py's; shapes are protocol.py's; the queue batcher.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metaalign.engine.base import Completion, GenerationRequest
from metaalign.errors import MetaAlignError
from metaalign.serve.batcher import Batcher, Job, Prompt, QueueFull
from metaalign.serve.config import KeyConfig, ServeConfig
from metaalign.serve.protocol import (
    IGNORED_OPENAI_FIELDS,
    AssistantMessage,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    Choice,
    ChunkChoice,
    DeltaMessage,
    MetaAlignInfo,
    RenderResponse,
    Usage,
    completion_id,
)
from metaalign.serve.trust import HIDDEN_SYSTEM_INFO, Refused, Tiers, hides_system_info, resolve_tiers

DISCONNECT_POLL_S = 0.5  # how often a waiting non-streamed request checks that its client is still there
CHARS_PER_TOKEN_BOUND = 16  # no tokenizer packs more characters than this into one token on average


class APIError(Refused):
    """A Refused with optional response headers (Retry-After, WWW-Authenticate)."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None, headers=None) -> None:
        super().__init__(status, message, code, param)
        self.headers = headers or {}


class ClientGone(Exception):
    """The client closed its connection before its answer was ready."""


Disconnected = Callable[[], Awaitable[bool]]  # true once the client has hung up


@dataclass
class Reply:
    """What `handle` answers: the whole response, or the SSE lines of a stream; plus extra headers."""

    headers: dict[str, str]
    response: ChatCompletionResponse | None = None
    stream: AsyncIterator[str] | None = None


class RateLimiter:
    """At most `limit` requests per key in any 60-second window."""

    def __init__(self) -> None:
        self.calls: dict[str, deque[float]] = {}

    def check(self, key: KeyConfig, now: float | None = None) -> None:
        if key.requests_per_minute is None:
            return
        now = time.monotonic() if now is None else now
        calls = self.calls.setdefault(key.key, deque())
        while calls and calls[0] <= now - 60:
            calls.popleft()
        if len(calls) >= key.requests_per_minute:
            wait = max(1, math.ceil(calls[0] + 60 - now))
            raise APIError(
                429,
                f"rate limit of {key.requests_per_minute} requests per minute reached for this "
                f"key; retry in {wait} s",
                "rate_limit_exceeded",
                headers={"Retry-After": str(wait)},
            )
        calls.append(now)


class ChatService:
    """Everything behind the routes for one served model (registry.py picks it by name)."""

    def __init__(
        self,
        engine: Any,
        config: ServeConfig,
        *,
        context_window: int | None = None,
        name: str | None = None,
        renderer: Any = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.name = name or config.served_model_name
        self.renderer = renderer if renderer is not None else getattr(engine, "renderer", None)
        self.context_window = (
            config.context_window or context_window or getattr(engine, "context_window", None)
        )
        self.batcher = Batcher(
            engine,
            max_queue=config.max_queue,
            max_batch=config.max_batch,
            batch_wait_ms=config.batch_wait_ms,
            scheduling=config.scheduling,
        )
        self.limiter = RateLimiter()

    async def handle(
        self, body: ChatCompletionRequest, authorization: str | None, disconnected: Disconnected | None = None
    ) -> Reply:
        """One chat completion: authenticate -> rate limit -> prepare -> tokenize -> submit -> answer.

        Raises APIError (4xx, or 503 for a full queue or a failed engine) and ClientGone when a
        non-streamed client hangs up before its answer (its request is dropped from the batch).
        """
        key = self.authenticate(authorization)
        self.limiter.check(key)
        request, info = self.prepare(body, key)
        prompt = await self.tokenize(request)
        job = self.submit(request, prompt)
        headers = {"X-MetaAlign-Warnings": "; ".join(info.warnings)[:2000]} if info.warnings else {}
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return Reply(headers, stream=self.stream(job, include_usage, info))
        return Reply(headers, response=await self.complete(job, info, disconnected))

    def authenticate(self, authorization: str | None) -> KeyConfig:
        token = None
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        key = self.config.find_key(token)
        if key is None:
            why = "no API key given" if not token else "the API key is not valid"
            raise APIError(
                401,
                f"{why}; send 'Authorization: Bearer <key>'",
                "invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return key

    def prepare(self, body: ChatCompletionRequest, key: KeyConfig) -> tuple[GenerationRequest, MetaAlignInfo]:
        """The engine request for `body` under `key`'s role, and what to report back; raises APIError."""
        if body.model != self.name:
            raise APIError(
                404, f"model '{body.model}' is not served here; use '{self.name}'", "model_not_found", "model"
            )
        if body.n != 1:
            raise APIError(400, "only n=1 is supported", "unsupported_parameter", "n")
        warnings = self._field_warnings(body)
        tiers = resolve_tiers(body, key.role, self.config)
        max_tokens = body.max_completion_tokens or body.max_tokens or self.config.default_max_tokens
        if max_tokens > self.config.max_tokens_limit:
            raise APIError(
                400,
                f"max_tokens is {max_tokens}; this server allows at most {self.config.max_tokens_limit}",
                "invalid_value",
                "max_tokens",
            )
        stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
        request = GenerationRequest(
            tiers.system_info,
            tiers.user_info,
            tiers.dialogue,
            max_new_tokens=max_tokens,
            temperature=1.0 if body.temperature is None else body.temperature,
            top_p=1.0 if body.top_p is None else body.top_p,
            seed=body.seed,
            stop=stop,
        )
        self._check_chars(request.dialogue, request.user_info)
        info = MetaAlignInfo(
            warnings=warnings,
            system_info_source=tiers.system_info_source,
            demoted_system_messages=tiers.demoted,
        )
        return request, info

    async def render(self, body: ChatCompletionRequest, key: KeyConfig) -> RenderResponse:
        """The prompt `body` becomes under `key`'s role, as the engine renders it; raises APIError.

        A user key sees a marked placeholder where the deployer's System Info is (trust.py).
        """
        if body.model != self.name:
            raise APIError(
                404, f"model '{body.model}' is not served here; use '{self.name}'", "model_not_found", "model"
            )
        if self.renderer is None:
            raise APIError(
                404,
                f"model '{self.name}' has no renderer on this server (a test engine)",
                "render_unavailable",
            )
        tiers = resolve_tiers(body, key.role, self.config)
        self._check_chars(tiers.dialogue, tiers.user_info)
        hidden = hides_system_info(key.role, tiers.system_info_source)
        try:
            text, count = await asyncio.to_thread(self._render_text, tiers, hidden)
        except MetaAlignError as err:
            raise APIError(400, str(err), "invalid_messages", "messages") from err
        return RenderResponse(
            model=self.name,
            prompt=text,
            prompt_tokens=count,
            system_info_source=tiers.system_info_source,
            system_info_hidden=hidden,
            context_window=self.context_window,
        )

    def _render_text(self, tiers: Tiers, hidden: bool) -> tuple[str, int]:
        """Runs off the event loop: the text to show and the real prompt's token count."""
        # the engine's tokenizer is shared with its batch thread: take the engine's own lock if it has one
        with getattr(self.engine, "_encode_lock", None) or contextlib.nullcontext():
            rendered = self.renderer.prompt(tiers.system_info, tiers.user_info, tiers.dialogue)
            if not hidden:
                return rendered.text, len(rendered.input_ids)
            # the same layout, with a marked placeholder where the deployer's text is
            shown = self.renderer.text(
                HIDDEN_SYSTEM_INFO, tiers.user_info, tiers.dialogue, add_generation_prompt=True
            )
        return shown, len(rendered.input_ids)

    def _field_warnings(self, body: ChatCompletionRequest) -> list[str]:
        unknown = [f for f in body.extra_fields() if f not in IGNORED_OPENAI_FIELDS]
        if unknown and self.config.strict_fields:
            raise APIError(400, f"unknown fields: {', '.join(unknown)}", "unknown_field", unknown[0])
        warnings = [f"unknown field '{f}' ignored" for f in unknown]
        warnings += [
            f"OpenAI field '{f}' is not supported and was ignored"
            for f in body.extra_fields()
            if f in IGNORED_OPENAI_FIELDS
        ]
        return warnings

    def _check_chars(self, dialogue: Sequence[Mapping[str, str]], user_info: str | None) -> None:
        """A cheap bound before any tokenizing: no prompt with this many characters can fit."""
        if self.context_window is None:
            return
        chars = sum(len(t["content"]) for t in dialogue) + len(user_info or "")
        if chars > self.context_window * CHARS_PER_TOKEN_BOUND:
            raise self._too_long(f"over {self.context_window * CHARS_PER_TOKEN_BOUND} characters", 0)

    async def tokenize(self, request: GenerationRequest) -> Prompt | None:
        """The engine's prompt ids for `request`, rendered once, off the event loop; checks the window.

        Engines with `prompt_ids` get these ids with the request (nothing is rendered again);
        others (the fake, vLLM without it) are only counted, when a context window is set.
        """
        try:
            prompt, count = await asyncio.to_thread(self._encode, request)
        except MetaAlignError as err:
            raise APIError(400, str(err), "invalid_messages", "messages") from err
        max_tokens = request.max_new_tokens
        if count is not None and self.context_window is not None and count + max_tokens > self.context_window:
            raise self._too_long(f"{count} prompt tokens + {max_tokens} max_tokens", max_tokens)
        return prompt

    def _encode(self, request: GenerationRequest) -> tuple[Prompt | None, int | None]:
        """Runs in a worker thread: (ids and prefix cut, or None; the prompt's token count, or None)."""
        encode = getattr(self.engine, "prompt_ids", None)
        if encode is not None:
            prompt = encode(request)
            return prompt, len(prompt[0])
        counter = getattr(self.engine, "prompt_tokens", None)
        if counter is None or self.context_window is None:
            return None, None
        return None, counter(request)

    def _too_long(self, what: str, max_tokens: int) -> APIError:
        return APIError(
            400,
            f"the input is too long: {what} exceed the context window of {self.context_window} "
            "tokens; shorten the messages or lower max_tokens",
            "context_length_exceeded",
            "messages",
        )

    def submit(self, request: GenerationRequest, prompt: Prompt | None = None) -> Job:
        """Queues `request` (with its ids when already rendered); a full queue is a 503."""
        try:
            return self.batcher.submit(request, prompt)
        except QueueFull as err:
            raise APIError(
                503,
                f"the server is overloaded ({err}); retry shortly",
                "server_overloaded",
                headers={"Retry-After": "1"},
            ) from err

    async def complete(
        self, job: Job, info: MetaAlignInfo, disconnected: Disconnected | None = None
    ) -> ChatCompletionResponse:
        """The whole answer; a client that hangs up (`disconnected()` turns true) has its request dropped."""
        event = None
        try:
            event = await self._last_event(job, disconnected)
        finally:
            if not isinstance(event, Completion):
                job.cancel()  # the client went away or the task was cancelled: stop generating
        if isinstance(event, BaseException):  # the engine failed on this batch: retryable
            message = f"generation failed: {event}; retry shortly"
            raise APIError(503, message, "engine_error", headers={"Retry-After": "1"}) from event
        return ChatCompletionResponse(
            model=self.name,
            choices=[Choice(message=AssistantMessage(content=event.text), finish_reason=event.finish_reason)],
            usage=_usage(event),
            metaalign=info,
        )

    @staticmethod
    async def _last_event(job: Job, disconnected: Disconnected | None) -> Completion | BaseException:
        """The job's Completion or error, past its text deltas; raises ClientGone once `disconnected()`.

        The client is asked every DISCONNECT_POLL_S however fast the deltas come (a check made only
        while no delta arrived would never run while a long answer is being generated).
        """
        loop = asyncio.get_running_loop()
        check_at = loop.time() + DISCONNECT_POLL_S
        getter: asyncio.Future | None = None
        try:
            while True:
                getter = getter or asyncio.ensure_future(job.events.get())  # no event is lost across polls
                wait = None if disconnected is None else max(0.0, check_at - loop.time())
                done, _ = await asyncio.wait({getter}, timeout=wait)
                if done:
                    event, getter = getter.result(), None
                    if isinstance(event, BaseException | Completion):
                        return event
                if disconnected is not None and loop.time() >= check_at:
                    if await disconnected():
                        raise ClientGone()
                    check_at = loop.time() + DISCONNECT_POLL_S
        finally:
            if getter is not None:
                getter.cancel()

    async def stream(
        self, job: Job, include_usage: bool, info: MetaAlignInfo | None = None
    ) -> AsyncIterator[str]:
        """SSE lines in the OpenAI chunk format, ending with `data: [DONE]`; the first carries `info`."""
        base = {"id": completion_id(), "created": int(time.time()), "model": self.name}

        def chunk(
            delta: DeltaMessage, finish: str | None = None, usage: Usage | None = None, empty=False, meta=None
        ) -> str:
            choices = [] if empty else [ChunkChoice(delta=delta, finish_reason=finish)]
            payload = ChatCompletionChunk(**base, choices=choices, usage=usage, metaalign=meta)
            return f"data: {json.dumps(payload.model_dump(exclude_none=True))}\n\n"

        finished = False
        try:
            yield chunk(DeltaMessage(role="assistant", content=""), meta=info)
            while True:
                event = await job.events.get()
                if isinstance(event, BaseException):
                    error = {"error": {"message": f"generation failed: {event}", "type": "server_error"}}
                    yield f"data: {json.dumps(error)}\n\n"
                    break
                if isinstance(event, Completion):
                    finished = True
                    yield chunk(DeltaMessage(), finish=event.finish_reason)
                    if include_usage:
                        yield chunk(DeltaMessage(), usage=_usage(event), empty=True)
                    break
                yield chunk(DeltaMessage(content=event))
            yield "data: [DONE]\n\n"
        finally:  # the client hung up (the response is closed mid-stream): stop generating its answer
            if not finished:
                job.cancel()


def _usage(c: Completion) -> Usage:
    return Usage(
        prompt_tokens=c.prompt_tokens,
        completion_tokens=c.completion_tokens,
        total_tokens=c.prompt_tokens + c.completion_tokens,
    )
