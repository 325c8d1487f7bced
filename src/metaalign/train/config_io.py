"""Recipe YAML files and command-line overrides -> config dictionaries, with clear errors.

Owns the recipe format (flat TRL/MetaAlign fields; two-stage recipes nest `sft:`, `dpo:` and
`sample:` sections) and field-name checks, whose errors name the recipe's file:line when the
field came from it. Reading the file and the `--field value` / `--section.field value` overrides
are metaalign.overrides' (the syntax every command shares). It imports no torch or TRL: the
trainers build the configs from these dicts.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError
from metaalign.overrides import ConfigError, load_settings
from metaalign.yamlio import read_yaml_mapping

__all__ = ["ConfigError", "check_fields", "in_section", "load", "locate"]


@contextmanager
def in_section(section: str) -> Iterator[None]:
    """Inside, a ConfigError's field is a key of the recipe's `section:` (two-stage's sft, dpo)."""
    try:
        yield
    except ConfigError as err:
        if err.field is None:
            raise
        raise ConfigError(str(err), field=f"{section}.{err.field}") from err


def locate(err: ConfigError, path: str | Path | None) -> ConfigError:
    """`err` with the recipe's file:line in front when its field is a key of the recipe at `path`."""
    if path is None or err.field is None:
        return err
    try:
        _data, lines = read_yaml_mapping(path, "recipe fields")
    except MetaAlignError:
        return err
    line = lines.get(err.field)
    return err if line is None else ConfigError(f"{path}:{line}: {err}", field=err.field)


def check_fields(values: Mapping[str, Any], known: Iterable[str], where: str, section: str = "") -> None:
    """Raise ConfigError naming the first unknown field, with the closest known names.

    `section` is the recipe section `values` came from, if any (its field is then `section.name`).
    """
    known = set(known)
    for name in values:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            field = f"{section}.{name}" if section else name
            raise ConfigError(f"{where}: unknown field '{name}'{hint}", field=field)


def load(path: str | Path | None, overrides: Sequence[str] | Mapping[str, Any] = ()) -> dict[str, Any]:
    """A recipe file (optional) with overrides applied on top (metaalign.overrides' one syntax)."""
    try:
        return load_settings(path, overrides, what="recipe fields").data
    except ConfigError:
        raise
    except MetaAlignError as err:
        raise ConfigError(str(err)) from err
