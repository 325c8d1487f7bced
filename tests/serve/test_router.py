"""The router maps HTTP only: each answer of a fake registry becomes the right response, and every
step of a request (keys, limits, tiers, queue) is left to the registry and its services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi.testclient import TestClient
from serve_fixtures import make_config

from metaalign.serve.protocol import AssistantMessage, ChatCompletionResponse, Choice, Usage
from metaalign.serve.router import build_app
from metaalign.serve.serving import APIError, ClientGone, Reply

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


class FakeRegistry:
    """Answers `handle` with whatever `answer` is (a Reply, or an exception to raise); records calls.

    It has no limiter and no batcher: a router that reached for them would fail with a 500.
    """

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls: list[tuple] = []
        self.config = make_config(playground=False)
        self.names = ["m"]
        self.closed = False

    async def handle(self, body, authorization, disconnected) -> Reply:
        self.calls.append((body, authorization, disconnected))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def close(self) -> None:
        self.closed = True


def response(text: str = "hello") -> ChatCompletionResponse:
    return ChatCompletionResponse(
        model="m",
        choices=[Choice(message=AssistantMessage(content=text), finish_reason="stop")],
        usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
    )


def post(registry: FakeRegistry, **kw):
    with TestClient(build_app(registry), raise_server_exceptions=False) as client:
        return client.post("/v1/chat/completions", **kw)


def test_a_response_becomes_json_with_the_warnings_header() -> None:
    reply = Reply({"X-MetaAlign-Warnings": "unknown field 'x' ignored"}, response=response())
    registry = FakeRegistry(reply)
    answer = post(registry, json=BODY, headers={"Authorization": "Bearer sk-any-key"})
    assert answer.status_code == 200 and answer.json() == reply.response.model_dump()
    assert answer.headers["X-MetaAlign-Warnings"] == "unknown field 'x' ignored"
    ((body, authorization, disconnected),) = registry.calls
    assert body.model == "m" and authorization == "Bearer sk-any-key" and callable(disconnected)
    assert registry.closed  # the app's shutdown closes the registry


def test_a_stream_becomes_server_sent_events_passed_through_as_they_are() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in ['data: {"a": 1}\n\n', "data: [DONE]\n\n"]:
            yield line

    answer = post(FakeRegistry(Reply({}, stream=lines())), json={**BODY, "stream": True})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    assert answer.text == 'data: {"a": 1}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize(
    ("raised", "status", "header"),
    [
        (
            APIError(401, "no key", "invalid_api_key", headers={"WWW-Authenticate": "Bearer"}),
            401,
            "WWW-Authenticate",
        ),
        (APIError(429, "slow down", "rate_limit_exceeded", headers={"Retry-After": "7"}), 429, "Retry-After"),
        (APIError(503, "full", "server_overloaded", headers={"Retry-After": "1"}), 503, "Retry-After"),
    ],
)
def test_a_refusal_becomes_its_status_in_the_openai_error_format(raised, status, header) -> None:
    answer = post(FakeRegistry(raised), json=BODY)
    assert answer.status_code == status and header in answer.headers
    error = answer.json()["error"]
    assert error["message"] == raised.message and error["code"] == raised.code


def test_a_client_gone_before_its_answer_gets_499() -> None:
    assert post(FakeRegistry(ClientGone()), json=BODY).status_code == 499


def test_a_body_that_is_not_a_request_is_400_and_never_reaches_the_registry() -> None:
    registry = FakeRegistry(Reply({}, response=response()))
    answer = post(registry, content=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["error"]["message"]
    assert registry.calls == []
