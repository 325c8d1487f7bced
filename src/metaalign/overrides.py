"""One override syntax and one settings loader for every command that takes a config file.

Owns the command-line overrides (`--field value`, `--section.field value`, `--field=value`; a bare
`field=value` in Python calls), the deprecated `--set field=value` alias (still accepted, with a
warning), reading values as YAML, applying dotted keys at any depth, and `load_settings`: a YAML
file plus overrides, with the line of every key and the override behind every changed one, so
each command's schema can name the file, line and field (or the override) at fault. It owns no
schema: build, train and quickstart validate their own fields. No torch, no pydantic.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metaalign.errors import MetaAlignError
from metaalign.yamlio import read_yaml_mapping

DEPRECATED = "--set"
DEPRECATION = (
    "warning: `--set {item}` is deprecated and will be removed in the next release; "
    "write `--{key} {value}` (every command that takes a config uses that syntax)"
)


class ConfigError(MetaAlignError):
    """A config or override that names an unknown field or holds a bad value.

    `field` is the config key at fault (dotted for a section: `sample.k`) when one is known, so
    the caller can name the file and line it came from.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def parse_value(text: str) -> Any:
    """A command-line value read as YAML: 3 -> int, 1e-4 -> float, true -> bool, [a, b] -> list."""
    if not text.strip():
        return ""
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


def _warn(text: str) -> None:
    print(f"metaalign: {text}", file=sys.stderr)


def parse_overrides(args: Sequence[str], *, warn: Callable[[str], None] = _warn) -> dict[str, Any]:
    """`--name value`, `--name=value`, `name=value` and (deprecated) `--set name=value` items ->
    {"name": value}, with dotted names kept flat; dashes in names become underscores.

    A flag with no value (`--use_peft` followed by another flag or nothing) means true.
    """
    out: dict[str, Any] = {}
    items = list(args)
    i = 0
    while i < len(items):
        item = items[i]
        if item == DEPRECATED or item.startswith(DEPRECATED + "="):
            pair = item.partition("=")[2] if "=" in item else (items[i + 1] if i + 1 < len(items) else "")
            i += 1 if "=" in item else 2
            name, eq, value = pair.partition("=")
            if not eq or not name.strip():
                raise ConfigError(f"--set {pair}: expected key=value, e.g. --set policy.batch_size=8")
            warn(DEPRECATION.format(item=pair, key=name.strip(), value=value))
            out[name.strip().replace("-", "_")] = parse_value(value)
            continue
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
            raise ConfigError(f"override {item!r}: expected --field value or key=value")
        if not name.strip():
            raise ConfigError(f"override {item!r}: the field name is empty")
        out[name.strip().replace("-", "_")] = parse_value(value)
        i += 1
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


def apply(data: Mapping[str, Any], dotted: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with each `a.b.c: value` of `dotted` set at that path (sections made as needed)."""
    out = merge(data, {})
    for key, value in dotted.items():
        *parents, last = key.split(".")
        node = out
        for depth, part in enumerate(parents, 1):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                where = ".".join(parents[:depth])
                raise ConfigError(f"override {key}: '{where}' is not a section", field=key)
            else:
                child = node[part] = dict(child)
            node = child
        current = node.get(last)
        both = isinstance(value, Mapping) and isinstance(current, Mapping)
        node[last] = merge(current, value) if both else value
    return out


@dataclass
class Settings:
    """A config file with overrides applied: the data, the file's key lines, the overrides' origin."""

    data: dict[str, Any]
    source: str
    lines: dict[str, int] = field(default_factory=dict)
    overridden: dict[str, str] = field(default_factory=dict)  # dotted key -> "key=value"

    def origin(self, key: str) -> str | None:
        """The override behind `key` (or behind a section that holds it), if one set it."""
        while key:
            if key in self.overridden:
                return self.overridden[key]
            key = key.rpartition(".")[0]
        return None


def load_settings(
    path: str | Path | None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    what: str = "settings",
    warn: Callable[[str], None] = _warn,
) -> Settings:
    """The YAML mapping at `path` (none: empty) with `overrides` on top (CLI items or a mapping).

    A missing file, bad YAML or a non-mapping raises an error naming the file and line; `what`
    names the contents for that error ("build settings").
    """
    data, lines = read_yaml_mapping(path, what) if path is not None else ({}, {})
    flat = dict(overrides) if isinstance(overrides, Mapping) else parse_overrides(overrides, warn=warn)
    typed = {key: f"{key}={value}" for key, value in flat.items()}
    source = str(path) if path is not None else "<defaults>"
    return Settings(apply(data, flat), source, lines, typed)


class OverridesParser(argparse.ArgumentParser):
    """An argparse parser whose commands may take overrides: a command that sets the default
    `overrides=[]` gets its unknown `--field value` items there instead of an error."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace, extras = super().parse_known_args(args, namespace)
        if not isinstance(getattr(namespace, "overrides", None), list):
            return namespace, extras
        namespace.overrides = [*namespace.overrides, *extras]
        return namespace, []
