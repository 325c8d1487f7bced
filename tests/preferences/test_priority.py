"""The priority matrix: hand-checked winners for each rule, rule order, and file errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaalign.errors import RecordError
from metaalign.preferences import Check, deciding_rule, load_rules, winner

from .helpers import pref

CAPS = Check("all_caps", {})
LOWER = Check("all_lowercase", {})


@pytest.mark.parametrize(
    ("system_category", "delegates", "user_category", "expected", "rule"),
    [
        ("safety", False, "background", "system", "safety"),  # "I'm a chemist" does not outrank safety
        ("safety", False, "persona", "system", "safety"),
        ("policy", False, "persona", "system", "policy"),
        ("format", False, "format", "system", "format"),
        ("length", False, "length", "system", "format"),
        ("language", False, "language", "system", "format"),
        ("format", True, "format", "user", "delegated"),  # System Info hands the dimension over
        ("length", True, "length", "user", "delegated"),
        ("style", False, "style", "user", "silent"),
        ("helpfulness", False, "length", "user", "silent"),
        ("opinion", False, "background", "user", "silent"),
    ],
)
def test_default_rules(
    system_category: str, delegates: bool, user_category: str, expected: str, rule: str
) -> None:
    system = pref(system_category, CAPS, delegates=delegates)
    user = pref(user_category, LOWER)
    assert winner(system, user) == expected
    assert deciding_rule(system, user).id == rule


def test_every_default_rule_has_a_why_and_the_last_is_the_default() -> None:
    rules = load_rules()
    assert [r.id for r in rules] == ["delegated", "safety", "policy", "format", "silent"]
    assert all(r.why for r in rules)
    assert rules[-1].when == {}


def test_delegation_is_checked_before_category(tmp_path: Path) -> None:
    """A delegating safety statement is odd but the rule order decides it: delegation first."""
    assert winner(pref("safety", delegates=True), pref("background")) == "user"


def test_custom_rules_file_with_dimension(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "rules:\n"
        "  - {id: caps-user, when: {user.dimension: case}, winner: user, why: users choose case}\n"
        "  - {id: rest, when: {}, winner: system, why: deployer decides}\n"
    )
    rules = load_rules(path)
    assert winner(pref("format", CAPS), pref("format", LOWER), rules) == "user"
    assert winner(pref("style"), pref("style"), rules) == "system"


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        ("rules:\n  - {id: a, when: {}, winner: both, why: x}\n", 2, "winner"),
        ("rules:\n  - id: a\n    when: {}\n    winner: user\n", 2, "why"),
        ("rules:\n  - id: a\n    when: {system.colour: red}\n    winner: user\n    why: x\n", 3, "when"),
        ("rules:\n  - {id: a, when: {system.category: safety}, winner: system, why: x}\n", 2, "when"),
        ("rules: 3\n", 1, "rules"),
        ("rules:\n  - [1, 2]\n", 2, None),
        ("rules:\n  - {id: a, when: {}\n", 3, None),
    ],
)
def test_rule_file_errors_name_file_line_and_field(
    tmp_path: Path, body: str, line: int, field: str | None
) -> None:
    path = tmp_path / "priority.yaml"
    path.write_text(body)
    with pytest.raises(RecordError) as err:
        load_rules(path)
    assert (err.value.source, err.value.line, err.value.field) == (str(path), line, field)
    assert str(err.value).startswith(f"{path}:{line}: ")
