"""The build's SQLite store (WAL): one table per stage, rows keyed by deterministic ids.

Owns the schema, resuming (which ids are done), and writes that commit as each result lands
with INSERT OR IGNORE, so a re-run after SIGKILL never duplicates a row. It does not decide
what to compute; every stage module reads and writes through it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError

SCHEMA_VERSION = "1"

# Tables and their columns; `id` is the primary key of each. JSON columns hold nested data.
TABLES: dict[str, tuple[str, ...]] = {
    "candidates": (
        "instruction_id",
        "k",
        "split",
        "source",
        "text",
        "prompt_tokens",
        "completion_tokens",
        "finish_reason",
    ),
    "assignments": ("instruction_id", "slot", "split", "kind", "data"),
    "responses": ("assignment_id", "k", "role", "path", "text", "verified", "data"),
    "judgments": (
        "assignment_id",
        "k",
        "winner",
        "first",
        "second",
        "agree",
        "attempts",
        "prompt_version",
        "replies",
    ),
    "failures": ("stage", "error", "attempts"),
    # every endpoint reply, keyed by its idempotency key, committed the moment it arrives
    "calls": ("text", "prompt_tokens", "completion_tokens", "cost"),
}
_JSON = {"data", "replies"}
_BOOL = {"verified", "agree"}


class BuildStore:
    """A build's `store.sqlite`. `fingerprint` ties it to one config; a different one is refused."""

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self._create()
        self._claim(fingerprint)

    def _create(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for table, columns in TABLES.items():
            cols = ", ".join(columns)
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, {cols})")

    def _claim(self, fingerprint: str) -> None:
        for key, value in (("schema", SCHEMA_VERSION), ("fingerprint", fingerprint)):
            self.db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, value))
            (stored,) = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if stored != value:
                raise MetaAlignError(
                    f"{self.path}: this store was built with a different {key} ({stored}, now {value}); "
                    "resume with the same config, or pass --fresh (or a new output_dir) to start over"
                )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> BuildStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def put(self, table: str, row: Mapping[str, Any]) -> None:
        """Insert one row and commit it at once (or within an open `transaction`)."""
        self.put_many(table, [row])

    def put_many(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert rows in one statement batch; rows whose id exists are left as they are."""
        columns = ("id", *TABLES[table])
        sql = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        values = [tuple(_encode(c, row.get(c)) for c in columns) for row in rows]
        if not values:
            return
        if self.db.in_transaction:
            self.db.executemany(sql, values)
        else:
            with self.transaction():
                self.db.executemany(sql, values)
        if table not in ("failures", "calls"):
            self.db.execute(
                f"DELETE FROM failures WHERE id IN ({', '.join('?' * len(values))})",
                [f"{table}:{v[0]}" for v in values],
            )

    def fail(self, table: str, item_id: str, error: str, attempts: int) -> None:
        """Record that `item_id` of `table` is still pending after its retries (replaced on each run)."""
        self.db.execute(
            "INSERT OR REPLACE INTO failures (id, stage, error, attempts) VALUES (?, ?, ?, ?)",
            (f"{table}:{item_id}", table, error, attempts),
        )

    def get(self, table: str, item_id: str) -> dict[str, Any] | None:
        cursor = self.db.execute(f"SELECT * FROM {table} WHERE id = ?", (item_id,))
        row = cursor.fetchone()
        if row is None:
            return None
        return {d[0]: _decode(d[0], v) for d, v in zip(cursor.description, row, strict=True)}

    def ids(self, table: str) -> set[str]:
        return {row[0] for row in self.db.execute(f"SELECT id FROM {table}")}

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of `table`, ordered by id (so reads are deterministic)."""
        cursor = self.db.execute(f"SELECT * FROM {table} ORDER BY id")
        names = [d[0] for d in cursor.description]
        return [{n: _decode(n, v) for n, v in zip(names, row, strict=True)} for row in cursor]

    def count(self, table: str) -> int:
        (n,) = self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        return int(n)


def _encode(column: str, value: Any) -> Any:
    if column in _JSON:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


def _decode(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in _JSON:
        return json.loads(value)
    return bool(value) if column in _BOOL else value
