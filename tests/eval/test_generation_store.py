"""Generations persist line by line; a killed run resumes without losing or duplicating work."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaalign.errors import MetaAlignError
from metaalign.eval.generation_store import GenerationStore

SETTINGS = {"model": "m", "meta_prompt": True, "max_new_tokens": 8}


def test_rows_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    GenerationStore(path, SETTINGS).append([{"case_id": "a", "text": "x"}, {"case_id": "b", "text": "y"}])
    again = GenerationStore(path, SETTINGS)
    assert set(again.done) == {"a", "b"} and again.done["b"]["text"] == "y"


def test_a_half_written_last_line_is_dropped_and_the_file_stays_appendable(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    GenerationStore(path, SETTINGS).append([{"case_id": "a", "text": "x"}])
    with open(path, "a") as handle:
        handle.write('{"case_id": "b", "te')  # killed mid-write
    store = GenerationStore(path, SETTINGS)
    assert set(store.done) == {"a"}
    store.append([{"case_id": "b", "text": "z"}])
    assert set(GenerationStore(path, SETTINGS).done) == {"a", "b"}
    assert len(path.read_text().splitlines()) == 3  # header + a + b, nothing duplicated


def test_other_settings_are_refused_with_the_difference(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    GenerationStore(path, SETTINGS)
    with pytest.raises(MetaAlignError, match="max_new_tokens: 8 there, 16 now"):
        GenerationStore(path, {**SETTINGS, "max_new_tokens": 16})


def test_a_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text('{"something": "else"}\n')
    with pytest.raises(MetaAlignError, match=r"g\.jsonl:1: not a metaalign generations file"):
        GenerationStore(path, SETTINGS)
