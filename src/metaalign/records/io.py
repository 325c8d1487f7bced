"""Reading record files: JSONL (optionally .gz), JSON arrays, Parquet, `datasets` folders.

Owns formats and error locations (file plus line, item or row). Does not own writing (see
`writing`), the record rules (`schema`) nor other datasets' layouts (`importers`). pyarrow and
datasets are imported inside the functions that need them.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from metaalign.errors import RecordError
from metaalign.records.schema import KINDS, MODELS, Kind, Record, detect_kind, explain

Format = Literal["jsonl", "jsonl.gz", "json", "parquet", "datasets"]
PathLike = str | os.PathLike[str]

_FORMATS = "a .jsonl, .jsonl.gz, .json or .parquet file, or a folder written by datasets' save_to_disk"
_JSON_COLUMNS = ("metadata",)  # record fields that Parquet / datasets store as JSON text


@dataclass(frozen=True)
class RawRow:
    """One row of a source file before validation: its location and data, or why it has none."""

    source: str
    index: int
    unit: str  # "line", "item" or "row"
    data: dict[str, Any] | None
    problem: RecordError | None = None

    @property
    def where(self) -> str:
        return f"{self.unit} {self.index}"

    def fail(self, field: str | None, expected: str) -> RecordError:
        """An error located at this row."""
        return RecordError(self.source, self.index, field, expected, unit=self.unit)

    def broken(self, field: str | None, expected: str) -> RawRow:
        """This row without data, carrying the error that says why."""
        return replace(self, data=None, problem=self.fail(field, expected))


@dataclass
class LoadResult:
    """Records read from a source, plus the first errors and the count of skipped bad rows."""

    records: list[Record] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    skipped: int = 0


def _json_type(value: Any) -> str:
    """'a JSON array', 'a JSON string', ... for messages about what a value is."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return f"a JSON {names.get(type(value), 'number')}"


def detect_format(path: Path, *, for_writing: bool = False) -> Format:
    """The format a path names: by extension, or a `datasets` folder (a new folder when writing)."""
    name = path.name.lower()
    if name.endswith(".jsonl.gz"):
        return "jsonl.gz"
    if path.suffix.lower() in (".jsonl", ".json", ".parquet"):
        return path.suffix.lower()[1:]  # type: ignore[return-value]
    if path.is_dir():
        if (path / "dataset_dict.json").exists():
            splits = ", ".join(sorted(p.name for p in path.iterdir() if p.is_dir()))
            expected = f"a single saved Dataset, not a DatasetDict; name one split's folder ({splits})"
            raise RecordError(str(path), None, None, expected)
        if (path / "state.json").exists() or (path / "dataset_info.json").exists():
            return "datasets"
        if for_writing and not any(path.iterdir()):
            return "datasets"
        raise RecordError(str(path), None, None, f"{_FORMATS}; this folder is neither")
    if for_writing and not path.suffix:
        return "datasets"
    raise RecordError(str(path), None, None, _FORMATS)


def _parse_line(source: str, lineno: int, raw: bytes) -> RawRow | None:
    row = RawRow(source, lineno, "line", None)
    try:
        text = raw.decode("utf-8").lstrip("\ufeff") if lineno == 1 else raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return row.broken(None, f"UTF-8 text ({err.reason})")
    if not text.strip():
        return None
    try:
        data = json.loads(text.rstrip("\r\n"))  # so that an error's column stays on this line
    except json.JSONDecodeError as err:
        return row.broken(None, f"valid JSON ({err.msg} at column {err.colno})")
    if not isinstance(data, dict):
        return row.broken(None, f"a JSON object (one record per line), got {_json_type(data)}")
    return replace(row, data=data)


def _jsonl_rows(path: Path, source: str, json_columns: tuple[str, ...]) -> Iterator[RawRow]:
    compressed = path.name.lower().endswith(".gz")
    try:
        with gzip.open(path, "rb") if compressed else path.open("rb") as handle:
            for lineno, raw in enumerate(handle, start=1):
                row = _parse_line(source, lineno, raw)
                if row is not None:
                    yield row
    except (gzip.BadGzipFile, EOFError) as err:
        raise RecordError(source, None, None, f"a gzip-compressed JSONL file ({err})") from err


def _json_rows(path: Path, source: str, json_columns: tuple[str, ...]) -> Iterator[RawRow]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise RecordError(source, err.lineno, None, f"valid JSON ({err.msg} at column {err.colno})") from err
    except UnicodeDecodeError as err:
        raise RecordError(source, None, None, f"UTF-8 text ({err.reason})") from err
    if not isinstance(data, list):
        hint = " (for one record per line, name the file .jsonl)" if isinstance(data, dict) else ""
        raise RecordError(source, None, None, f"a JSON array of records, got {_json_type(data)}{hint}")
    for i, item in enumerate(data, start=1):
        row = RawRow(source, i, "item", item if isinstance(item, dict) else None)
        yield row if row.data is not None else row.broken(None, f"a JSON object, got {_json_type(item)}")


def _table_rows(batches: Iterable[Any], source: str, json_columns: tuple[str, ...]) -> Iterator[RawRow]:
    """Rows of Arrow batches: null cells dropped, JSON text columns decoded, 0-based row numbers."""
    index = 0
    for batch in batches:
        for cells in batch.to_pylist():
            row = RawRow(source, index, "row", {k: v for k, v in cells.items() if v is not None})
            index += 1
            yield _decode_json_columns(row, json_columns)


def _decode_json_columns(row: RawRow, json_columns: tuple[str, ...]) -> RawRow:
    assert row.data is not None
    for column in json_columns:
        text = row.data.get(column)
        if isinstance(text, str):
            try:
                row.data[column] = json.loads(text)
            except json.JSONDecodeError as err:
                return row.broken(column, f"JSON text ({err.msg})")
    return row


def _parquet_rows(path: Path, source: str, json_columns: tuple[str, ...]) -> Iterator[RawRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=1024)
    except (pa.ArrowException, OSError) as err:
        raise RecordError(source, None, None, f"a readable Parquet file ({err})") from err
    yield from _table_rows(batches, source, json_columns)


def _datasets_rows(path: Path, source: str, json_columns: tuple[str, ...]) -> Iterator[RawRow]:
    import datasets

    try:
        dataset = datasets.load_from_disk(str(path))
    except (OSError, ValueError) as err:
        raise RecordError(source, None, None, f"a folder written by datasets' save_to_disk ({err})") from err
    yield from _table_rows(dataset.with_format("arrow").iter(batch_size=1024), source, json_columns)


_READERS: dict[str, Callable[[Path, str, tuple[str, ...]], Iterator[RawRow]]] = {
    "jsonl": _jsonl_rows,
    "jsonl.gz": _jsonl_rows,
    "json": _json_rows,
    "parquet": _parquet_rows,
    "datasets": _datasets_rows,
}


def read_rows(path: PathLike, *, json_columns: tuple[str, ...] = ()) -> Iterator[RawRow]:
    """The raw rows of any supported file, lazily, each with its location.

    Rows that cannot be parsed (bad JSON on a line, a non-object item) come back with `problem`
    set. Problems with the whole file (missing, unknown format, no rows at all) raise RecordError.
    `json_columns` names columns that tabular formats store as JSON text, decoded here.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise RecordError(source, None, None, "an existing file or folder (nothing is there)")
    count = 0
    for row in _READERS[detect_format(path)](path, source, json_columns):
        count += 1
        yield row
    if count == 0:
        raise RecordError(source, None, None, "at least one record, but the file has none")


def collect(
    rows: Iterable[RawRow],
    build: Callable[[RawRow], Record],
    *,
    skip_bad: bool = False,
    max_errors_shown: int = 5,
) -> LoadResult:
    """Build a record from each row and check ids are unique across the source.

    `build` raises RecordError for a bad row. Without `skip_bad` the first bad row raises;
    with it, bad rows are counted in `skipped` and the first `max_errors_shown` errors kept.
    """
    result = LoadResult()
    first_seen: dict[str, str] = {}
    for row in rows:
        try:
            if row.problem is not None:
                raise row.problem
            record = build(row)
            if record.id in first_seen:
                raise row.fail("id", f"a unique id; {record.id!r} is already used at {first_seen[record.id]}")
        except RecordError as err:
            if not skip_bad:
                raise
            result.skipped += 1
            if len(result.errors) < max_errors_shown:
                result.errors.append(err)
            continue
        first_seen[record.id] = row.where
        result.records.append(record)
    return result


_A_KIND = {"sft": "an SFT record", "preference": "a preference record"}


class _Validator:
    """Validates rows as one kind: the given one, or the kind of the first row that has data."""

    def __init__(self, kind: Kind | None) -> None:
        self.kind = kind
        self.origin = "requested" if kind else ""

    def __call__(self, row: RawRow) -> Record:
        assert row.data is not None
        found = detect_kind(row.data)
        if self.kind is None:
            self.kind, self.origin = found, f"set by the first record at {row.where}"
        elif found != self.kind:
            has = "has a 'chosen' field" if found == "preference" else "has no 'chosen' field"
            raise row.fail(None, f"{_A_KIND[self.kind]} ({self.origin}), but this row {has}")
        return validate_row(row, self.kind)


def validate_row(row: RawRow, kind: Kind) -> Record:
    """The row's data as a record of `kind`, or a RecordError at the row naming the field."""
    model = MODELS[kind]
    try:
        return model.model_validate(row.data)
    except ValidationError as err:
        raise row.fail(*explain(err, model)) from None


def read_records(
    path: PathLike, kind: Kind | None = None, *, skip_bad: bool = False, max_errors_shown: int = 5
) -> LoadResult:
    """Read and validate every record of a file (format by extension, or a `datasets` folder).

    `kind` None detects the kind from the first record (`chosen` present means preference) and
    holds the rest of the file to it. Without `skip_bad` the first bad record raises RecordError;
    with it, bad records are skipped and counted (never silently dropped). Duplicate ids are bad
    records too: the first occurrence is kept. Blank JSONL lines are ignored.

    Locations in errors: JSONL counts 1-based lines (blank lines still numbered); a JSON array
    counts 1-based items; Parquet and `datasets` count 0-based rows, as `dataset[i]` does. There a
    null cell means the field is absent, and `metadata` is a JSON text column, so that free-form
    metadata keys round-trip exactly.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None, got {kind!r}")
    rows = read_rows(path, json_columns=_JSON_COLUMNS)
    return collect(rows, _Validator(kind), skip_bad=skip_bad, max_errors_shown=max_errors_shown)
