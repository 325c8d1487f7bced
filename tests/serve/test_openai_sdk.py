"""The official openai SDK against a running server: non-streaming, streaming, models, usage."""

from __future__ import annotations

import openai
import pytest
from serve_fixtures import SYSTEM_INFO, USER_KEY


@pytest.fixture
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=USER_KEY, max_retries=0)


def test_non_streaming_answer_carries_the_tiers_and_usage(client) -> None:
    out = client.chat.completions.create(
        model="metaalign",
        messages=[{"role": "user", "content": "Where are the maps?"}],
        extra_body={"metaalign": {"user_info": "I am a geography teacher."}},
    )
    text = out.choices[0].message.content
    assert text == f"SI={SYSTEM_INFO!r} UI='I am a geography teacher.' Q=Where are the maps?"
    assert out.choices[0].finish_reason == "stop" and out.object == "chat.completion"
    assert out.usage.completion_tokens == len(text.split(" "))
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens


def test_streaming_chunks_join_to_the_non_streaming_text(client) -> None:
    messages = [{"role": "user", "content": "Tell me about atlases"}]
    full = client.chat.completions.create(model="metaalign", messages=messages).choices[0].message.content
    chunks = list(
        client.chat.completions.create(
            model="metaalign", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    content = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len(content) > 3 and "".join(content) == full
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(full.split(" "))


def test_max_tokens_and_stop_reach_the_engine(client) -> None:
    cut = client.chat.completions.create(
        model="metaalign", messages=[{"role": "user", "content": "a b c d e f"}], max_tokens=2
    )
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens == 2
    stopped = client.chat.completions.create(
        model="metaalign", messages=[{"role": "user", "content": "one two three"}], stop=["UI="]
    )
    assert stopped.choices[0].message.content == f"SI={SYSTEM_INFO!r} "


def test_models_lists_the_served_name(client) -> None:
    assert [m.id for m in client.models.list()] == ["metaalign"]


def test_unknown_model_is_404(client) -> None:
    with pytest.raises(openai.NotFoundError, match="not served"):
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])


def test_multi_turn_dialogue_is_passed_through(server, client) -> None:
    engine = server.service.engine
    client.chat.completions.create(
        model="metaalign",
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "reply"},
            {"role": "user", "content": [{"type": "text", "text": "sec"}, {"type": "text", "text": "ond"}]},
        ],
    )
    assert [t["content"] for t in engine.seen[-1].dialogue] == ["first", "reply", "second"]


def test_a_streamed_reply_carries_the_metaalign_object_in_its_first_chunk(client) -> None:
    """docs/serve.md: a streamed reply carries `metaalign` (warnings included) in its first chunk."""
    chunks = list(
        client.chat.completions.create(
            model="metaalign",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_body={"colour": "red", "metaalign": {"user_info": "I am a chef."}},
        )
    )
    first = chunks[0].model_extra["metaalign"]
    assert first["warnings"] == ["unknown field 'colour' ignored"]
    assert first["system_info_source"] == "config" and first["demoted_system_messages"] == 0
    assert all("metaalign" not in (c.model_extra or {}) for c in chunks[1:])
