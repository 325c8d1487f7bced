"""The Python API: load a (MetaAligned or any chat) model and generate under meta-prompts.

Owns `MetaAlignModel`: `load(ref)`, `generate(...)` for one input or many, `stream(...)`. It
builds GenerationRequests and calls an Engine; rendering, batching and prefix reuse are the
engine's, and building one is `metaalign.engine.load`'s (backends are imported only when chosen).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from metaalign.engine.base import Completion, GenerationRequest, stream_from
from metaalign.models.resolver import DEFAULT_MODEL

Dialogue = Sequence[Mapping[str, str]]


class MetaAlignModel:
    """A model plus its engine. `generate` returns text; `complete` returns Completions (token counts)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    @classmethod
    def load(
        cls, ref: str = DEFAULT_MODEL, *, backend: str = "transformers", **engine_kw: Any
    ) -> MetaAlignModel:
        """`ref` is an alias, a folder, a GGUF file or a cached hub id; backend 'transformers', 'vllm'
        or 'ctranslate2'.

        `engine_kw` are `metaalign.engine.load.load_engine`'s: batch_size, threads, dtype, and options.
        """
        from metaalign.engine.load import load_engine

        return cls(load_engine(ref, backend, **engine_kw))

    def complete(
        self,
        *,
        system_info: str | Sequence[str | None] | None = None,
        user_info: str | Sequence[str | None] | None = None,
        query: str | Sequence[str] | None = None,
        dialogue: Dialogue | Sequence[Dialogue] | None = None,
        **sampling: Any,
    ) -> Completion | list[Completion]:
        """Like `generate`, but returns Completion objects (text, token counts, finish reason)."""
        requests, many = build_requests(system_info, user_info, query, dialogue, **sampling)
        out = self.engine.generate(requests)
        return out if many else out[0]

    def generate(self, **kw: Any) -> str | list[str]:
        """One answer (str) or many (list, in order).

        Many inputs: pass a list as `query` or a list of dialogues as `dialogue`; `system_info`
        and `user_info` are then one string for all, or a list of the same length. Sampling
        settings (max_new_tokens, temperature, top_p, seed, stop) apply to every input.
        """
        out = self.complete(**kw)
        return [c.text for c in out] if isinstance(out, list) else out.text

    def stream(
        self,
        *,
        system_info: str | None = None,
        user_info: str | None = None,
        query: str | None = None,
        dialogue: Dialogue | None = None,
        **sampling: Any,
    ) -> Iterator[str]:
        """The answer to one input, as text deltas while it is generated."""
        requests, many = build_requests(system_info, user_info, query, dialogue, **sampling)
        if many:
            raise ValueError("stream takes one input; call it once per input")
        return stream_from(self.engine, requests[0])


def build_requests(
    system_info: Any, user_info: Any, query: Any, dialogue: Any, **sampling: Any
) -> tuple[list[GenerationRequest], bool]:
    """GenerationRequests for one input or many, and whether many were given."""
    if (query is None) == (dialogue is None):
        raise ValueError("pass exactly one of query= or dialogue=")
    if query is not None:
        many = not isinstance(query, str)
        dialogues = [({"role": "user", "content": q},) for q in (query if many else [query])]
    else:
        many = bool(dialogue) and not isinstance(dialogue[0], Mapping)
        dialogues = [tuple(d) for d in (dialogue if many else [dialogue])]
    count = len(dialogues)
    systems = _per_input(system_info, count, "system_info", many)
    users = _per_input(user_info, count, "user_info", many)
    if "stop" in sampling and isinstance(sampling["stop"], str):
        sampling["stop"] = (sampling["stop"],)
    elif "stop" in sampling:
        sampling["stop"] = tuple(sampling["stop"] or ())
    requests = [
        GenerationRequest(s, u, d, **sampling) for s, u, d in zip(systems, users, dialogues, strict=True)
    ]
    return requests, many


def _per_input(value: Any, count: int, name: str, many: bool) -> list[str | None]:
    if value is None or isinstance(value, str):
        return [value] * count
    if not many:
        raise ValueError(f"{name}: a list needs a list of queries or dialogues")
    if len(value) != count:
        raise ValueError(f"{name}: {len(value)} values for {count} inputs")
    return list(value)
