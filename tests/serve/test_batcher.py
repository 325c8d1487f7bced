"""The batching worker: concurrent requests share engine batches; engine errors reach every caller."""

from __future__ import annotations

import asyncio

import pytest

from metaalign.engine import Completion, FakeEngine, GenerationRequest
from metaalign.serve.batcher import Batcher, QueueFull


class CountingEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def generate(self, requests, on_delta=None):
        self.batches.append(len(requests))
        return super().generate(requests, on_delta)


async def answer(job) -> tuple[str, Completion | BaseException]:
    text = ""
    while True:
        event = await job.events.get()
        if isinstance(event, str):
            text += event
        else:
            return text, event


def test_concurrent_requests_run_as_one_batch_and_each_gets_its_own_answer() -> None:
    engine = CountingEngine()
    batcher = Batcher(engine, max_queue=16, max_batch=8, batch_wait_ms=300)

    async def main():
        jobs = [batcher.submit(GenerationRequest.for_query(None, None, f"q{i}")) for i in range(8)]
        return await asyncio.gather(*(answer(j) for j in jobs))

    try:
        results = asyncio.run(main())
    finally:
        batcher.close()
    assert engine.batches == [8]
    assert [text for text, _ in results] == [f"echo: q{i}" for i in range(8)]
    assert all(isinstance(done, Completion) and done.text == text for text, done in results)


def test_an_engine_error_reaches_every_request_of_the_batch_and_the_worker_survives() -> None:
    class Broken(FakeEngine):
        calls = 0

        def generate(self, requests, on_delta=None):
            Broken.calls += 1
            if Broken.calls == 1:
                raise RuntimeError("out of memory")
            return super().generate(requests, on_delta)

    batcher = Batcher(Broken(), max_queue=4, max_batch=4, batch_wait_ms=100)

    async def main():
        jobs = [batcher.submit(GenerationRequest.for_query(None, None, "q")) for _ in range(2)]
        failed = await asyncio.gather(*(answer(j) for j in jobs))
        later = await answer(batcher.submit(GenerationRequest.for_query(None, None, "again")))
        return failed, later

    try:
        failed, later = asyncio.run(main())
    finally:
        batcher.close()
    assert all(isinstance(event, RuntimeError) for _, event in failed)
    assert later[0] == "echo: again"


def test_a_full_queue_refuses_at_once() -> None:
    class Stuck(FakeEngine):
        def generate(self, requests, on_delta=None):
            raise AssertionError("never reached: the worker is stopped first")

    batcher = Batcher(Stuck(), max_queue=2, max_batch=1)
    batcher.close()  # no worker: requests stay queued

    async def main():
        for _ in range(2):
            batcher.submit(GenerationRequest.for_query(None, None, "q"))
        with pytest.raises(QueueFull):
            batcher.submit(GenerationRequest.for_query(None, None, "q"))

    asyncio.run(main())
