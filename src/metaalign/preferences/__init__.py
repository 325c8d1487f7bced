"""Preferences shared by build, train, serve and eval: checkers, transforms, the library, the priority
matrix, expected checks and seed instructions.

Owns what a verifiable preference is and which tier wins a conflict. Does not own datasets, models
or reports (the build, train and eval packages).
"""

from metaalign.preferences.check_types import Check, Checker, Cost, Param
from metaalign.preferences.checkers import (
    CHECKERS,
    MARKED,
    check,
    check_problems,
    conflicting,
    cost,
    get_checker,
    validate,
)
from metaalign.preferences.instructions import Instruction, load_instructions
from metaalign.preferences.library import Preference, PreferenceLibrary, load_library
from metaalign.preferences.priority import Rule, deciding_rule, load_rules, winner
from metaalign.preferences.transforms import apply_order, satisfy, satisfy_checks, transform
from metaalign.preferences.verify import ExpectedCheck, expected_checks, failures, verify

__all__ = [
    "CHECKERS",
    "MARKED",
    "Check",
    "Checker",
    "Cost",
    "ExpectedCheck",
    "Instruction",
    "Param",
    "Preference",
    "PreferenceLibrary",
    "Rule",
    "apply_order",
    "check",
    "check_problems",
    "conflicting",
    "cost",
    "deciding_rule",
    "expected_checks",
    "failures",
    "get_checker",
    "load_instructions",
    "load_library",
    "load_rules",
    "satisfy",
    "satisfy_checks",
    "transform",
    "validate",
    "verify",
    "winner",
]
