"""The batching worker: concurrent requests wait in a bounded queue and are fed to the engine.

Owns the queue (full -> QueueFull, which the server turns into 503 + Retry-After), the worker
thread, and handing each request's deltas back to its asyncio event loop. Two schedules:
continuous (engines with `decoder()`: a request joins the running batch at the next step and
a finished or cancelled row frees its slot at once) and static (any engine: up to `max_batch`
waiting requests run as one `generate` call, after waiting `batch_wait_ms` for more to arrive).
`close(timeout)` ends in-flight work within the bound. It does not validate requests
(serving.py) or know HTTP.
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


Prompt = tuple[list[int], int]  # a rendered prompt's ids and its reusable prefix length (engine.prompt_ids)


@dataclass
class Job:
    """One submitted request; its events arrive on `events`: str deltas, then a Completion or an error.

    `prompt` is the request's ids when the server rendered them already (the engine does not again).
    """

    request: GenerationRequest
    loop: asyncio.AbstractEventLoop
    prompt: Prompt | None = None
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: bool = False  # the client has gone: drop the request at the next step

    def cancel(self) -> None:
        self.cancelled = True

    def put(self, event: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop is gone (shutdown): nobody to tell
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)


class Batcher:
    """Feeds an engine (`generate(requests, on_delta=...)`) from a bounded queue on one thread."""

    def __init__(
        self,
        engine: Any,
        *,
        max_queue: int = 64,
        max_batch: int = 16,
        batch_wait_ms: float = 10.0,
        scheduling: str = "continuous",
    ):
        self.engine = engine
        self.continuous = scheduling == "continuous" and callable(getattr(engine, "decoder", None))
        self.cancelled = 0  # requests dropped (waiting or mid-generation) because their client went away
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.batch_wait = batch_wait_ms / 1000
        self.waiting: deque[Job] = deque()
        self.running = 0
        self.served = 0
        self._cond = threading.Condition()
        self._stop = False
        work = self._work_continuous if self.continuous else self._work
        self._thread = threading.Thread(target=work, name="metaalign-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: GenerationRequest, prompt: Prompt | None = None) -> Job:
        """Queues `request` (and its rendered ids, if known) for the current event loop; raises QueueFull."""
        job = Job(request, asyncio.get_running_loop(), prompt)
        with self._cond:
            if len(self.waiting) >= self.max_queue:
                raise QueueFull(f"{len(self.waiting)} requests are already waiting")
            self.waiting.append(job)
            self._cond.notify()
        return job

    def close(self, timeout: float = 5.0) -> None:
        """Stops taking work; in-flight requests end (with an error) at the next step, within `timeout`."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=timeout)

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
            self.cancelled += sum(job.cancelled for job in batch)
            batch = [job for job in batch if not job.cancelled]
            self.running = len(batch)
            return batch

    def _admit(self, free: int) -> list[Job] | None:
        """Waiting jobs for up to `free` slots (waiting for some when nothing runs); None once stopped."""
        with self._cond:
            while not self.waiting and not self._stop and free == self.max_batch:
                self._cond.wait()
            if self._stop:
                return None
            if free == self.max_batch:  # an idle engine waits a moment for a batch to gather
                deadline = time.monotonic() + self.batch_wait
                while len(self.waiting) < free and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
            jobs = []
            while self.waiting and len(jobs) < free:
                job = self.waiting.popleft()
                if job.cancelled:  # gone before it started: nothing to do
                    self.cancelled += 1
                else:
                    jobs.append(job)
            self.running = self.max_batch - free + len(jobs)
            return jobs

    def _work_continuous(self) -> None:
        decoder = self.engine.decoder()
        while (jobs := self._admit(self.max_batch - decoder.active)) is not None:
            try:
                if jobs and decoder.joinable:
                    entries = [(job.request, _emitter(job), job) for job in jobs]
                    self._finish(decoder.admit(entries, [job.prompt for job in jobs]))
                elif jobs:  # this model's cache cannot take rows mid-batch: they wait their turn
                    with self._cond:
                        self.waiting.extendleft(reversed(jobs))
                self.cancelled += len(decoder.cancel(lambda job: job.cancelled))
                self._finish(decoder.step())
            except Exception as err:  # the engine failed: every running request learns why
                for job in [*jobs, *(row.tag for row in decoder.batch.rows)]:
                    job.put(err)
                decoder = self.engine.decoder()
            with self._cond:
                self.running = decoder.active
        for row in decoder.batch.rows:  # stopped: in-flight requests end now, with a reason
            row.tag.put(RuntimeError("the server is shutting down"))
        with self._cond:
            self.running = 0

    def _finish(self, done: list[tuple[Job, Completion]]) -> None:
        for job, completion in done:
            job.put(completion)
        if done:
            with self._cond:
                self.served += len(done)

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

            requests = [job.request for job in batch]
            prompts = [job.prompt for job in batch]
            try:
                if all(p is not None for p in prompts):  # rendered by the server already: not again
                    results = self.engine.generate(requests, on_delta=on_delta, prompts=prompts)
                else:
                    results = self.engine.generate(requests, on_delta=on_delta)
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
                # a static batch cannot drop a row mid-way: clients that left while it ran count now
                self.cancelled += sum(job.cancelled for job in batch)


def _emitter(job: Job):
    return lambda delta: job.put(delta)
