"""What a response must and must not satisfy under a meta-prompt: `expected_checks` and `verify`.

Owns turning a (System Info, User Info) pair of preferences into expected check results, using
`conflicting` and the priority matrix. Build (annotation), train (pair labelling) and eval
(metrics) all call these. Does not own the rules (see `checkers`, `priority`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from metaalign.preferences.check_types import Check
from metaalign.preferences.checkers import CHECKERS, check, conflicting
from metaalign.preferences.library import Preference
from metaalign.preferences.priority import winner


@dataclass(frozen=True)
class ExpectedCheck:
    """A check and the result a good response gives: True to follow it, False for a losing preference."""

    check: Check
    expect: bool
    tier: Literal["system", "user"]

    def holds(self, text: str) -> bool:
        return check(self.check, text) == self.expect


def _same_dimension(a: Check, b: Check) -> bool:
    return CHECKERS[a.id].dimension == CHECKERS[b.id].dimension


def expected_checks(system: Preference | None, user: Preference | None) -> list[ExpectedCheck]:
    """The checks a response must meet (expect=True) and must not meet (expect=False).

    - Only one tier verifiable: its check, expect=True.
    - Both verifiable, no conflict: both, expect=True; unless System Info delegates this
      dimension and the user states a preference in it, then the user's check alone.
    - Both verifiable and `conflicting`: `winner` decides; the winner's check expect=True,
      the loser's expect=False (meeting the winner then rules the loser out).
    """
    s = system.check if system is not None else None
    u = user.check if user is not None else None
    if s is None and u is None:
        return []
    if s is None or u is None:
        tier: Literal["system", "user"] = "system" if s is not None else "user"
        return [ExpectedCheck(s or u, True, tier)]  # type: ignore[arg-type]
    assert system is not None and user is not None
    if conflicting(s, u):
        user_wins = winner(system, user) == "user"
        return [ExpectedCheck(s, not user_wins, "system"), ExpectedCheck(u, user_wins, "user")]
    if system.delegates and _same_dimension(s, u):
        return [ExpectedCheck(u, True, "user")]
    return [ExpectedCheck(s, True, "system"), ExpectedCheck(u, True, "user")]


def verify(expected: Sequence[ExpectedCheck], text: str) -> bool:
    """Whether every check gives its expected result on `text`."""
    return all(e.holds(text) for e in expected)


def failures(expected: Sequence[ExpectedCheck], text: str) -> list[ExpectedCheck]:
    """The expected checks that `text` does not meet (for reports)."""
    return [e for e in expected if not e.holds(text)]
