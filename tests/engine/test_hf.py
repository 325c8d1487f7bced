"""The transformers engine on the embedded model: batching changes nothing, settings are honoured."""

from __future__ import annotations

import pytest

from metaalign.engine import GenerationRequest

pytestmark = pytest.mark.slow

QUERIES = ["What is the capital of France?", "Name a colour.", "Write one word about the sea, please, now."]


@pytest.fixture(scope="module")
def engine():
    from metaalign.engine.hf import TransformersEngine

    return TransformersEngine.from_pretrained("smollm2-135m", batch_size=8)


def test_batched_greedy_equals_one_at_a_time(engine) -> None:
    requests = [GenerationRequest.for_query("Be brief.", None, q, max_new_tokens=12) for q in QUERIES]
    batched = engine.generate(requests)
    single = [engine.generate([r])[0] for r in requests]
    assert [c.text for c in batched] == [c.text for c in single]
    assert all(c.text.strip() for c in batched)
    assert [c.prompt_tokens for c in batched] == [
        len(engine.renderer.prompt("Be brief.", None, r.dialogue).input_ids) for r in requests
    ]


def test_max_tokens_and_stop_strings(engine) -> None:
    long = GenerationRequest.for_query(None, None, "Tell me a long story about a dragon.", max_new_tokens=5)
    (out,) = engine.generate([long])
    assert (out.completion_tokens, out.finish_reason) == (5, "length")
    free = GenerationRequest.for_query(None, None, "Tell me a long story about a dragon.", max_new_tokens=40)
    (full,) = engine.generate([free])
    stop_word = full.text.split()[3]
    stopped = GenerationRequest.for_query(
        None, None, free.dialogue[0]["content"], max_new_tokens=40, stop=(stop_word,)
    )
    (cut,) = engine.generate([stopped])
    assert stop_word not in cut.text and full.text.startswith(cut.text)
    assert cut.finish_reason == "stop"


def test_sampling_is_reproducible_with_a_seed_and_varies_across_seeds(engine) -> None:
    def sample(seed: int) -> str:
        request = GenerationRequest.for_query(
            None, None, "Say something.", max_new_tokens=12, temperature=1.0, seed=seed
        )
        return engine.generate([request])[0].text

    assert sample(7) == sample(7)
    assert len({sample(seed) for seed in (1, 2, 3)}) > 1  # sampling is really on
