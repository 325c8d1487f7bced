"""Bad requests get a 4xx with a clear message in the OpenAI error format, never a 5xx."""

from __future__ import annotations

import httpx
import pytest
from serve_fixtures import USER_KEY, make_config

AUTH = {"Authorization": f"Bearer {USER_KEY}"}


def post(url: str, headers: dict | None = None, **kw) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", headers=headers or AUTH, timeout=30, **kw)


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"model": "metaalign"}', "messages: this field is required"),
        (b'{"model": "metaalign", "messages": []}', "messages"),
        (b'{"model": "metaalign", "messages": "hi"}', "messages"),
        (b'{"model": "metaalign", "messages": [{"role": "tool", "content": "x"}]}', "messages[0].role"),
        (b'{"model": "metaalign", "messages": [{"role": "user", "content": 5}]}', "messages[0].content"),
        (b'{"model": "metaalign", "messages": [{"role": "user", "content": ""}]}', "must not be empty"),
        (
            b'{"model": "metaalign", "messages": [{"role": "user", "content": "q"}], "temperature": "hot"}',
            "temp",
        ),
        (
            b'{"model": "metaalign", "messages": [{"role": "user", "content": "q"}], "max_tokens": 0}',
            "max_tokens",
        ),
        (
            b'{"model": "metaalign", "messages": [{"role": "user", "content": "q"}], "max_tokens": 99999}',
            "at most",
        ),
        (b'{"model": "metaalign", "messages": [{"role": "user", "content": "q"}], "n": 2}', "n=1"),
        (
            b'{"model": "metaalign", "messages": [{"role": "user", "content": "q"}], "metaalign": {"x": 1}}',
            "x",
        ),
    ],
)
def test_bad_requests_are_400_with_a_clear_message(server, payload, needle) -> None:
    response = post(server.url, content=payload, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]["message"]


def test_a_body_without_a_json_content_type_says_so(server) -> None:
    response = post(server.url, content=b'{"model": "metaalign", "messages": []}')
    assert response.status_code == 400 and "Content-Type: application/json" in response.text


def test_inputs_longer_than_the_context_window_are_400(server) -> None:
    words = " ".join(["word"] * 3000)  # the fake engine counts words as tokens; the window is 2048
    response = post(server.url, json={"model": "metaalign", "messages": [{"role": "user", "content": words}]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    huge = "x" * 40_000  # over the character bound: refused before any tokenising
    response = post(server.url, json={"model": "metaalign", "messages": [{"role": "user", "content": huge}]})
    assert response.status_code == 400 and "too long" in response.json()["error"]["message"]


def test_unknown_fields_are_reported_not_dropped(server) -> None:
    body = {
        "model": "metaalign",
        "messages": [{"role": "user", "content": "q"}],
        "colour": "red",
        "tools": [],
    }
    response = post(server.url, json=body)
    assert response.status_code == 200
    warnings = response.json()["metaalign"]["warnings"]
    assert "unknown field 'colour' ignored" in warnings
    assert "OpenAI field 'tools' is not supported and was ignored" in warnings
    assert "colour" in response.headers["X-MetaAlign-Warnings"]


def test_strict_fields_refuse_unknown_fields(serve) -> None:
    with serve(config=make_config(strict_fields=True)) as s:
        body = {"model": "metaalign", "messages": [{"role": "user", "content": "q"}], "colour": "red"}
        response = post(s.url, json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == "colour"
