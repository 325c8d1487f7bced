"""Writing record files, atomically: JSONL (optionally .gz), JSON arrays, Parquet, `datasets` folders.

Owns the writers and the atomic replace every stage uses for its small files
(`atomic_write_text`). Formats are decided as for reading (`io.detect_format`); the record rules
are `schema`'s. pyarrow and datasets are imported inside the functions that need them.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from metaalign.errors import RecordError
from metaalign.records.io import PathLike, detect_format
from metaalign.records.schema import Kind, Record, record_to_row


@functools.cache
def _umask() -> int:
    """The process umask, read once (reading it means setting it, so not on every write)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Replace `path` with `text` (UTF-8) through a temporary file in the same folder and os.replace,
    so a kill mid-write leaves the old file or the new one, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # as an ordinary new file, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary sibling path that replaces `path` only if the block finishes without error."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp / path.name
        if (tmp / path.name).is_dir() and path.is_dir():  # a datasets folder (detect_format vetted it)
            shutil.rmtree(path)
        os.replace(tmp / path.name, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_jsonl(rows: list[dict[str, Any]], kind: Kind, target: Path) -> None:
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    if target.name.lower().endswith(".gz"):
        lines = gzip.compress(lines, mtime=0)
    target.write_bytes(lines)


def _write_json(rows: list[dict[str, Any]], kind: Kind, target: Path) -> None:
    target.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _arrow_table(rows: list[dict[str, Any]], kind: Kind) -> Any:
    """The records as one Arrow table: dialogues as list<struct<role, content>>, metadata as JSON text."""
    import pyarrow as pa

    text = pa.string()
    dialogue = pa.list_(pa.struct([("role", text), ("content", text)]))
    common = [("id", text), ("subset", text), ("system_info", text), ("user_info", text)]
    if kind == "sft":
        fields = [*common, ("messages", dialogue)]
    else:
        fields = [*common, ("prompt", dialogue), ("chosen", text), ("rejected", text)]
    schema = pa.schema([*fields, ("metadata", text)], metadata={"metaalign.kind": kind})
    encoded = [{**row, "metadata": json.dumps(row["metadata"], ensure_ascii=False)} for row in rows]
    return pa.Table.from_pylist(encoded, schema=schema)


def _write_parquet(rows: list[dict[str, Any]], kind: Kind, target: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(_arrow_table(rows, kind), target)


def _write_datasets(rows: list[dict[str, Any]], kind: Kind, target: Path) -> None:
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        datasets.Dataset(_arrow_table(rows, kind)).save_to_disk(str(target))
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


_WRITERS: dict[str, Callable[[list[dict[str, Any]], Kind, Path], None]] = {
    "jsonl": _write_jsonl,
    "jsonl.gz": _write_jsonl,
    "json": _write_json,
    "parquet": _write_parquet,
    "datasets": _write_datasets,
}


def write_records(records: Iterable[Record], path: PathLike) -> Path:
    """Write records of one kind to `path`; the format comes from the extension, as for reading.

    A path without an extension (or an empty folder, or an earlier `datasets` folder) gets a
    `datasets` folder. The target is replaced only once the new file is complete, so a failed
    write never leaves half a file. Returns the path written.
    """
    path = Path(path)
    records = list(records)
    if not records:
        raise RecordError(str(path), None, None, "at least one record to write, got none")
    kinds = sorted({record.kind for record in records})
    if len(kinds) > 1:
        expected = f"records of one kind, got {' and '.join(kinds)} records mixed"
        raise RecordError(str(path), None, None, expected)
    fmt = detect_format(path, for_writing=True)
    if fmt != "datasets" and path.is_dir():
        raise RecordError(str(path), None, None, f"a path for a {fmt} file, but this is a folder")
    writer = _WRITERS[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    with _replacing(path) as tmp:
        writer([record_to_row(record) for record in records], kinds[0], tmp)  # type: ignore[arg-type]
    return path
