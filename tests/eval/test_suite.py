"""The suite file format: a valid case loads, and every kind of bad line names file:line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaalign.errors import RecordError
from metaalign.eval.suite import SuiteCase, SuiteCheck, load_suite, write_suite

KNOWN = ("all_caps", "all_lowercase", "max_words")


def _row(**over) -> dict:
    row = {
        "id": "c1",
        "split": "my-suite",
        "instruction_id": "i1",
        "instruction": "Explain tides.",
        "system_info": "Answer in capital letters only.",
        "user_info": None,
        "placement": "system",
        "type": "all_caps",
        "checks": [{"check": {"id": "all_caps", "params": {}}, "expect": True, "tier": "system"}],
        "winner": None,
        "system_phrasing": "p1",
        "user_phrasing": None,
    }
    row.update(over)
    return row


def _write(tmp_path: Path, rows: list, name: str = "suite.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_a_valid_suite_loads_and_declares_its_split_and_ids(tmp_path: Path) -> None:
    path = _write(tmp_path, [_row(), _row(id="c2", instruction_id="i2", system_phrasing="p2")])
    suite = load_suite(path, known_checks=KNOWN)
    assert len(suite) == 2 and suite.split == "my-suite"
    assert suite.instruction_ids == {"i1", "i2"} and suite.phrasing_ids == {"p1", "p2"}
    assert suite.cases[0].checks == (SuiteCheck("all_caps", {}, True, "system"),)


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    case = SuiteCase(
        id="x",
        split="s",
        instruction="q",
        placement="conflict",
        type="all_caps",
        checks=(SuiteCheck("all_caps", {}, True, "system"), SuiteCheck("all_lowercase", {}, False, "user")),
        system_info="caps",
        user_info="lower",
        winner="system",
    )
    write_suite([case], tmp_path / "s.jsonl")
    assert load_suite(tmp_path / "s.jsonl", known_checks=KNOWN).cases == (case,)


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("{not json", None, "one JSON object per line"),
        ("[1, 2]", None, "a JSON object"),
        (_row(placement="sideways"), "placement", "one of system, user, both, conflict, none"),
        ({k: v for k, v in _row().items() if k != "checks"}, "checks", "present"),
        (_row(checks=[]), "checks", "a non-empty list"),
        (_row(checks=[{"check": {"id": "no"}, "expect": True}]), "checks[0].check.id", "a known checker id"),
        (_row(checks=[{"check": {"id": "all_caps"}, "expect": "yes"}]), "checks[0].expect", "true or false"),
        (_row(placement="conflict", user_info="x"), "winner", "'system' or 'user' for a conflict"),
        (_row(system_info=None), "system_info", "a non-empty string for placement 'system'"),
        (_row(placement="none", system_info=None), "checks[0].expect", "false in a control case"),
        (_row(instruction=""), "instruction", "a non-empty string"),
    ],
)
def test_bad_lines_name_file_line_and_field(tmp_path: Path, line, field, expected) -> None:
    path = _write(tmp_path, [_row(id="ok"), line])
    with pytest.raises(RecordError) as info:
        load_suite(path, known_checks=KNOWN)
    err = info.value
    assert (err.source, err.line, err.field) == (str(path), 2, field)
    assert expected in err.expected
    assert f"{path}:2" in str(err)


def test_duplicate_ids_and_mixed_splits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r":2: field 'id': a unique id; 'c1' is on line 1"):
        load_suite(_write(tmp_path, [_row(), _row()]), known_checks=KNOWN)
    with pytest.raises(RecordError, match=r":2: field 'split'"):
        load_suite(_write(tmp_path, [_row(), _row(id="c2", split="other")]), known_checks=KNOWN)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="at least one case"):
        load_suite(_write(tmp_path, []), known_checks=KNOWN)
