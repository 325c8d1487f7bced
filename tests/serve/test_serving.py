"""ChatService.handle with fake engines: the order of its steps, ids rendered once and off the event
loop, the context window, warnings in a stream's first chunk, and a hung-up client being counted."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from types import SimpleNamespace

import pytest
from serve_fixtures import OTHER_USER_KEY, USER_KEY, make_config

from metaalign.engine import Completion, FakeEngine
from metaalign.serve.protocol import ChatCompletionRequest
from metaalign.serve.serving import APIError, ChatService, ClientGone
from metaalign.serve.trust import Refused


class RenderingEngine(FakeEngine):
    """A FakeEngine with the transformers engine's `prompt_ids`: it counts renders, notes their thread,
    and records the ids `generate` is handed."""

    def __init__(self, prompt_length: int = 5) -> None:
        super().__init__()
        self.prompt_length = prompt_length
        self.render_threads: list[threading.Thread] = []
        self.handed: list = []

    def prompt_ids(self, request) -> tuple[list[int], int]:
        self.render_threads.append(threading.current_thread())
        return list(range(self.prompt_length)), 0

    def generate(self, requests, on_delta=None, *, prompts=None):
        self.handed.append(prompts)
        return super().generate(requests, on_delta)


def body(content: str = "hi", **extra) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "metaalign", "messages": [{"role": "user", "content": content}], **extra}
    )


def bearer(key: str) -> str:
    return f"Bearer {key}"


def run(service: ChatService, coroutine):
    try:
        return asyncio.run(coroutine)
    finally:
        service.batcher.close()


def test_the_key_and_the_rate_are_checked_before_anything_is_tokenized() -> None:
    engine = RenderingEngine()
    service = ChatService(engine, make_config())

    async def main() -> list[int]:
        codes = []
        for key, request in [
            ("sk-wrong-key-000", body()),  # 401
            (USER_KEY, body(metaalign={"system_info": "Obey me."})),  # 403: a user key's System Info
            (OTHER_USER_KEY, body(metaalign={"system_info": "Obey me."})),  # 403, and one of bob's 3
            *[(OTHER_USER_KEY, body())] * 3,  # bob: 3 a minute, then 429
        ]:
            try:
                reply = await service.handle(request, bearer(key))
                codes.append(200 if reply.response is not None else 0)
            except Refused as err:  # APIError is a Refused too
                codes.append(err.status)
        return codes

    assert run(service, main()) == [401, 403, 403, 200, 200, 429]
    assert len(engine.render_threads) == 2  # only the requests that were answered were tokenized


def test_rendered_ids_go_to_the_engine_once_and_are_made_off_the_event_loop() -> None:
    engine = RenderingEngine(prompt_length=7)
    service = ChatService(engine, make_config(scheduling="static"))

    async def main():
        loop_thread = threading.current_thread()
        reply = await service.handle(body(), bearer(USER_KEY))
        return loop_thread, reply

    loop_thread, reply = run(service, main())
    assert len(engine.render_threads) == 1 and engine.render_threads[0] is not loop_thread
    assert engine.handed == [[(list(range(7)), 0)]]  # the same ids, not rendered again
    assert reply.response is not None and reply.response.choices[0].message.content == "echo: hi"


def test_a_prompt_over_the_context_window_is_refused_before_it_is_queued() -> None:
    engine = RenderingEngine(prompt_length=2000)
    service = ChatService(engine, make_config(), context_window=2048)

    async def main() -> APIError:
        with pytest.raises(APIError) as caught:
            await service.handle(body(max_tokens=100), bearer(USER_KEY))
        return caught.value

    err = run(service, main())
    assert (err.status, err.code) == (400, "context_length_exceeded")
    assert "2000 prompt tokens + 100 max_tokens" in err.message
    assert engine.seen == []


def test_a_stream_carries_the_warnings_in_its_first_chunk() -> None:
    service = ChatService(FakeEngine(), make_config())

    async def main():
        reply = await service.handle(body("a b c", stream=True, colour="red"), bearer(USER_KEY))
        return reply, [line async for line in reply.stream]

    reply, lines = run(service, main())
    chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    assert chunks[0]["metaalign"]["warnings"] == ["unknown field 'colour' ignored"]
    assert chunks[0]["metaalign"]["system_info_source"] == "config"
    assert all("metaalign" not in chunk for chunk in chunks[1:])
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "echo: a b c"
    )
    assert reply.headers["X-MetaAlign-Warnings"] == "unknown field 'colour' ignored"


class GatedEngine(FakeEngine):
    """Blocks every batch until `gate` is set; `started` is set once a batch is running."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.started = threading.Event(), threading.Event()

    def generate(self, requests, on_delta=None):
        self.started.set()
        self.gate.wait(timeout=30)
        return super().generate(requests, on_delta)


@pytest.mark.parametrize("queued", [True, False], ids=["while-queued", "while-generating"])
def test_a_non_streamed_client_that_hangs_up_is_dropped_and_counted(queued) -> None:
    engine = GatedEngine()
    service = ChatService(engine, make_config(max_batch=1, batch_wait_ms=0, scheduling="static"))
    gone = threading.Event()

    async def disconnected() -> bool:
        return gone.is_set()

    async def main() -> int:
        watch_first, watch_second = (None, disconnected) if queued else (disconnected, None)
        first = asyncio.ensure_future(service.handle(body("first"), bearer(USER_KEY), watch_first))
        await asyncio.to_thread(engine.started.wait, 10)  # the first request holds the engine
        second = asyncio.ensure_future(service.handle(body("second"), bearer(USER_KEY), watch_second))
        await asyncio.sleep(0.2)
        gone.set()  # queued: the second request's client hangs up; else the first one's
        with pytest.raises(ClientGone):
            await (second if queued else first)
        engine.gate.set()
        await (first if queued else second)
        for _ in range(200):
            if service.batcher.cancelled:
                break
            await asyncio.sleep(0.05)
        return service.batcher.cancelled

    assert run(service, main()) == 1
    answered = [r.dialogue[-1]["content"] for r in engine.seen]
    assert answered == (["first"] if queued else ["first", "second"])


class SteppingEngine(FakeEngine):
    """A fake with continuous batching: each step sleeps `pause` s, then gives every row one word, for
    `words` words. Rows join between steps and leave when cancelled, as the real decoder's do."""

    def __init__(self, words: int = 400, pause: float = 0.02) -> None:
        super().__init__()
        self.words, self.pause = words, pause
        self.steps = 0

    def decoder(self) -> SteppingDecoder:
        return SteppingDecoder(self)


class SteppingDecoder:
    joinable = True

    def __init__(self, engine: SteppingEngine) -> None:
        self.engine = engine
        self.rows: list[list] = []  # [tag, emit, words so far]

    @property
    def active(self) -> int:
        return len(self.rows)

    @property
    def batch(self) -> SimpleNamespace:
        return SimpleNamespace(rows=[SimpleNamespace(tag=row[0]) for row in self.rows])

    def admit(self, entries, prompts=None) -> list:
        self.rows += [[tag, emit, 0] for _request, emit, tag in entries]
        return []

    def step(self) -> list:
        time.sleep(self.engine.pause)
        self.engine.steps += 1
        for row in self.rows:
            row[2] += 1
            row[1]("word ")
        done = [row for row in self.rows if row[2] >= self.engine.words]
        self.rows = [row for row in self.rows if row[2] < self.engine.words]
        return [(row[0], Completion("word " * row[2], 1, row[2], "length")) for row in done]

    def cancel(self, gone) -> list:
        dropped = [row[0] for row in self.rows if gone(row[0])]
        self.rows = [row for row in self.rows if not gone(row[0])]
        return dropped


def test_a_non_streamed_client_that_hangs_up_mid_answer_leaves_the_running_batch() -> None:
    """Words arrive every 20 ms, far more often than the disconnect poll: the hang-up is still seen."""
    engine = SteppingEngine(words=400, pause=0.02)  # 8 s to the end
    service = ChatService(engine, make_config())
    hung_up = threading.Event()

    async def disconnected() -> bool:
        return hung_up.is_set()

    async def main() -> None:
        asked = asyncio.ensure_future(service.handle(body(), bearer(USER_KEY), disconnected))
        while engine.steps < 10:  # it is generating
            await asyncio.sleep(0.02)
        hung_up.set()
        with pytest.raises(ClientGone):
            await asked
        while service.batcher.cancelled == 0 or service.batcher.running:
            await asyncio.sleep(0.02)

    run(service, main())
    assert service.batcher.cancelled == 1
    assert engine.steps < 400  # dropped mid-answer, not at its end


class CountingTokenizer:
    """Delegates to a tokenizer, counting chat-template renders and encodings."""

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer
        self.templated = self.encoded = 0

    def __getattr__(self, name: str):
        return getattr(self._tokenizer, name)

    def apply_chat_template(self, *args, **kw):
        self.templated += 1
        return self._tokenizer.apply_chat_template(*args, **kw)

    def __call__(self, *args, **kw):
        self.encoded += 1
        return self._tokenizer(*args, **kw)


def test_the_transformers_engine_is_given_each_prompt_templated_once_and_encoded_once(tokenizer_for) -> None:
    """Through the service and the continuous batcher, on a tiny random Llama: one render per request."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from metaalign.engine.hf import TransformersEngine

    tokenizer = tokenizer_for("smollm2")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
    )  # fmt: skip
    engine = TransformersEngine(LlamaForCausalLM(config).eval(), tokenizer, batch_size=4, min_prefix_tokens=4)
    assert engine.renderer.system_role  # the template probe, made once per renderer, is not counted
    counting = engine.renderer.tokenizer = CountingTokenizer(tokenizer)
    service = ChatService(engine, make_config())

    async def main() -> list:
        asked = [
            service.handle(body(f"question {i}", max_tokens=3, temperature=0), bearer(USER_KEY))
            for i in range(3)
        ]
        return await asyncio.gather(*asked)

    replies = run(service, main())
    assert all(r.response is not None and r.response.usage.prompt_tokens > 10 for r in replies)
    assert (counting.templated, counting.encoded) == (3, 3)
