"""The instruction loader: defaults for files of your own, file:line:field errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaalign.errors import RecordError
from metaalign.preferences import Instruction, load_instructions


def test_user_files_may_omit_id_category_and_split(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"text": "Why is the sea salty?"}\n\n'
        '{"id": "x", "text": " Hi ", "category": "chat", "split": "test"}\n'
    )
    assert load_instructions(path) == [
        Instruction("mine-1", "Why is the sea salty?", "general", "train"),
        Instruction("x", "Hi", "chat", "test"),
    ]


@pytest.mark.parametrize(
    ("line2", "field", "expected"),
    [
        ('{"text": "a"', None, "valid JSON"),
        ('["a"]', None, "a JSON object"),
        ('{"id": "q2"}', "text", "a non-empty string"),
        ('{"text": 3}', "text", "a non-empty string"),
        ('{"text": "a", "split": "dev"}', "split", "'train' or 'test'"),
        ('{"text": "a", "category": ""}', "category", "a non-empty string"),
        ('{"text": "a", "lang": "en"}', "lang", "not an instruction field"),
        ('{"id": "q1", "text": "again"}', "id", "a unique id ('q1' is also on line 1)"),
    ],
)
def test_errors_name_file_line_and_field(
    tmp_path: Path, line2: str, field: str | None, expected: str
) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_text('{"id": "q1", "text": "ok"}\n' + line2 + "\n")
    with pytest.raises(RecordError) as err:
        load_instructions(path)
    assert (err.value.source, err.value.line, err.value.field) == (str(path), 2, field)
    assert expected in str(err.value)
    assert str(err.value).startswith(f"{path}:2: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="an existing JSONL file"):
        load_instructions(tmp_path / "none.jsonl")
