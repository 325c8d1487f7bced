"""Shared pytest fixtures: offline stand-in tokenizers for every chat-template family.

Owns only the fixture wiring; the tokenizers are built (and cached) in tests/fixtures/tokenizers.py.
The cached tokenizers are shared between tests: treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Callable
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
