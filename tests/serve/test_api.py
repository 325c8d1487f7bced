"""The Python API: one input or many, tiers broadcast or per input, streaming."""

from __future__ import annotations

import pytest

from metaalign.engine import FakeEngine
from metaalign.serve.api import MetaAlignModel


def model() -> tuple[MetaAlignModel, FakeEngine]:
    engine = FakeEngine(respond=lambda r: f"{r.system_info}/{r.user_info}: {r.dialogue[-1]['content']}")
    return MetaAlignModel(engine), engine


def test_one_input_gives_one_string() -> None:
    m, engine = model()
    assert m.generate(system_info="S", user_info="U", query="q", max_new_tokens=9) == "S/U: q"
    assert engine.seen[0].max_new_tokens == 9


def test_many_inputs_broadcast_or_pair_the_tiers() -> None:
    m, _ = model()
    assert m.generate(system_info="S", user_info=["a", "b"], query=["x", "y"]) == ["S/a: x", "S/b: y"]
    dialogues = [[{"role": "user", "content": "x"}], [{"role": "user", "content": "y"}]]
    assert m.generate(dialogue=dialogues) == ["None/None: x", "None/None: y"]
    (c1, _c2) = m.complete(query=["x", "y"], stop="/")
    assert (c1.text, c1.finish_reason) == ("None", "stop")


def test_stream_yields_deltas_that_join_to_the_answer() -> None:
    m, _ = model()
    parts = list(m.stream(system_info="S", query="tell me"))
    assert len(parts) == 3 and "".join(parts) == m.generate(system_info="S", query="tell me")


def test_misuse_is_a_clear_error() -> None:
    m, _ = model()
    with pytest.raises(ValueError, match="exactly one of"):
        m.generate(query="a", dialogue=[{"role": "user", "content": "b"}])
    with pytest.raises(ValueError, match="2 values for 3 inputs"):
        m.generate(user_info=["a", "b"], query=["x", "y", "z"])
    with pytest.raises(ValueError, match="backend"):
        MetaAlignModel.load("smollm2-135m", backend="tpu")
