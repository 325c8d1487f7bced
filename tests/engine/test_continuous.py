"""Continuous batching on the embedded model: rows join mid-decode and leave at once, answers unchanged."""

from __future__ import annotations

import pytest

from metaalign.engine import GenerationRequest

pytestmark = pytest.mark.slow

SYSTEM = "Answer like a friendly librarian and keep it short, please."


@pytest.fixture(scope="module")
def engine():
    import torch

    from metaalign.engine.hf import TransformersEngine

    torch.set_num_threads(1)
    return TransformersEngine.from_pretrained("smollm2-135m", batch_size=8, min_prefix_tokens=4)


def ask(query: str, new: int = 16, user: str = "I am a student.") -> GenerationRequest:
    return GenerationRequest.for_query(SYSTEM, user, query, max_new_tokens=new)


def run_to_end(decoder) -> dict:
    done = {}
    while decoder.active:
        done.update(decoder.step())
    return done


def test_a_request_joining_mid_decode_gets_the_answer_it_gets_alone(engine) -> None:
    first, late = ask("Name a famous novel.", 16), ask("What is a library card?", 12, "I am new in town.")
    decoder = engine.decoder()
    done = dict(decoder.admit([(first, None, "first")]))
    for _ in range(5):  # the first row is 6 tokens in (and its cache wider) when the second joins
        done.update(decoder.step())
    used = engine.prefixes.hits + engine.prefixes.misses
    done.update(decoder.admit([(late, None, "late")]))
    assert decoder.active == 2
    done.update(run_to_end(decoder))
    assert engine.prefixes.hits + engine.prefixes.misses == used + 1  # the joiner started from the prefix
    alone = engine.generate([first, late])  # separate rows of one batch: the reference answers
    assert done["first"].text == engine.generate([first])[0].text == alone[0].text
    assert done["late"].text == engine.generate([late])[0].text == alone[1].text
    assert done["late"].completion_tokens > 0


def test_a_finished_row_frees_its_slot_for_a_waiting_request_at_once(engine) -> None:
    from metaalign.engine.hf import TransformersEngine

    two = TransformersEngine(engine.model, engine.tokenizer, batch_size=2, min_prefix_tokens=4)
    requests = [ask("Say hi.", 2), ask("Describe a quiet reading room.", 24), ask("Name a colour.", 6)]
    events = []
    two.generate(requests, on_delta=lambda i, text, done: events.append((i, done is not None)))
    end = {i: events.index((i, True)) for i in range(3)}
    start = {i: next(k for k, (j, _) in enumerate(events) if j == i) for i in range(3)}
    third = max(start, key=start.get)  # the one that waited for a slot
    others = [end[i] for i in range(3) if i != third]
    assert min(others) < start[third] < max(others)  # it started as soon as one ended, not after both
    assert [c.text for c in two.generate(requests)] == [c.text for c in engine.generate(requests)]


def test_a_cancelled_row_leaves_and_the_others_go_on_unchanged(engine) -> None:
    keep, leave = ask("What is an atlas?", 14), ask("Tell me a long story about books.", 64)
    decoder = engine.decoder()
    decoder.admit([(keep, None, "keep"), (leave, None, "leave")])
    decoder.step()
    assert decoder.cancel(lambda tag: tag == "leave") == ["leave"] and decoder.active == 1
    done = run_to_end(decoder)
    assert set(done) == {"keep"} and decoder.cancelled == 1
    assert done["keep"].text == engine.generate([keep])[0].text
