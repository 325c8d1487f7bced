"""metaalign.yamlio: the mapping, the line of every dotted key, and file:line:field errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metaalign.errors import MetaAlignError, RecordError
from metaalign.yamlio import read_yaml_mapping, validation_error


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(1, ge=1)


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "x"
    inner: _Inner = Field(default_factory=_Inner)


def test_lines_of_nested_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("# a comment\nname: a\n\ninner:\n  size: 3\n  other:\n    deep: true\n")
    data, lines = read_yaml_mapping(path, "test settings")
    assert data == {"name": "a", "inner": {"size": 3, "other": {"deep": True}}}
    # counted by hand: line 1 is the comment, line 3 is blank
    assert lines == {"name": 2, "inner": 4, "inner.size": 5, "inner.other": 6, "inner.other.deep": 7}


def test_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: a\ninner:\n  size: 3\n   extra: [\n")  # line 4 indents badly
    with pytest.raises(RecordError, match=r"bad\.yaml:4: valid YAML") as info:
        read_yaml_mapping(path, "test settings")
    assert info.value.line == 4


def test_non_mapping_and_empty_and_missing(tmp_path: Path) -> None:
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(RecordError, match=r"list\.yaml:1: a YAML mapping of test settings$"):
        read_yaml_mapping(listing, "test settings")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    assert read_yaml_mapping(empty, "test settings") == ({}, {})
    with pytest.raises(MetaAlignError, match=r"nope\.yaml: no such config file"):
        read_yaml_mapping(tmp_path / "nope.yaml", "test settings")


def _error_for(tmp_path: Path, text: str) -> RecordError:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    data, lines = read_yaml_mapping(path, "test settings")
    with pytest.raises(ValidationError) as info:
        _Outer.model_validate(data)
    return validation_error(info.value, "c.yaml", lines)


def test_validation_error_names_file_line_and_dotted_field(tmp_path: Path) -> None:
    err = _error_for(tmp_path, "name: a\ninner:\n  size: 0\n")
    assert (err.source, err.line, err.field) == ("c.yaml", 3, "inner.size")
    assert str(err) == "c.yaml:3: field 'inner.size': Input should be greater than or equal to 1, got 0"
    err = _error_for(tmp_path, "name: a\ninner:\n  size: 2\n  sise: 2\n")
    assert (err.line, err.field) == (4, "inner.sise")
    assert "an unknown setting" in err.expected


def test_validation_error_without_a_line_for_the_field(tmp_path: Path) -> None:
    class _Needs(BaseModel):
        inner: _Inner
        count: int

    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  size: 2\n")
    data, lines = read_yaml_mapping(path, "test settings")
    with pytest.raises(ValidationError) as info:
        _Needs.model_validate(data)
    err = validation_error(info.value, "c.yaml", lines)
    assert (err.line, err.field) == (None, "count")  # the file never names it
    assert str(err).startswith("c.yaml: field 'count': Field required")
