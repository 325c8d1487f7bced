"""OpenAIChatClient against the real-HTTP fake server: answers, retries, Retry-After, give-up, usage."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from metaalign.endpoints import (
    EndpointError,
    FakeChatClient,
    FakeOpenAIServer,
    OpenAIChatClient,
    retry_after_seconds,
)

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]


def _client(server: FakeOpenAIServer, **kw) -> OpenAIChatClient:
    kw.setdefault("backoff", 0.001)
    kw.setdefault("jitter_seed", 0)
    return OpenAIChatClient(base_url=server.base_url, model="m", api_key="k", **kw)


def test_answer_usage_and_cost_are_counted() -> None:
    with FakeOpenAIServer() as server:
        client = _client(server, price_prompt=1_000_000, price_completion=2_000_000)
        result = asyncio.run(client.complete(MESSAGES, idempotency_key="item-1"))
    assert result.text == "echo: hello there"
    # the fake counts words: prompt "be brief" + "hello there" = 4, completion "echo: hello there" = 3
    assert (result.prompt_tokens, result.completion_tokens) == (4, 3)
    assert result.cost == pytest.approx(4 * 1 + 3 * 2)
    assert client.usage.as_dict() == {
        "calls": 1,
        "failures": 0,
        "retries": 0,
        "prompt_tokens": 4,
        "completion_tokens": 3,
        "cost": 10.0,
    }
    assert server.keys() == ["item-1"]
    assert server.log[0].body["model"] == "m"


def test_retries_500_then_gives_up_with_endpoint_error() -> None:
    with FakeOpenAIServer(fail_500=1.0) as server:
        client = _client(server, max_retries=3)
        with pytest.raises(EndpointError, match="gave up after 4 attempts") as info:
            asyncio.run(client.complete(MESSAGES))
        assert server.calls == 4
    assert info.value.status == 500
    assert client.usage.failures == 1 and client.usage.calls == 0


def test_non_retryable_4xx_fails_at_once() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(401, json={"error": "bad key"}))
    client = OpenAIChatClient(base_url="http://x/v1", model="m", transport=transport, max_retries=5)
    with pytest.raises(EndpointError, match="HTTP 401") as info:
        asyncio.run(client.complete(MESSAGES))
    assert info.value.status == 401


def test_a_malformed_usage_block_is_retried_not_a_crash() -> None:
    answer = {"choices": [{"message": {"content": "hi"}}]}
    good = {"prompt_tokens": 2, "completion_tokens": 1}
    bodies = iter([{**answer, "usage": {"prompt_tokens": "many"}}, {**answer, "usage": good}])
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=next(bodies)))
    client = OpenAIChatClient(base_url="http://x/v1", model="m", transport=transport, backoff=0.001)
    result = asyncio.run(client.complete(MESSAGES))
    assert (result.text, result.prompt_tokens, result.completion_tokens) == ("hi", 2, 1)
    assert client.usage.retries == 1


def test_retry_after_is_honoured_and_backoff_doubles() -> None:
    answers = iter([(429, {"Retry-After": "7"}), (503, {}), (503, {}), (200, {})])
    body = {
        "choices": [{"message": {"content": "ok"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    }

    def handle(request: httpx.Request) -> httpx.Response:
        status, headers = next(answers)
        return httpx.Response(status, headers=headers, json=body if status == 200 else {})

    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    client = OpenAIChatClient(
        base_url="http://x/v1",
        model="m",
        transport=httpx.MockTransport(handle),
        backoff=1.0,
        backoff_max=30.0,
        sleep=fake_sleep,
        jitter_seed=1,
    )
    result = asyncio.run(client.complete(MESSAGES))
    assert result.text == "ok" and result.attempts == 4
    assert waits[0] == 7.0  # Retry-After beats the first backoff (0.5..1 s)
    assert 1.0 <= waits[1] <= 2.0  # second retry: ceiling 2 s, jitter in [50%, 100%]
    assert 2.0 <= waits[2] <= 4.0
    assert client.usage.retries == 3


def test_hang_times_out_and_retries() -> None:
    with FakeOpenAIServer(hang=1.0, hang_seconds=5) as server:
        client = _client(server, timeout=0.2, max_retries=1)
        with pytest.raises(EndpointError, match="timed out"):
            asyncio.run(client.complete(MESSAGES))
        assert server.keys(status=0) == [None, None]


def test_connection_refused_is_retried_then_reported() -> None:
    server = FakeOpenAIServer().start()
    url = server.base_url
    server.stop()
    client = OpenAIChatClient(base_url=url, model="m", backoff=0.001, max_retries=2)
    with pytest.raises(EndpointError, match="connection error"):
        asyncio.run(client.complete(MESSAGES))


def test_concurrency_limit_is_respected() -> None:
    with FakeOpenAIServer(latency=0.05) as server:
        client = _client(server, concurrency=3)

        async def many() -> None:
            await asyncio.gather(*(client.complete(MESSAGES, idempotency_key=str(i)) for i in range(12)))

        asyncio.run(many())
        starts = sorted(r.at for r in server.log)
    # with 3 slots and 50 ms per call, no 4 requests can arrive within 50 ms of each other
    assert all(starts[i + 3] - starts[i] >= 0.045 for i in range(len(starts) - 3))
    assert client.usage.calls == 12


def test_chaos_all_calls_complete() -> None:
    with FakeOpenAIServer(fail_500=0.1, fail_429=0.1, hang=0.05, hang_seconds=3, seed=3) as server:
        client = _client(server, concurrency=8, timeout=0.3, max_retries=10)

        async def many() -> list[str]:
            results = await asyncio.gather(
                *(client.complete([{"role": "user", "content": f"q{i}"}]) for i in range(60))
            )
            return [r.text for r in results]

        texts = asyncio.run(many())
        statuses = [r.status for r in server.log]
    assert texts == [f"echo: q{i}" for i in range(60)]
    assert {500, 429, 0} <= set(statuses)
    assert client.usage.retries >= sum(s != 200 for s in statuses)  # a busy machine may add timeouts


def test_client_works_across_event_loops() -> None:
    with FakeOpenAIServer() as server:
        client = _client(server)
        first = asyncio.run(client.complete(MESSAGES))
        second = asyncio.run(client.complete(MESSAGES))
    assert first.text == second.text == "echo: hello there"


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("0.25") == 0.25
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_fake_chat_client_records_calls() -> None:
    client = FakeChatClient(reply=lambda messages: messages[-1]["content"].upper())
    result = asyncio.run(client.complete(MESSAGES, idempotency_key="k"))
    assert result.text == "HELLO THERE"
    assert client.calls == [(MESSAGES, "k")]
    assert client.usage.calls == 1


def test_official_openai_sdk_talks_to_the_fake_server() -> None:
    openai = pytest.importorskip("openai")
    with FakeOpenAIServer(reply=lambda messages: "sdk ok") as server:
        sdk = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        response = sdk.chat.completions.create(model="m", messages=MESSAGES)
    assert response.choices[0].message.content == "sdk ok"
    assert response.usage.completion_tokens == 2


def test_fake_server_rejects_bad_requests_with_4xx() -> None:
    with FakeOpenAIServer() as server:
        root = server.base_url.removesuffix("/v1")
        assert httpx.post(f"{root}/v1/chat/completions", content=b"{not json").status_code == 400
        assert httpx.post(f"{root}/v1/nothing", json={}).status_code == 404
