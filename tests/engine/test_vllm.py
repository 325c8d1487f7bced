"""The vLLM backend's mapping, on CPU: a stand-in `vllm` module and engine, no GPU needed."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from metaalign.engine import GenerationRequest


class FakeVLLMEngine:
    """Finishes every request in two steps: half of its answer, then all of it."""

    model_config = SimpleNamespace(max_model_len=2048)

    def __init__(self) -> None:
        self.pending: dict[str, tuple[list[int], object, int]] = {}
        self.added: list[tuple[str, list[int], object]] = []

    def add_request(self, rid, prompt, params) -> None:
        self.added.append((rid, prompt["prompt_token_ids"], params))
        self.pending[rid] = (prompt["prompt_token_ids"], params, 0)

    def has_unfinished_requests(self) -> bool:
        return bool(self.pending)

    def step(self):
        outputs = []
        for rid, (ids, params, k) in list(self.pending.items()):
            answer = "alpha beta"
            text = answer[: len(answer) // 2] if k == 0 else answer
            done = k == 1
            out = SimpleNamespace(text=text, token_ids=[1] * (k + 1), finish_reason="stop" if done else None)
            outputs.append(
                SimpleNamespace(request_id=rid, outputs=[out], finished=done, prompt_token_ids=ids)
            )
            self.pending[rid] = (ids, params, k + 1)
            if done:
                del self.pending[rid]
        return outputs


@pytest.fixture
def engine(monkeypatch, tokenizer_for):
    fake_vllm = types.ModuleType("vllm")
    fake_vllm.SamplingParams = lambda **kw: kw
    monkeypatch.setitem(sys.modules, "vllm", fake_vllm)
    from metaalign.engine.vllm import VLLMEngine

    return VLLMEngine(SimpleNamespace(llm_engine=FakeVLLMEngine()), tokenizer_for("smollm2"))


def test_requests_map_to_rendered_ids_and_sampling_params(engine) -> None:
    request = GenerationRequest.for_query(
        "S", "U", "q", max_new_tokens=7, temperature=0.5, seed=3, stop=("x",)
    )
    (completion,) = engine.generate([request])
    _rid, ids, params = engine.llm.llm_engine.added[0]
    assert ids == engine.renderer.prompt("S", "U", request.dialogue).input_ids
    assert params == {"max_tokens": 7, "temperature": 0.5, "top_p": 1.0, "seed": 3, "stop": ["x"],
                      "skip_special_tokens": True}  # fmt: skip
    assert (completion.text, completion.prompt_tokens, completion.finish_reason) == (
        "alpha beta",
        len(ids),
        "stop",
    )
    assert engine.context_window == 2048


def test_streaming_reports_deltas_then_the_end(engine) -> None:
    request = GenerationRequest.for_query(None, None, "q")
    assert list(engine.stream(request)) == ["alpha", " beta"]


def test_ids_rendered_by_the_caller_are_sent_as_they_are(engine) -> None:
    """The server renders each prompt once and hands the ids over; vLLM is not asked to render again."""
    request = GenerationRequest.for_query("S", "U", "q", max_new_tokens=3)
    ids, cut = engine.prompt_ids(request)
    assert cut == 0 and ids == engine.renderer.prompt("S", "U", request.dialogue).input_ids
    engine.generate([request], prompts=[([7, 8, 9], 0)])
    assert engine.llm.llm_engine.added[-1][1] == [7, 8, 9]
