"""`load_engine`, the one way to build an engine: backends, batch size, precision, threads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metaalign.engine import load
from metaalign.errors import MetaAlignError

SRC = Path(__file__).resolve().parents[2] / "src" / "metaalign"


class Recorder:
    """Stands in for a backend's `from_pretrained`: records its arguments, builds nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, ref: str, **kw):
        self.calls.append((ref, kw))
        return ("engine", ref)


@pytest.fixture
def torch_threads():
    import torch

    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def test_the_transformers_backend_gets_the_batch_size_precision_and_options(
    monkeypatch, torch_threads
) -> None:
    from metaalign.engine.hf import TransformersEngine

    recorder = Recorder()
    monkeypatch.setattr(TransformersEngine, "from_pretrained", recorder)
    assert load.load_engine("smollm2-135m") == ("engine", "smollm2-135m")
    load.load_engine("m", batch_size=4, dtype="int8", prefix_cache_size=0)
    assert recorder.calls == [
        ("smollm2-135m", {"dtype": None, "batch_size": 16}),
        ("m", {"dtype": "int8", "batch_size": 4, "prefix_cache_size": 0}),
    ]


def test_threads_are_set_when_asked_and_left_alone_otherwise(monkeypatch, torch_threads) -> None:
    from metaalign.engine.hf import TransformersEngine

    monkeypatch.setattr(TransformersEngine, "from_pretrained", Recorder())
    other = 2 if torch_threads.get_num_threads() == 1 else 1
    load.load_engine("m", threads=other)
    assert torch_threads.get_num_threads() == other
    load.load_engine("m")
    assert torch_threads.get_num_threads() == other


def test_the_vllm_backend_maps_precision_and_batch_size_to_its_own_names(monkeypatch) -> None:
    from metaalign.engine.vllm import VLLMEngine

    recorder = Recorder()
    monkeypatch.setattr(VLLMEngine, "from_pretrained", recorder)
    load.load_engine("m", "vllm")
    load.load_engine("m", "vllm", batch_size=8, dtype="bf16", gpu_memory_utilization=0.5)
    assert recorder.calls == [
        ("m", {}),
        ("m", {"gpu_memory_utilization": 0.5, "dtype": "bfloat16", "max_num_seqs": 8}),
    ]
    with pytest.raises(MetaAlignError, match="int8"):
        load.load_engine("m", "vllm", dtype="int8")


def test_an_unknown_backend_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'llamacpp'"):
        load.load_engine("m", "llamacpp")


def test_no_other_module_builds_an_engine_or_sets_threads_for_one() -> None:
    """Every construction site goes through load_engine (benchmarks may build their own)."""
    builds = re.compile(r"(TransformersEngine|VLLMEngine)\.from_pretrained\(|\bset_threads\(")
    found = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if builds.search(path.read_text(encoding="utf-8"))
    )
    assert found == ["engine/load.py"]
    # torch threads are still set for training and scoring, which build no engine
    sets = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "set_num_threads(" in path.read_text(encoding="utf-8")
    )
    assert sets == [
        "cli/eval.py",  # eval pairs: log-probs of a model
        "engine/load.py",
        "quickstart/quickstart_pipeline.py",  # the whole run's threads (build, train, eval)
        "quickstart/search.py",
        "train/policy.py",
    ]
