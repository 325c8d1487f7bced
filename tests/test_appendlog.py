"""The durable append-only JSONL log: a torn last line is dropped on reopen, nothing is duplicated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metaalign.appendlog import AppendLog, drop_partial_line
from metaalign.errors import MetaAlignError


def test_drop_partial_line_cuts_only_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": 3')  # a kill mid-write
    assert drop_partial_line(path) == '{"a": 1}\n{"b": 2}\n'
    assert path.read_bytes() == b'{"a": 1}\n{"b": 2}\n'
    assert drop_partial_line(path) == '{"a": 1}\n{"b": 2}\n'  # whole lines: nothing cut
    path.write_bytes(b'{"c": 3')  # not one whole line
    assert drop_partial_line(path) == ""
    assert path.read_bytes() == b""


def test_rows_survive_a_reopen_in_order(tmp_path: Path) -> None:
    log = AppendLog(tmp_path / "sub" / "log.jsonl")
    assert not log.exists() and list(log.rows("a row")) == []
    log.append([{"id": "a", "text": "é"}, {"id": "b"}])
    log.append([])  # nothing to write: the file is left as it is
    log.append([{"id": "c"}])
    assert [r["id"] for r in AppendLog(log.path).rows("a row")] == ["a", "b", "c"]
    assert AppendLog(log.path).exists()


def test_a_torn_last_line_is_dropped_and_the_resumed_log_holds_each_row_once(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = AppendLog(path)
    log.append([{"id": "a"}, {"id": "b"}])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"id": "c", "te')  # killed mid-write
    resumed = AppendLog(path)
    done = {row["id"] for row in resumed.rows("a row")}
    assert done == {"a", "b"}
    # the caller appends only what is not done: the torn row once, never the finished ones again
    resumed.append([{"id": i} for i in ("a", "b", "c") if i not in done])
    ids = [row["id"] for row in AppendLog(path).rows("a row")]
    assert ids == ["a", "b", "c"]
    assert path.read_text().count("\n") == 3


def test_a_bad_line_before_the_last_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "c"}\n')
    with pytest.raises(MetaAlignError, match=r"log\.jsonl:2: not a verdict line"):
        list(AppendLog(path).rows("a verdict line"))
    path.write_text('{"id": "a"}\n[1, 2]\n')  # JSON, but not an object
    with pytest.raises(MetaAlignError, match=r"log\.jsonl:2: not a verdict line"):
        list(AppendLog(path).rows("a verdict line"))


def test_rows_can_start_after_a_header(tmp_path: Path) -> None:
    log = AppendLog(tmp_path / "log.jsonl")
    log.append([{"header": 1}, {"id": "a"}])
    assert list(log.rows("a row", first_line=2)) == [{"id": "a"}]


def test_append_syncs_before_returning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    AppendLog(tmp_path / "log.jsonl").append([{"id": "a"}])
    assert len(synced) == 1
