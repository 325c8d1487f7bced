"""Reading the preference data files (YAML) with line numbers, so every error names file:line:field.

Owns YAML parsing and locating list items and their fields. Does not own what an item must
contain (see `library`, `priority`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from metaalign.errors import RecordError

Item = tuple[dict[str, Any], int, dict[str, int]]  # (data, line of the item, line of each field)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(str(path), None, None, "an existing file") from None
    except UnicodeDecodeError as err:
        raise RecordError(str(path), None, None, f"UTF-8 text ({err.reason})") from None


def load_yaml_items(path: Path, key: str) -> list[Item]:
    """The items of the list under `key` in a YAML mapping, each with its line and its fields' lines."""
    source = str(path)
    loader = yaml.SafeLoader(_read(path))
    try:
        root = loader.get_single_node()
        if not isinstance(root, yaml.MappingNode):
            raise RecordError(source, 1, None, f"a YAML mapping with a '{key}' list")
        values = {loader.construct_object(k): v for k, v in root.value}
        if not isinstance(values.get(key), yaml.SequenceNode):
            line = values[key].start_mark.line + 1 if key in values else 1
            raise RecordError(source, line, key, "a list")
        items = []
        for node in values[key].value:
            line = node.start_mark.line + 1
            if not isinstance(node, yaml.MappingNode):
                raise RecordError(source, line, None, "a mapping (one entry of the list)")
            lines = {str(loader.construct_object(k)): v.start_mark.line + 1 for k, v in node.value}
            data = loader.construct_object(node, deep=True)
            items.append((data, line, lines))
        return items
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RecordError(source, line, None, f"valid YAML ({err.problem})") from None
    finally:
        loader.dispose()
