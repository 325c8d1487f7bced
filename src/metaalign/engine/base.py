"""The `Engine` protocol every stage generates through, its request and result types, and a fake.

Owns the contract only: what a request holds (the three tiers plus sampling settings) and
what comes back, plus the optional streaming callback and a thread-backed `stream_from`.
Backends (hf.py, vllm.py, ctranslate2_engine.py) implement it elsewhere; the fake here lets
tests of build, eval and serve run without a model.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# on_delta(index into the requests, new text, the Completion once that request is done else None)
DeltaCallback = Callable[[int, str, "Completion | None"], None]


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: System Info, User Info and a dialogue ending with a user turn."""

    system_info: str | None
    user_info: str | None
    dialogue: Sequence[Mapping[str, str]]
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @classmethod
    def for_query(cls, system_info: str | None, user_info: str | None, query: str, **kw) -> GenerationRequest:
        return cls(system_info, user_info, ({"role": "user", "content": query},), **kw)


@dataclass(frozen=True)
class Completion:
    """What an engine produced for one request."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end-of-turn or a stop string) or "length"


@runtime_checkable
class Engine(Protocol):
    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]: ...


@runtime_checkable
class StreamingEngine(Protocol):
    """An Engine whose `generate` also reports text deltas and each request's end as they happen."""

    def generate(
        self, requests: Sequence[GenerationRequest], on_delta: DeltaCallback | None = None
    ) -> list[Completion]: ...


@dataclass
class FakeEngine:
    """Answers with `respond(request)` (default: echoes the last user turn); records requests."""

    respond: Callable[[GenerationRequest], str] = lambda r: f"echo: {r.dialogue[-1]['content']}"
    seen: list[GenerationRequest] = field(default_factory=list)

    def generate(
        self, requests: Sequence[GenerationRequest], on_delta: DeltaCallback | None = None
    ) -> list[Completion]:
        self.seen.extend(requests)
        completions = [self._complete(request) for request in requests]
        if on_delta is not None:
            for i, completion in enumerate(completions):
                for k, word in enumerate(completion.text.split(" ")):
                    on_delta(i, word if k == 0 else " " + word, None)
                on_delta(i, "", completion)
        return completions

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        return stream_from(self, request)

    def _complete(self, request: GenerationRequest) -> Completion:
        """One word counts as one token; past `max_new_tokens` words the answer is cut."""
        words = cut_at_stop(self.respond(request), request.stop).split(" ")
        kept = words[: request.max_new_tokens]
        finish = "length" if len(words) > request.max_new_tokens else "stop"
        return Completion(" ".join(kept), self.prompt_tokens(request), len(kept), finish)

    def prompt_tokens(self, request: GenerationRequest) -> int:
        """The fake's token count of a prompt: the words of its dialogue."""
        return sum(len(turn["content"].split()) for turn in request.dialogue)


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    cuts = [text.index(s) for s in stop if s and s in text]
    return text[: min(cuts)] if cuts else text


def stream_from(engine: StreamingEngine, request: GenerationRequest) -> Iterator[str]:
    """Runs `engine.generate([request])` in a thread and yields its text deltas as they arrive.

    An error inside the engine is raised again here, in the caller's thread.
    """
    deltas: queue.Queue[tuple[str, bool] | BaseException] = queue.Queue()

    def work() -> None:
        try:
            engine.generate([request], on_delta=lambda _i, text, done: deltas.put((text, done is not None)))
        except BaseException as err:  # handed to the consumer, never lost in the thread
            deltas.put(err)

    threading.Thread(target=work, daemon=True).start()
    while True:
        item = deltas.get()
        if isinstance(item, BaseException):
            raise item
        text, done = item
        if text:
            yield text
        if done:
            return
