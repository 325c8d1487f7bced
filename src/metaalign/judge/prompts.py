"""Versioned prompt files of the judge and the rewriter (`prompts/<name>.v<N>.yaml`), as data.

Owns loading, validating and filling a prompt template. It does not call an endpoint nor parse
replies (judge.py / rewrite.py do). Filling uses `str.format_map` on the template only, so braces
inside System Info, User Info or answers are inserted as they are.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from metaalign.errors import MetaAlignError

REQUIRED = ("version", "system", "user")


@dataclass(frozen=True)
class PromptTemplate:
    """A system + user prompt with named placeholders; `extra` keeps the other keys (retry, priority...)."""

    version: str
    system: str
    user: str
    empty_tier: str = "(none)"
    extra: Mapping[str, object] = field(default_factory=dict)

    def fields(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.user) if name}

    def messages(self, **values: str | None) -> list[dict[str, str]]:
        """The chat messages with every placeholder filled; empty tiers read as `empty_tier`."""
        missing = self.fields() - values.keys()
        if missing:
            raise MetaAlignError(f"prompt {self.version}: no value for {sorted(missing)}")
        filled = {k: (v if v else self.empty_tier) for k, v in values.items()}
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.format_map(filled)},
        ]


def prompt_path(name: str, version: int = 1) -> Path:
    return Path(str(resources.files("metaalign.judge") / "prompts" / f"{name}.v{version}.yaml"))


def load_prompt(name: str = "judge", version: int = 1, *, path: str | Path | None = None) -> PromptTemplate:
    """The packaged prompt `<name>.v<version>.yaml`, or the file at `path`."""
    source = Path(path) if path is not None else prompt_path(name, version)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise MetaAlignError(f"{source}: no such prompt file") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else str(source)
        raise MetaAlignError(f"{where}: not valid YAML ({getattr(err, 'problem', err)})") from err
    if not isinstance(data, dict):
        raise MetaAlignError(f"{source}: expected a mapping with keys {', '.join(REQUIRED)}")
    for key in REQUIRED:
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise MetaAlignError(f"{source}: field '{key}': expected a non-empty string")
    extra = {k: v for k, v in data.items() if k not in (*REQUIRED, "empty_tier")}
    return PromptTemplate(
        data["version"], data["system"], data["user"], str(data.get("empty_tier", "(none)")), extra
    )
