"""Fixtures for the training tests: tiny record files and a tiny random Llama for maths checks.

Owns test data only. Model-backed tests use the embedded SmolLM2-135M (one thread, a few steps);
the tiny random model checks the loss arithmetic without loading anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SFT_ROWS = [
    {
        "id": f"sft-{i}",
        "system_info": "Answer in capital letters only.",
        "user_info": "I like short answers.",
        "messages": [
            {"role": "user", "content": q},
            {"role": "assistant", "content": a},
        ],
    }
    for i, (q, a) in enumerate(
        [
            ("What is the capital of France?", "PARIS IS THE CAPITAL OF FRANCE."),
            ("Name a primary colour.", "RED IS A PRIMARY COLOUR."),
            ("How many legs has a spider?", "A SPIDER HAS EIGHT LEGS."),
            ("What do bees make?", "BEES MAKE HONEY."),
        ]
    )
]
PREF_ROWS = [
    {
        "id": f"pref-{i}",
        "system_info": "Keep every answer under 20 words.",
        "user_info": None,
        "prompt": [{"role": "user", "content": q}],
        "chosen": short,
        "rejected": long,
        "metadata": {"checks": [{"id": "max_words", "params": {"n": 20}, "expect": True, "tier": "system"}]},
    }
    for i, (q, short, long) in enumerate(
        [
            ("Why is the sea salty?", "Rivers carry dissolved minerals into it.",
             "The sea is salty because, over millions of years, rain and rivers have slowly washed "
             "dissolved minerals out of rocks and carried them down into the oceans."),
            ("What is rain?", "Water falling from clouds.",
             "Rain is liquid water that condenses from vapour in clouds and falls to the ground when "
             "the droplets become heavy enough to overcome the updrafts holding them."),
            ("Why do cats purr?", "Mostly to show contentment.",
             "Cats purr for many reasons, including contentment, but also when they are stressed, "
             "hurt or giving birth, since purring may help them calm down and heal."),
            ("What is a comet?", "An icy body orbiting the Sun.",
             "A comet is a small icy body made of frozen gases, rock and dust that orbits the Sun "
             "and grows a glowing tail of gas when it comes close to the Sun."),
        ]
    )
]  # fmt: skip


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def sft_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "sft.jsonl", SFT_ROWS)


@pytest.fixture
def prefs_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "prefs.jsonl", PREF_ROWS)


@pytest.fixture(scope="session")
def tiny_llama():
    """A 2-layer random Llama (vocabulary 97): fast exact checks of the loss arithmetic."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    )  # fmt: skip
    config._attn_implementation = "sdpa"
    return LlamaForCausalLM(config).eval()


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def write_fixture_records():
    """`write(path, "sft" | "preference")`: the fixture records written to `path` (any fixture scope)."""
    return lambda path, kind: _write(Path(path), SFT_ROWS if kind == "sft" else PREF_ROWS)


@pytest.fixture(scope="session")
def uniform_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama folder with the smollm2 stand-in tokenizer and a zero LM head.

    Every next token then has probability 1/V (V = the tokenizer's length), so losses and
    log-probs have closed forms: a trained token scores -ln V, an SFT loss is ln V.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from fixtures.tokenizers import build_tokenizer

    tokenizer = build_tokenizer("smollm2")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        tie_word_embeddings=False,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.zero_()
    folder = tmp_path_factory.mktemp("uniform") / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
