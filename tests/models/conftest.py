"""Fixtures for the model tests: a throwaway METAALIGN_HOME, a fake alias package, a fake converter."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from metaalign.models import resolver


@pytest.fixture(autouse=True)
def home(metaalign_home: Path) -> Path:
    """Every model test gets its own empty cache root, never the user's."""
    return metaalign_home


@pytest.fixture
def no_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolver, "package_dir", lambda module: None)


class FakeConverter:
    """Writes a tiny HF-looking folder (config.json: 9 bytes, model.safetensors: 100 bytes)."""

    def __init__(self, fail_after_write: bool = False) -> None:
        self.calls: list[tuple[Path, Path]] = []
        self.fail_after_write = fail_after_write

    def __call__(self, gguf: Path, dest: Path) -> None:
        self.calls.append((gguf, dest))
        (dest / "config.json").write_text(json.dumps({"a": 1}) + "\n")
        (dest / "model.safetensors").write_bytes(b"\0" * 100)
        if self.fail_after_write:
            raise RuntimeError("simulated crash in the middle of a conversion")


@pytest.fixture
def make_converter() -> Callable[..., FakeConverter]:
    return FakeConverter
