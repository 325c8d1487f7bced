"""Reading a YAML settings file as a mapping, with the line of every dotted key, for file:line errors.

Owns reading the mapping (syntax errors and non-mappings name the file and line) and turning a
pydantic ValidationError into a RecordError naming file:line:field. It does not own any schema:
each config module (build, train, quickstart) validates its own fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from metaalign.errors import MetaAlignError, RecordError


def _key_lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """1-based line of every dotted key in a composed YAML mapping."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = f"{prefix}{key.value}"
            lines[name] = key.start_mark.line + 1
            lines.update(_key_lines(value, name + "."))
    return lines


def read_yaml_mapping(path: str | Path, what: str) -> tuple[dict[str, Any], dict[str, int]]:
    """(the mapping in the YAML file at `path`, {dotted key: 1-based line}); an empty file gives ({}, {}).

    `what` names the contents for the error when the file holds something else, e.g. "build settings"
    gives "a YAML mapping of build settings".
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise MetaAlignError(f"{source}: no such config file") from err
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RecordError(source, line, None, f"valid YAML ({getattr(err, 'problem', err)})") from err
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise RecordError(source, 1, None, f"a YAML mapping of {what}")
    return data, _key_lines(node) if node is not None else {}


def field_line(lines: Mapping[str, int], field: str) -> int | None:
    """The line of a dotted field, or of the nearest enclosing section that the file names."""
    while field:
        if field in lines:
            return lines[field]
        field = field.rpartition(".")[0]
    return None


def expectation(error: Mapping[str, Any]) -> str:
    """What one pydantic error says was expected, with the value given where that helps."""
    if error["type"] == "extra_forbidden":
        return "an unknown setting (check the spelling)"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message if error["type"] == "value_error" else f"{message}, got {error.get('input')!r}"


def validation_error(
    err: ValidationError,
    source: str,
    lines: Mapping[str, int],
    explain: Callable[[Mapping[str, Any]], str] = expectation,
) -> RecordError:
    """A RecordError for the first problem in `err`: file:line, the dotted field, what was expected.

    `lines` comes from `read_yaml_mapping`; a field the file does not name (a missing one) gets the
    line of its section, or no line. `explain` words the expectation (default: `expectation`).
    """
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    return RecordError(source, field_line(lines, field), field or None, explain(first))
