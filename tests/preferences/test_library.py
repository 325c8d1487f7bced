"""The library loader: valid files, file:line:field errors, queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaalign.errors import RecordError
from metaalign.preferences import Check, load_library

ENTRY = """\
  - id: {id}
    text: {text}
    kind: explicit
    category: length
    subset: helpful
    tiers: [system, user]
    check: {{id: max_words, params: {{n: 20}}}}
    split: train
"""


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "library.yaml"
    path.write_text("version: 1\npreferences:\n" + body)
    return path


def test_loads_a_valid_file_and_selects(tmp_path: Path) -> None:
    body = ENTRY.format(id="a", text="Under 20 words.") + ENTRY.format(id="b", text="Short please.").replace(
        "split: train", "split: test"
    ).replace("tiers: [system, user]", "tiers: [user]")
    lib = load_library(_write(tmp_path, body))
    assert [p.id for p in lib.all] == ["a", "b"]
    assert lib.by_id("a").check == Check("max_words", {"n": 20})
    assert lib.by_id("a").tiers == ("system", "user")
    assert [p.id for p in lib.select(split="test")] == ["b"]
    assert [p.id for p in lib.select(tier="system")] == ["a"]
    assert [p.id for p in lib.select(verifiable=False)] == []
    assert [p.id for p in lib.select(checker="max_words", split="train")] == ["a"]
    with pytest.raises(KeyError, match="no preference 'zzz'"):
        lib.by_id("zzz")


@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        ("kind: explicit", "kind: loud", 5, "kind"),
        ("category: length", "category: colour", 6, "category"),
        ("subset: helpful", "subset: misc", 7, "subset"),
        ("tiers: [system, user]", "tiers: [deployer]", 8, "tiers"),
        ("tiers: [system, user]", "tiers: []", 8, "tiers"),
        ("{n: 20}", "{n: 0}", 9, "check.params.n"),
        ("{n: 20}", "{words: 20}", 9, "check.params.words"),
        ("max_words", "max_wordz", 9, "check.id"),
        ("check: {id: max_words, params: {n: 20}}", "check: max_words", 9, "check"),
        ("split: train", "split: dev", 10, "split"),
        ("split: train", "split: train\n    delegates: maybe", 11, "delegates"),
        ("split: train", "split: train\n    colour: red", 11, "colour"),
        ("text: Under 20 words.", "text: ''", 4, "text"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, old: str, new: str, line: int, field: str) -> None:
    body = ENTRY.format(id="a", text="Under 20 words.").replace(old, new)
    path = _write(tmp_path, body)
    with pytest.raises(RecordError) as err:
        load_library(path)
    assert (err.value.source, err.value.line, err.value.field) == (str(path), line, field)
    assert str(err.value).startswith(f"{path}:{line}: field '{field}': ")


def test_duplicate_ids_and_texts_are_reported_with_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, ENTRY.format(id="a", text="One.") + ENTRY.format(id="a", text="Two."))
    with pytest.raises(
        RecordError, match=r"library.yaml:11: field 'id': a unique id \('a' is also on line 3\)"
    ):
        load_library(path)
    path = _write(
        tmp_path, ENTRY.format(id="a", text="Same  text.") + ENTRY.format(id="b", text="same text.")
    )
    with pytest.raises(RecordError, match=r":12: field 'text': a distinct text \(the same as line 4\)"):
        load_library(path)


def test_delegates_needs_the_system_tier(tmp_path: Path) -> None:
    body = ENTRY.format(id="a", text="x").replace("tiers: [system, user]", "tiers: [user]")
    path = _write(tmp_path, body.replace("split: train", "split: train\n    delegates: true"))
    with pytest.raises(RecordError, match="field 'delegates'"):
        load_library(path)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("preferences: {a: 1}\n", 1),
        ("- a\n- b\n", 1),
        ("preferences:\n  - a: [1\n", 3),
        ("preferences:\n  - 3\n", 2),
    ],
)
def test_structural_errors(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "lib.yaml"
    path.write_text(text)
    with pytest.raises(RecordError) as err:
        load_library(path)
    assert err.value.line == line


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"nope\.yaml: an existing file"):
        load_library(tmp_path / "nope.yaml")
