"""The checker registry: `CHECKERS`, `check()`, parameter validation and `conflicting()`.

Owns the set of verifiable preference types and which pairs of checks cannot hold together.
Does not own the individual rules (see `checks_length`, `checks_style`, `checks_layout`,
`checks_content`) nor how several transforms are combined (see `transforms.satisfy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from metaalign.preferences.check_types import Check, Checker, Cost, Param
from metaalign.preferences.checks_content import CONTENT_CHECKERS
from metaalign.preferences.checks_layout import LAYOUT_CHECKERS
from metaalign.preferences.checks_length import LENGTH_CHECKERS
from metaalign.preferences.checks_style import STYLE_CHECKERS
from metaalign.preferences.conflicts import pair_conflict

CHECKERS: Mapping[str, Checker] = MappingProxyType(
    {c.id: c for c in (*LENGTH_CHECKERS, *STYLE_CHECKERS, *LAYOUT_CHECKERS, *CONTENT_CHECKERS)}
)
# Formats an answer shows only when it means to: where no preference asks for one, any of them is
# leakage (the eval's controls check them; a build's leakage pairs teach the model not to add them).
MARKED = (
    "all_caps", "all_lowercase", "bullet_list", "ends_with", "ends_with_question", "highlighted",
    "json_object", "numbered_list", "placeholders", "postscript", "quoted", "starts_with", "title_format",
)  # fmt: skip


def get_checker(checker_id: str) -> Checker:
    """The checker with this id; KeyError naming the known ids otherwise."""
    try:
        return CHECKERS[checker_id]
    except KeyError:
        raise KeyError(f"unknown checker {checker_id!r}; known: {', '.join(sorted(CHECKERS))}") from None


def check_problems(c: Check) -> list[tuple[str, str]]:
    """(field, expectation) for everything wrong with a check: unknown id or bad parameters."""
    if c.id not in CHECKERS:
        return [("id", "one of: " + ", ".join(sorted(CHECKERS)))]
    return [(f"params.{name}", why) for name, why in CHECKERS[c.id].problems(c.params)]


def validate(c: Check) -> Check:
    """`c` itself, or ValueError saying what is wrong with it."""
    problems = check_problems(c)
    if problems:
        raise ValueError("; ".join(f"{c.id} {field}: {why}" for field, why in problems))
    return c


def check(c: Check, text: str) -> bool:
    """Whether `text` satisfies the check."""
    return get_checker(c.id).check(text, **c.params)


def cost(c: Check) -> Cost:
    """How much the check's transform may add to a text (see `Cost`)."""
    return get_checker(c.id).cost(**_plain(c.params))


def conflicting(a: Check, b: Check) -> bool:
    """True when no sensible answer satisfies both checks (order does not matter).

    Contradictions (all_caps vs all_lowercase, bullets vs numbered list, two different opening
    phrases ...) conflict; so do length limits that leave no room for what the other check needs
    (max_words 5 vs a 7-word opening phrase, max_words 20 vs min_words 150). See docs/preferences.md.
    """
    return pair_conflict(a, b, cost) or pair_conflict(b, a, cost)


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


__all__ = ["CHECKERS", "Check", "Checker", "Cost", "Param", "check", "conflicting", "cost", "validate"]
