"""The error types users see. Every message names where the problem is and what was expected."""

from __future__ import annotations


class MetaAlignError(Exception):
    """Base class: the CLI prints these as one clear line and exits with status 2."""


class RecordError(MetaAlignError):
    """A record that does not fit its schema: names the file, line (or row), field and expectation.

    `unit` says what `line` counts: "line" renders as `file:12`; any other unit (a JSON array's
    "item", a Parquet or datasets "row") renders as `file: item 12`.
    """

    def __init__(
        self, source: str, line: int | None, field: str | None, expected: str, *, unit: str = "line"
    ) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.expected = expected
        self.unit = unit
        if line is None:
            where = source
        elif unit == "line":
            where = f"{source}:{line}"
        else:
            where = f"{source}: {unit} {line}"
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{expected}")


class ModelNotFoundError(MetaAlignError):
    """A model reference that resolves to nothing available offline."""


class TemplateError(MetaAlignError):
    """A chat template the renderer cannot use (and why)."""
