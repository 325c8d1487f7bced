"""The CTranslate2 backend on a tiny random Llama: same greedy ids as the transformers engine, stops,
limits, streaming, `static_prompt`, the once-only conversion, and the error when the package is missing."""

from __future__ import annotations

import importlib.util
import string
import sys
from pathlib import Path

import pytest

from metaalign.engine import GenerationRequest
from metaalign.errors import MetaAlignError

needs_ct2 = pytest.mark.skipif(
    importlib.util.find_spec("ctranslate2") is None, reason="pip install ctranslate2"
)

SYSTEM_INFO = "You are the assistant of a small bicycle shop; answer briefly and politely."
QUERIES = ["What is a spoke?", "Name a colour.", "How do brakes work on a road bike?"]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    """A 2-layer random Llama over the stand-in SmolLM2 tokenizer, saved as a model folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from fixtures.tokenizers import make_tokenizer

    tokenizer = make_tokenizer("smollm2")
    torch.manual_seed(2)  # a seed whose greedy answers run to their limits
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, initializer_range=0.2,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def engines(tiny_folder, tmp_path_factory):
    """(CTranslate2 engine, transformers engine) on the same tiny model; conversions go to a temp home."""
    from metaalign.engine.ctranslate2_engine import CTranslate2Engine
    from metaalign.engine.hf import TransformersEngine

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("METAALIGN_HOME", str(tmp_path_factory.mktemp("home")))
        ct2 = CTranslate2Engine.from_pretrained(
            str(tiny_folder), dtype="fp32", threads=1, min_prefix_tokens=4
        )
    hf = TransformersEngine.from_pretrained(str(tiny_folder), dtype="fp32", batch_size=4, min_prefix_tokens=4)
    return ct2, hf


def requests(**kw) -> list[GenerationRequest]:
    return [
        GenerationRequest.for_query(SYSTEM_INFO, f"I am customer {i}.", q, **kw)
        for i, q in enumerate(QUERIES)
    ]


def generated_ids(engine, reqs) -> list[list[int]]:
    """Each request's generated ids, read off the engine's rows (both engines build them in `_row`)."""
    rows = []
    make_row = engine._row

    def spy(*args):
        rows.append(make_row(*args))
        return rows[-1]

    engine._row = spy
    try:
        engine.generate(reqs)
    finally:
        del engine._row
    return [row.generated for row in sorted(rows, key=lambda row: row.tag)]


@needs_ct2
def test_greedy_ids_equal_the_transformers_engine(engines) -> None:
    ct2, hf = engines
    reqs = requests(max_new_tokens=12)
    ours = generated_ids(ct2, reqs)
    assert ours == generated_ids(hf, reqs)
    assert ours == [generated_ids(ct2, [r])[0] for r in reqs]  # batched or alone: the same
    completions = ct2.generate(reqs)
    assert [c.completion_tokens for c in completions] == [len(ids) for ids in ours]
    assert [c.prompt_tokens for c in completions] == [len(ct2.prompt_ids(r)[0]) for r in reqs]


@needs_ct2
def test_the_shared_prefix_goes_as_static_prompt_and_changes_nothing(engines) -> None:
    ct2, _ = engines
    seen = []
    generate_batch = ct2.generator.generate_batch

    def spy(starts, **kw):
        seen.append((len(starts[0]), kw["static_prompt"]))
        return generate_batch(starts, **kw)

    reqs = requests(max_new_tokens=8)
    ids, cut = ct2.prompt_ids(reqs[0])
    ct2.generator = type("Spy", (), {"generate_batch": staticmethod(spy)})()
    try:
        shared = ct2.generate(reqs)
        alone = ct2.generate([*reqs[:1], GenerationRequest.for_query("Other.", None, "Hi", max_new_tokens=8)])
    finally:
        ct2.generator = generate_batch.__self__
    shortest = min(len(ct2.prompt_ids(r)[0]) for r in reqs)  # the first row: sorted by length
    assert cut > 4 and seen[0] == (shortest - cut, ct2.tokenizer.convert_ids_to_tokens(ids[:cut]))
    assert seen[1][1] is None  # rows of different System Infos: whole prompts, no static prompt
    assert alone[0] == shared[0]


@needs_ct2
def test_stop_strings_cut_and_end_of_turn_ids_stop(engines) -> None:
    from metaalign.engine.ctranslate2_engine import CTranslate2Engine

    ct2, _ = engines
    full = ct2.generate(requests(max_new_tokens=12)[:1])[0]
    assert full.finish_reason == "length" and full.completion_tokens == 12
    stop = next(c for c in full.text[1:] if c in string.ascii_letters + string.digits + string.punctuation)
    (cut,) = ct2.generate([requests(max_new_tokens=12, stop=(stop,))[0]])
    assert cut.text == full.text[: full.text.index(stop)] and cut.finish_reason == "stop"
    ids = generated_ids(ct2, requests(max_new_tokens=12)[:1])[0]
    ending = CTranslate2Engine(ct2.generator, ct2.tokenizer, end_ids=frozenset({ids[3]}), min_prefix_tokens=4)
    (ended,) = ending.generate(requests(max_new_tokens=12)[:1])
    assert ended.finish_reason == "stop" and ended.completion_tokens == ids.index(ids[3])


@needs_ct2
def test_max_new_tokens_per_row_and_deltas_join_to_the_text(engines) -> None:
    ct2, _ = engines
    reqs = [
        GenerationRequest.for_query(SYSTEM_INFO, "I am customer 0.", QUERIES[0], max_new_tokens=n)
        for n in (2, 9)
    ]
    deltas: dict[int, list[str]] = {0: [], 1: []}
    ends = []

    def on_delta(i, text, done):
        deltas[i].append(text)
        if done is not None:
            ends.append((i, done))

    out = ct2.generate(reqs, on_delta=on_delta)
    assert [c.completion_tokens for c in out] == [2, 9] and {c.finish_reason for c in out} == {"length"}
    assert sorted(ends, key=lambda e: e[0]) == list(enumerate(out))  # each end reported once
    assert ["".join(deltas[i]) for i in (0, 1)] == [c.text for c in out]
    assert out[1].text.startswith(out[0].text)  # greedy: the short answer is the long one's start


@needs_ct2
def test_sampling_settings_reach_ctranslate2(engines) -> None:
    from metaalign.engine.ctranslate2_engine import _sampling

    ct2, _ = engines
    req = GenerationRequest.for_query(None, None, "Hi", max_new_tokens=10, temperature=0.7, top_p=0.9)
    assert _sampling(req) == {"sampling_topk": 0, "sampling_topp": 0.9, "sampling_temperature": 0.7}
    assert _sampling(GenerationRequest.for_query(None, None, "Hi", top_p=0.5)) == {"sampling_topk": 1}
    (sampled,) = ct2.generate([req])
    assert sampled.completion_tokens <= 10 and sampled.prompt_tokens == len(ct2.prompt_ids(req)[0])


@needs_ct2
def test_the_conversion_is_made_once_per_model_and_dtype(tiny_folder, metaalign_home, monkeypatch) -> None:
    from metaalign.engine import ctranslate2_engine as module
    from metaalign.engine.load import load_engine

    calls = []
    convert = module.convert
    monkeypatch.setattr(module, "convert", lambda *a: calls.append(a[2]) or convert(*a))
    first = module.CTranslate2Engine.from_pretrained(str(tiny_folder), threads=1)
    built = load_engine(str(tiny_folder), "ctranslate2", batch_size=3, threads=1)  # the CLI's way in
    assert calls == ["float32"] and first.dtype == "fp32"
    assert isinstance(built, module.CTranslate2Engine) and built.batch_size == 3
    module.CTranslate2Engine.from_pretrained(str(tiny_folder), dtype="int8", threads=1)
    assert calls == ["float32", "int8_float32"]
    names = sorted(p.name for p in (metaalign_home / "models" / "ctranslate2").iterdir() if p.is_dir())
    assert [n.rsplit("-", 1)[1] for n in names] == ["float32", "int8_float32"]


def test_bf16_is_refused_by_name_where_the_cpu_lacks_it() -> None:
    from metaalign.engine.ctranslate2_engine import compute_type

    with pytest.raises(MetaAlignError, match=r"dtype bf16 \(bfloat16\) is not supported"):
        compute_type("bf16", {"float32", "int8_float32"})
    assert compute_type("int8", {"int8_float32"}) == "int8_float32"


def test_a_missing_package_names_the_extra(tiny_folder, monkeypatch) -> None:
    from metaalign.engine.load import load_engine

    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # import ctranslate2 -> ImportError
    with pytest.raises(MetaAlignError, match=r"metaalign\[ctranslate2\]"):
        load_engine(str(tiny_folder), "ctranslate2")
