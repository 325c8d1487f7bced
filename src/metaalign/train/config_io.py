"""Recipe YAML files and command-line overrides -> config dictionaries, with clear errors.

Owns the recipe format (flat TRL/MetaAlign fields; two-stage recipes nest `sft:`, `dpo:` and
`sample:` sections), `--field value` / `--section.field value` overrides, and field-name
checks, whose errors name the recipe's file:line when the field came from it (reading the YAML
is metaalign.yamlio's). It imports no torch or TRL: the trainers build the configs from these dicts.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from metaalign.errors import MetaAlignError
from metaalign.yamlio import read_yaml_mapping


class ConfigError(MetaAlignError):
    """A recipe or override that names an unknown field or holds a bad value.

    `field` is the recipe key at fault (dotted for a section: `sample.k`) when one is known, so
    `locate` can name the recipe file and line it came from.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


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


def read_recipe(path: str | Path) -> dict[str, Any]:
    """The mapping in a recipe YAML file (the header comment is the command that runs it).

    A missing file, bad YAML or a non-mapping raises ConfigError naming the file and line.
    """
    try:
        data, _lines = read_yaml_mapping(path, "recipe fields")
    except MetaAlignError as err:
        raise ConfigError(str(err)) from err
    return data


def parse_value(text: str) -> Any:
    """A command-line value read as YAML: 3 -> int, 1e-4 -> float, true -> bool, [a, b] -> list."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:  # YAML 1.1 reads 1e-4 as a string; users mean a number
            return float(value) if any(c in value for c in "eE.") else value
        except ValueError:
            return value
    return value


def parse_overrides(args: Sequence[str]) -> dict[str, Any]:
    """`--name value`, `--name=value` and `name=value` items -> {"name": value}; dashes become underscores.

    A flag with no value (`--use_peft` followed by another flag or nothing) means true.
    """
    out: dict[str, Any] = {}
    items = list(args)
    i = 0
    while i < len(items):
        item = items[i]
        if item.startswith("--"):
            name, eq, value = item[2:].partition("=")
            if not eq:
                nxt = items[i + 1] if i + 1 < len(items) else None
                if nxt is None or nxt.startswith("--"):
                    value = "true"
                else:
                    value, i = nxt, i + 1
        elif "=" in item:
            name, _, value = item.partition("=")
        else:
            raise ConfigError(f"override {item!r}: expected --field value or field=value")
        if not name:
            raise ConfigError(f"override {item!r}: the field name is empty")
        out[name.replace("-", "_")] = parse_value(value)
        i += 1
    return out


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"sft.learning_rate": x} -> {"sft": {"learning_rate": x}} (one level of sections)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        section, dot, name = key.partition(".")
        if dot:
            out.setdefault(section, {})[name] = value
        else:
            out[key] = value
    return out


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`overrides` on top of `base`, merging nested sections key by key."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


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
    """A recipe file (optional) with overrides applied on top; returns the nested dict."""
    base = read_recipe(path) if path is not None else {}
    extra = overrides if isinstance(overrides, Mapping) else parse_overrides(overrides)
    return merge(base, nest(extra))
