"""The embedded SmolLM2 model behind the real server, through the openai SDK (slow); also `metaalign serve
--backend ctranslate2`."""

from __future__ import annotations

import openai
import pytest
from serve_fixtures import USER_KEY, make_config, start_cli

from metaalign.engine import GenerationRequest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine():
    import torch

    from metaalign.engine.hf import TransformersEngine

    torch.set_num_threads(1)
    return TransformersEngine.from_pretrained("smollm2-135m", batch_size=4)


def test_the_model_answers_the_sdk_and_user_info_changes_the_answer(serve, engine) -> None:
    with serve(engine, make_config(system_info="You are a helpful assistant.")) as s:
        client = openai.OpenAI(base_url=s.url + "/v1", api_key=USER_KEY, max_retries=0)

        def ask(user_info: str, stream: bool = False) -> str:
            kw = {"model": "metaalign", "messages": [{"role": "user", "content": "What should I eat today?"}]}
            kw |= {"temperature": 0, "max_tokens": 24, "extra_body": {"metaalign": {"user_info": user_info}}}
            if stream:
                return "".join(
                    c.choices[0].delta.content or ""
                    for c in client.chat.completions.create(**kw, stream=True)
                )
            return client.chat.completions.create(**kw).choices[0].message.content

        vegan = ask("I am a vegan athlete training for a marathon.")
        child = ask("I am a five-year-old child who loves sweets.")
        assert vegan.strip() and child.strip() and vegan != child
        assert ask("I am a vegan athlete training for a marathon.", stream=True) == vegan


def test_the_serve_command_on_the_ctranslate2_backend_answers_the_sdk(tmp_path, engine) -> None:
    """Greedy answers equal the transformers engine's; streaming, max_tokens and usage as with it."""
    pytest.importorskip("ctranslate2")
    system_info, user_info, query = "You are a helpful assistant.", "I am a chef.", "What is umami?"
    config = {"system_info": system_info, "keys": [{"key": USER_KEY}], "max_batch": 4}
    proc, url = start_cli(tmp_path, config, "--backend", "ctranslate2", "--threads", "1")
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key=USER_KEY, max_retries=0)
        kw = {"model": "metaalign", "messages": [{"role": "user", "content": query}], "temperature": 0}
        kw |= {"max_tokens": 16, "extra_body": {"metaalign": {"user_info": user_info}}}
        out = client.chat.completions.create(**kw)
        chunks = client.chat.completions.create(**kw, stream=True)
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        short = client.chat.completions.create(**{**kw, "max_tokens": 3})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    (expected,) = engine.generate(
        [GenerationRequest.for_query(system_info, user_info, query, max_new_tokens=16)]
    )
    assert out.choices[0].message.content == expected.text == streamed
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (expected.prompt_tokens, 16)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 3
