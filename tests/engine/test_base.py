"""The engine contract and its fake."""

from __future__ import annotations

from metaalign.engine import Completion, Engine, FakeEngine, GenerationRequest
from metaalign.engine.base import cut_at_stop


def test_cut_at_stop_cuts_at_the_earliest_stop() -> None:
    assert cut_at_stop("one. two! three", ["!", "."]) == "one"
    assert cut_at_stop("nothing here", ["#"]) == "nothing here"
    assert cut_at_stop("keep", [""]) == "keep"


def test_fake_engine_follows_the_contract() -> None:
    engine = FakeEngine()
    assert isinstance(engine, Engine)
    requests = [
        GenerationRequest.for_query("S", "U", "hello there"),
        GenerationRequest.for_query(None, None, "a b c d e", max_new_tokens=3),
        GenerationRequest.for_query(None, None, "stop here. not this", stop=(".",)),
    ]
    out = engine.generate(requests)
    assert [c.text for c in out] == ["echo: hello there", "echo: a b", "echo: stop here"]
    assert [c.finish_reason for c in out] == ["stop", "length", "stop"]
    assert out[1] == Completion("echo: a b", out[1].prompt_tokens, 3, "length")
    assert engine.seen == requests


def test_stream_from_yields_deltas_and_raises_engine_errors_in_the_caller() -> None:
    import pytest

    from metaalign.engine import stream_from

    request = GenerationRequest.for_query(None, None, "a b")
    assert list(stream_from(FakeEngine(), request)) == ["echo:", " a", " b"]

    class Broken(FakeEngine):
        def generate(self, requests, on_delta=None):
            raise RuntimeError("the engine broke")

    with pytest.raises(RuntimeError, match="the engine broke"):
        list(stream_from(Broken(), request))
