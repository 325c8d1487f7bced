"""The transformers engine on the embedded model: batching changes nothing, settings are honoured."""

from __future__ import annotations

import pytest

from metaalign.engine import GenerationRequest

pytestmark = pytest.mark.slow

QUERIES = ["What is the capital of France?", "Name a colour.", "Write one word about the sea, please, now."]


@pytest.fixture(scope="module")
def engine():
    import torch

    from metaalign.engine.hf import TransformersEngine

    torch.set_num_threads(1)
    return TransformersEngine.from_pretrained("smollm2-135m", batch_size=8, min_prefix_tokens=4)


def test_greedy_tokens_equal_model_generate(engine) -> None:
    import torch

    for query in QUERIES:
        request = GenerationRequest.for_query("Be brief.", "I am a student.", query, max_new_tokens=16)
        ids = engine.renderer.prompt(request.system_info, request.user_info, request.dialogue).input_ids
        out = engine.model.generate(
            torch.tensor([ids]), max_new_tokens=16, do_sample=False, pad_token_id=engine.pad_id, top_k=None
        )
        new = out[0, len(ids) :].tolist()
        cut = next((k for k, t in enumerate(new) if t in engine.end_ids), len(new))
        (ours,) = engine.generate([request])
        assert ours.completion_tokens == cut
        assert ours.text == engine.tokenizer.decode(new[:cut], skip_special_tokens=True)


def test_prefix_reuse_gives_the_same_tokens_as_no_reuse(engine) -> None:
    from metaalign.engine.hf import TransformersEngine

    plain = TransformersEngine(engine.model, engine.tokenizer, batch_size=8, prefix_cache_size=0)
    queries = [*QUERIES, "Say hello."]  # four requests under one System Info get their own batch
    requests = [
        GenerationRequest.for_query("Answer like a pirate.", f"I am user {i}.", q, max_new_tokens=12)
        for i, q in enumerate(queries)
    ]
    ids, cut = engine.prompt_ids(requests[0])
    assert cut > 10 and engine.prompt_ids(requests[1])[0][:cut] == ids[:cut]  # the System Info part is shared
    misses, hits = engine.prefixes.misses, engine.prefixes.hits
    assert [c.text for c in engine.generate(requests)] == [c.text for c in plain.generate(requests)]
    assert engine.prefixes.misses == misses + 1  # prefilled once for all four
    assert engine.generate(requests[:1]) == plain.generate(requests[:1])
    assert engine.prefixes.hits == hits + 1  # and reused by the next call


def test_stream_deltas_join_to_the_generated_text(engine) -> None:
    request = GenerationRequest.for_query(None, "I like lists.", "Name three fruits.", max_new_tokens=20)
    deltas = list(engine.stream(request))
    assert len(deltas) > 3 and "".join(deltas) == engine.generate([request])[0].text


def test_rows_that_finish_early_leave_the_others_unchanged(engine) -> None:
    short = GenerationRequest.for_query(None, None, QUERIES[0], max_new_tokens=3)
    long = GenerationRequest.for_query(None, None, QUERIES[2], max_new_tokens=14)
    together = engine.generate([short, long])
    assert together == [engine.generate([short])[0], engine.generate([long])[0]]
    assert together[0].finish_reason == "length" and together[0].completion_tokens == 3


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
    seeded = GenerationRequest.for_query(
        None, None, "Say something.", max_new_tokens=12, temperature=1.0, seed=7
    )
    greedy = GenerationRequest.for_query(None, None, "Tell me a fact.", max_new_tokens=12)
    assert engine.generate([greedy, seeded])[1].text == sample(7)  # the seed is per request, not per batch
