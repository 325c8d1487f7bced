"""Record files: round trips in every format, and errors that name file, place, field and expectation."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from metaalign.errors import RecordError
from metaalign.records import writing
from metaalign.records.io import read_records, read_rows
from metaalign.records.schema import PreferenceRecord, SFTRecord
from metaalign.records.writing import write_records

FORMATS = ["data.jsonl", "data.jsonl.gz", "data.json", "data.parquet", "data_ds"]


def raises_record_error(path, **kwargs) -> RecordError:
    with pytest.raises(RecordError) as info:
        read_records(path, **kwargs)
    return info.value


@pytest.fixture
def sft_records(sft_row):
    rows = [
        sft_row(),
        sft_row(id="s2", system_info=None, user_info="Ünïcode — “quotes” and 中文", subset="custom"),
        sft_row(
            id="s3", metadata={"conflict": True, "winner": "system", "tags": ["a", 1], "nested": {"k": None}}
        ),
    ]
    return [SFTRecord.model_validate(row) for row in rows]


@pytest.fixture
def pref_records(pref_row):
    rows = [pref_row(), pref_row(id="p2", user_info=None, metadata={"score": 0.5})]
    return [PreferenceRecord.model_validate(row) for row in rows]


@pytest.mark.parametrize("name", FORMATS)
def test_sft_round_trip(tmp_path, sft_records, name):
    path = write_records(sft_records, tmp_path / name)
    result = read_records(path)
    assert result.records == sft_records
    assert (result.errors, result.skipped) == ([], 0)


@pytest.mark.parametrize("name", FORMATS)
def test_preference_round_trip(tmp_path, pref_records, name):
    path = write_records(pref_records, tmp_path / name)
    assert read_records(path, "preference").records == pref_records


def test_parquet_layout_is_nested_dialogue_and_json_metadata(tmp_path, sft_records):
    path = write_records(sft_records, tmp_path / "d.parquet")
    schema = pq.read_schema(path)
    assert schema.field("messages").type == pa.list_(
        pa.struct([("role", pa.string()), ("content", pa.string())])
    )
    assert schema.field("metadata").type == pa.string()
    metadata = pq.read_table(path).column("metadata").to_pylist()[2]
    assert json.loads(metadata)["nested"] == {"k": None}


def test_jsonl_gz_is_gzip(tmp_path, sft_records):
    path = write_records(sft_records, tmp_path / "d.jsonl.gz")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["s1", "s2", "s3"]


def test_failed_write_keeps_the_old_file(tmp_path, sft_records, monkeypatch):
    path = write_records(sft_records[:1], tmp_path / "d.jsonl")
    before = path.read_bytes()

    def broken_writer(rows, kind, target):
        target.write_text("half a fi")
        raise OSError("disk full")

    monkeypatch.setitem(writing._WRITERS, "jsonl", broken_writer)
    with pytest.raises(OSError, match="disk full"):
        write_records(sft_records, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.jsonl"]


def test_rewriting_a_datasets_folder_replaces_it(tmp_path, sft_records):
    folder = write_records(sft_records, tmp_path / "ds")
    write_records(sft_records[:1], folder)
    assert read_records(folder).records == sft_records[:1]


def test_write_refuses_nothing_mixed_kinds_and_foreign_folders(tmp_path, sft_records, pref_records):
    with pytest.raises(RecordError, match="at least one record to write, got none"):
        write_records([], tmp_path / "d.jsonl")
    with pytest.raises(RecordError, match="records of one kind, got preference and sft records mixed"):
        write_records([*sft_records, *pref_records], tmp_path / "d.jsonl")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"x")
    with pytest.raises(RecordError, match="this folder is neither"):
        write_records(sft_records, tmp_path / "photos")
    with pytest.raises(RecordError, match=r"a \.jsonl, \.jsonl\.gz, \.json or \.parquet file"):
        write_records(sft_records, tmp_path / "d.csv")
    (tmp_path / "folder.jsonl").mkdir()
    (tmp_path / "folder.jsonl" / "keep.txt").write_text("x")
    with pytest.raises(RecordError, match="a path for a jsonl file, but this is a folder"):
        write_records(sft_records, tmp_path / "folder.jsonl")
    assert (tmp_path / "photos" / "cat.jpg").read_bytes() == b"x"
    assert (tmp_path / "folder.jsonl" / "keep.txt").read_text() == "x"


def test_jsonl_error_names_line_field_and_expectation(tmp_path, sft_row, write_jsonl):
    bad = sft_row(id="s2")
    bad["messages"][1]["role"] = "bot"
    path = write_jsonl(tmp_path / "d.jsonl", [sft_row(), "", "   ", bad])
    err = raises_record_error(path)
    assert (err.source, err.line, err.unit, err.field) == (str(path), 4, "line", "messages[1].role")
    assert str(err) == f"{path}:4: field 'messages[1].role': 'system', 'user' or 'assistant', got 'bot'"


def test_jsonl_invalid_json_and_non_object_lines(tmp_path, sft_row, write_jsonl):
    path = write_jsonl(tmp_path / "d.jsonl", [sft_row(), '{"id": "s2",', "[1, 2]"])
    result = read_records(path, skip_bad=True)
    assert [str(e) for e in result.errors] == [
        f"{path}:2: valid JSON (Expecting property name enclosed in double quotes at column 13)",
        f"{path}:3: a JSON object (one record per line), got a JSON array",
    ]


def test_jsonl_byte_order_mark_is_accepted(tmp_path, sft_row):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(sft_row()).encode() + b"\n")
    assert [r.id for r in read_records(path).records] == ["s1"]


def test_json_array_errors_name_the_item(tmp_path, sft_row):
    bad = sft_row(id="s2", metadata={"conflict": True})
    path = tmp_path / "d.json"
    path.write_text(json.dumps([sft_row(), bad, "text"]))
    err = raises_record_error(path)
    assert str(err) == (
        f"{path}: item 2: field 'metadata.winner': 'system' or 'user' (required because 'conflict' is true)"
    )
    result = read_records(path, skip_bad=True)
    assert str(result.errors[1]) == f"{path}: item 3: a JSON object, got a JSON string"


def test_json_file_must_be_an_array_of_valid_json(tmp_path, sft_row):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(sft_row()))
    err = raises_record_error(path)
    hint = "(for one record per line, name the file .jsonl)"
    assert str(err) == f"{path}: a JSON array of records, got a JSON object {hint}"
    path.write_text('[\n  {"id": 1,}\n]')
    err = raises_record_error(path)
    assert (err.line, err.expected) == (
        2,
        "valid JSON (Expecting property name enclosed in double quotes at column 12)",
    )


def test_parquet_errors_name_the_zero_based_row(tmp_path, sft_row):
    rows = [sft_row(), sft_row(id="s2"), sft_row(id="s3")]
    rows[2]["messages"].append({"role": "user", "content": "and then?"})
    for row in rows:
        row["metadata"] = json.dumps(row["metadata"])
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    err = raises_record_error(path)
    assert (
        str(err)
        == f"{path}: row 2: field 'messages[2].role': the last message to have role 'assistant', got 'user'"
    )


def test_parquet_bad_metadata_json_is_a_row_error(tmp_path, sft_row):
    row = sft_row(metadata="{not json")
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([row]), path)
    err = raises_record_error(path)
    assert (err.line, err.unit, err.field) == (0, "row", "metadata")
    assert err.expected.startswith("JSON text (")


def test_datasets_folder_errors_name_the_row(tmp_path, sft_row):
    import datasets

    rows = [sft_row(), sft_row(id="s2", subset="safety")]
    for row in rows:
        row["metadata"] = json.dumps(row["metadata"])
    folder = tmp_path / "ds"
    datasets.Dataset.from_list(rows).save_to_disk(str(folder))
    err = raises_record_error(folder)
    assert (err.line, err.unit, err.field) == (1, "row", "subset")
    assert str(err).startswith(f"{folder}: row 1: field 'subset': 'priority', ")


def test_dataset_dict_folder_asks_for_a_split(tmp_path, sft_records):
    folder = write_records(sft_records, tmp_path / "dd" / "train")
    (tmp_path / "dd" / "dataset_dict.json").write_text('{"splits": ["train"]}')
    err = raises_record_error(tmp_path / "dd")
    assert err.expected == "a single saved Dataset, not a DatasetDict; name one split's folder (train)"
    assert read_records(folder).records == sft_records


def test_file_level_problems(tmp_path, write_jsonl):
    assert (
        raises_record_error(tmp_path / "nope.jsonl").expected
        == "an existing file or folder (nothing is there)"
    )
    empty = write_jsonl(tmp_path / "empty.jsonl", ["", "  "])
    err = raises_record_error(empty, skip_bad=True)
    assert str(err) == f"{empty}: at least one record, but the file has none"
    (tmp_path / "e.json").write_text("[]")
    assert raises_record_error(tmp_path / "e.json").expected == "at least one record, but the file has none"
    (tmp_path / "d.txt").write_text("x")
    assert raises_record_error(tmp_path / "d.txt").line is None
    (tmp_path / "d.jsonl.gz").write_bytes(b"not gzip")
    assert raises_record_error(tmp_path / "d.jsonl.gz").expected.startswith("a gzip-compressed JSONL file (")


def test_duplicate_ids_name_the_first_use(tmp_path, sft_row, write_jsonl):
    path = write_jsonl(tmp_path / "d.jsonl", [sft_row(), sft_row(id="s2"), sft_row()])
    err = raises_record_error(path)
    assert str(err) == f"{path}:3: field 'id': a unique id; 's1' is already used at line 1"


def test_kind_is_held_to_the_first_record(tmp_path, sft_row, pref_row, write_jsonl):
    path = write_jsonl(tmp_path / "d.jsonl", [sft_row(), pref_row()])
    err = raises_record_error(path)
    assert (
        str(err)
        == f"{path}:2: an SFT record (set by the first record at line 1), but this row has a 'chosen' field"
    )
    err = raises_record_error(path, kind="preference")
    assert str(err) == f"{path}:1: a preference record (requested), but this row has no 'chosen' field"


def test_first_bad_record_raises_without_skip_bad(tmp_path, sft_row, write_jsonl):
    path = write_jsonl(tmp_path / "d.jsonl", [sft_row(), sft_row(id=""), "{", sft_row(id="s4")])
    assert raises_record_error(path).line == 2


def test_skip_bad_counts_every_bad_row_and_keeps_the_first_errors(tmp_path, sft_row, write_jsonl):
    rows = [sft_row(id="ok1"), "{", sft_row(id=""), sft_row(id="ok1"), "7", sft_row(id="ok2"), sft_row(id=3)]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    result = read_records(path, skip_bad=True, max_errors_shown=3)
    assert [r.id for r in result.records] == ["ok1", "ok2"]
    assert result.skipped == 5
    assert [(e.line, e.field) for e in result.errors] == [(2, None), (3, "id"), (4, "id")]


def test_read_rows_reports_locations_lazily(tmp_path, sft_row, write_jsonl):
    path = write_jsonl(tmp_path / "d.jsonl", ["", sft_row(), "nope"])
    rows = list(read_rows(path))
    assert [(r.index, r.unit, r.data is None) for r in rows] == [(2, "line", False), (3, "line", True)]
    assert rows[1].problem is not None and rows[1].problem.line == 3


def test_unknown_kind_argument_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        read_records(tmp_path / "d.jsonl", kind="dpo")  # type: ignore[arg-type]


def test_atomic_write_text_replaces_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "run.json"
    writing.atomic_write_text(path, '{"old": 1}\n')
    assert path.read_text() == '{"old": 1}\n'
    assert path.stat().st_mode & 0o777 == 0o666 & ~writing._umask()  # an ordinary file, not mkstemp's 0600

    def killed(*args):
        raise KeyboardInterrupt  # stands in for a kill between writing and renaming

    monkeypatch.setattr(writing.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        writing.atomic_write_text(path, '{"new": 2}\n')
    assert path.read_text() == '{"old": 1}\n'  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left behind
