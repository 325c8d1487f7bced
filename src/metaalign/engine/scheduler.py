"""Iteration-level (continuous) batching of the decode loop: requests join between steps, rows leave at once.

Owns one engine's running batch: admitting requests into free slots (grouped by shared prefix
so a prefix's KV copy is reused), stepping, handing back each finished row's Completion, and
dropping rows whose caller has gone. Callers: TransformersEngine.generate (a list of requests)
and the server's Batcher (requests that arrive while others decode). It does not render
prompts or choose prefixes (hf.py) nor run the model (decode.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from metaalign.engine.base import Completion, GenerationRequest
from metaalign.engine.decode import DecodeBatch, Row
from metaalign.engine.kvcache import mergeable

Emit = Callable[[str], None]  # receives one request's text deltas
Entry = tuple[GenerationRequest, Emit | None, Any]  # a request, its delta sink, the caller's tag


class ContinuousDecoder:
    """The running batch of a TransformersEngine; `admit` between `step`s, `cancel` any time between them."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.batch = DecodeBatch(engine.model, pad_id=engine.pad_id, end_ids=engine.end_ids)
        self.cancelled = 0

    @property
    def active(self) -> int:
        """Rows decoding now."""
        return len(self.batch.rows)

    @property
    def joinable(self) -> bool:
        """Whether new rows can join now (caches of sliding-window models only join an empty batch)."""
        return not self.batch.rows or mergeable(self.batch.cache)

    def admit(
        self, entries: Sequence[Entry], prompts: Sequence[tuple[list[int], int] | None] | None = None
    ) -> list[tuple[Any, Completion]]:
        """Prefills `entries` into the batch (their first token included); (tag, Completion) of any
        that finished on it. `prompts` are their `engine.prompt_ids`, where known already (None: not)."""
        engine = self.engine
        known = list(prompts) if prompts is not None else [None] * len(entries)
        prompts = [
            p if p is not None else engine.prompt_ids(e[0]) for e, p in zip(entries, known, strict=True)
        ]
        done: list[Row] = []
        for key, indices in engine._plan(prompts):
            indices.sort(key=lambda i: len(prompts[i][0]))  # similar lengths pad less
            prefix = engine.prefixes.get(engine.model, key) if key and engine.prefixes is not None else None
            rows = [engine._row(entries[i][0], prompts[i][0], entries[i][1], entries[i][2]) for i in indices]
            done += self.batch.add(rows, prefix)
        return [(row.tag, completion_of(row)) for row in done]

    def step(self) -> list[tuple[Any, Completion]]:
        """One token for every row; (tag, Completion) of the rows that finished."""
        return [(row.tag, completion_of(row)) for row in self.batch.step()]

    def cancel(self, gone: Callable[[Any], bool]) -> list[Any]:
        """Drops the rows whose tag `gone(tag)` names; returns their tags."""
        dropped = self.batch.drop(lambda row: gone(row.tag))
        self.cancelled += len(dropped)
        return [row.tag for row in dropped]


def completion_of(row: Row) -> Completion:
    return Completion(row.stream.text, len(row.ids), len(row.generated), row.finish or "stop")
