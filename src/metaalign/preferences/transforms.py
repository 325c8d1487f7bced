"""Deterministic rewrites that make a text pass its checks: `transform` (one check) and `satisfy` (many).

Owns the order in which transforms compose and the room kept under length limits for what later
transforms add. This is the offline constructive path of dataset building. Does not own the
rules themselves (see `checkers`) nor which checks a response must meet (see `verify`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from metaalign.preferences.check_types import Check, Cost
from metaalign.preferences.checkers import check, cost, get_checker

if TYPE_CHECKING:
    from metaalign.preferences.verify import ExpectedCheck

_LIMITS = {"max_words": "words", "max_sentences": "sentences", "max_chars": "chars"}
_PASSES = 4


def transform(c: Check, text: str) -> str:
    """A text that passes `c`, changing `text` as little as the check allows (unchanged if it passes)."""
    return get_checker(c.id).transform(text, **c.params)


def apply_order(checks: Sequence[Check]) -> list[Check]:
    """The checks without duplicates, in the order `satisfy` applies them (by stage, then id)."""
    unique = list(dict.fromkeys(checks))
    return sorted(unique, key=lambda c: (get_checker(c.id).stage, c.id, repr(c)))


def _room(limit: Check, others: Sequence[Check]) -> int:
    """The limit minus what the other transforms may add under it."""
    field = _LIMITS[limit.id]
    used = sum(getattr(cost(o), field) for o in others if o.id not in _LIMITS)
    return int(limit.params["n"]) - used


def _apply(c: Check, text: str, checks: Sequence[Check]) -> str:
    if c.id in _LIMITS:
        others = [o for o in checks if o != c]
        room = _room(c, others)
        return (
            get_checker(c.id).transform(text, n=max(room, 0)) if room < c.params["n"] else transform(c, text)
        )
    return transform(c, text)


def satisfy_checks(checks: Sequence[Check], text: str) -> str:
    """`text` rewritten to pass every check, applying transforms in `apply_order`.

    Any set without a `conflicting` pair of checks works for pairs; for larger sets the result is
    checked by the caller (`verify`), since room under a length limit is counted per pair.
    """
    ordered = apply_order(checks)
    for _ in range(_PASSES):
        if all(check(c, text) for c in ordered):
            break
        for c in ordered:
            if not check(c, text):
                text = _apply(c, text, ordered)
    return text


def satisfy(expected: Sequence[ExpectedCheck], text: str) -> str:
    """`text` rewritten to meet every expect=True check (see `satisfy_checks`).

    The expect=False checks are the losing side of a conflict: meeting the winner rules them out.
    """
    return satisfy_checks([e.check for e in expected if e.expect], text)


__all__ = ["Cost", "apply_order", "satisfy", "satisfy_checks", "transform"]
