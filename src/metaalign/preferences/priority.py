"""The priority matrix: `winner(system, user)`, the ONE function that decides which tier wins a conflict.

Owns reading and checking `priority.yaml` (ordered rules, first match wins, each with a `why`).
Does not own when two preferences conflict (see `checkers.conflicting`) nor which checks a
response must meet (see `verify`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from metaalign.errors import RecordError
from metaalign.preferences.sources import load_yaml_items

if TYPE_CHECKING:
    from metaalign.preferences.library import Preference

Tier = Literal["system", "user"]
PRIORITY_FILE = Path(__file__).with_name("priority.yaml")
_FIELDS = ("category", "kind", "subset", "delegates", "dimension")


@dataclass(frozen=True)
class Rule:
    """One row of the matrix: conditions on the two preferences, the winning tier and why."""

    id: str
    when: Mapping[str, tuple[Any, ...]]
    winner: Tier
    why: str

    def matches(self, system: Preference, user: Preference) -> bool:
        for key, accepted in self.when.items():
            tier, field = key.split(".", 1)
            if _field(system if tier == "system" else user, field) not in accepted:
                return False
        return True


def _field(pref: Preference, field: str) -> Any:
    if field == "dimension":
        from metaalign.preferences.checkers import CHECKERS

        return CHECKERS[pref.check.id].dimension if pref.check is not None else None
    return getattr(pref, field)


def _rule(item: dict[str, Any], line: int, lines: Mapping[str, int], source: str) -> Rule:
    def fail(field: str, expected: str) -> RecordError:
        return RecordError(source, lines.get(field, line), field, expected)

    for field in ("id", "why"):
        if not isinstance(item.get(field), str) or not item[field].strip():
            raise fail(field, "a non-empty string")
    if item.get("winner") not in ("system", "user"):
        raise fail("winner", "'system' or 'user'")
    when = item.get("when", {})
    if not isinstance(when, dict):
        raise fail("when", "a mapping of 'system.<field>' / 'user.<field>' to a value or list")
    for key in when:
        tier, _, field = str(key).partition(".")
        if tier not in ("system", "user") or field not in _FIELDS:
            raise fail(
                "when", f"keys 'system.<field>' or 'user.<field>' with field in {_FIELDS}; got {key!r}"
            )
    accepted = {k: tuple(v) if isinstance(v, list) else (v,) for k, v in when.items()}
    return Rule(item["id"], accepted, item["winner"], item["why"].strip())


def load_rules(path: str | Path | None = None) -> tuple[Rule, ...]:
    """The ordered rules of a priority file (default: the packaged `priority.yaml`)."""
    source = Path(path) if path is not None else PRIORITY_FILE
    items = load_yaml_items(source, "rules")
    rules = tuple(_rule(item, line, lines, str(source)) for item, line, lines in items)
    if not rules or rules[-1].when:
        line = items[-1][1] if items else 1
        raise RecordError(str(source), line, "when", "the last rule to be the default: an empty 'when'")
    return rules


@lru_cache(maxsize=1)
def default_rules() -> tuple[Rule, ...]:
    return load_rules()


def deciding_rule(system: Preference, user: Preference, rules: Sequence[Rule] | None = None) -> Rule:
    """The first rule that matches the pair."""
    for rule in rules if rules is not None else default_rules():
        if rule.matches(system, user):
            return rule
    raise AssertionError("the priority rules end with a default rule")  # load_rules guarantees it


def winner(system: Preference, user: Preference, rules: Sequence[Rule] | None = None) -> Tier:
    """Which tier wins when the System Info preference and the User Info preference conflict."""
    return deciding_rule(system, user, rules).winner
