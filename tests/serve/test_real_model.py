"""The embedded SmolLM2 model behind the real server, through the openai SDK (slow)."""

from __future__ import annotations

import openai
import pytest
from serve_fixtures import USER_KEY, make_config

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
