"""The batching worker: concurrent requests wait in a bounded queue and run as one engine batch.

Owns the queue (full -> QueueFull, which the server turns into 503 + Retry-After), the worker
thread that takes up to `max_batch` waiting requests (waiting `batch_wait_ms` for more to
arrive), and handing each request's deltas back to its asyncio event loop. It does not
validate requests (serving.py) or know HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from metaalign.engine.base import Completion, GenerationRequest


class QueueFull(Exception):
    """More requests are waiting than the queue holds."""


@dataclass
class Job:
    """One submitted request; its events arrive on `events`: str deltas, then a Completion or an error."""

    request: GenerationRequest
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue = field(default_factory=asyncio.Queue)

    def put(self, event: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop is gone (shutdown): nobody to tell
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)


class Batcher:
    """Feeds an engine (`generate(requests, on_delta=...)`) from a bounded queue on one thread."""

    def __init__(self, engine: Any, *, max_queue: int = 64, max_batch: int = 16, batch_wait_ms: float = 10.0):
        self.engine = engine
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.batch_wait = batch_wait_ms / 1000
        self.waiting: deque[Job] = deque()
        self.running = 0
        self.served = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._work, name="metaalign-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: GenerationRequest) -> Job:
        """Queues `request` for the current event loop; raises QueueFull when the queue is full."""
        job = Job(request, asyncio.get_running_loop())
        with self._cond:
            if len(self.waiting) >= self.max_queue:
                raise QueueFull(f"{len(self.waiting)} requests are already waiting")
            self.waiting.append(job)
            self._cond.notify()
        return job

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _take(self) -> list[Job] | None:
        with self._cond:
            while not self.waiting and not self._stop:
                self._cond.wait()
            if self._stop:
                return None
            deadline = time.monotonic() + self.batch_wait
            while len(self.waiting) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            batch = [self.waiting.popleft() for _ in range(min(self.max_batch, len(self.waiting)))]
            self.running = len(batch)
            return batch

    def _work(self) -> None:
        while (batch := self._take()) is not None:
            finished: set[int] = set()

            def on_delta(
                i: int,
                text: str,
                done: Completion | None,
                batch: list[Job] = batch,
                finished: set[int] = finished,
            ) -> None:
                if text:
                    batch[i].put(text)
                if done is not None:
                    finished.add(i)
                    batch[i].put(done)

            try:
                results = self.engine.generate([job.request for job in batch], on_delta=on_delta)
                for i, completion in enumerate(results):  # an engine that reported no end still ends
                    if i not in finished:
                        batch[i].put(completion)
            except Exception as err:  # the engine failed: every request of the batch learns why
                for i, job in enumerate(batch):
                    if i not in finished:
                        job.put(err)
            with self._cond:
                self.running = 0
                self.served += len(batch)
