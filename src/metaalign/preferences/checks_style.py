"""Character-level checkers: letter case, punctuation (commas, exclamation and question marks), digits.

Owns the case and character rules and their rewrites. Does not own words or sentences
(see `textops`) nor layout (see `checks_layout`).
"""

from __future__ import annotations

import re
import unicodedata
from itertools import groupby

from metaalign.preferences.check_types import Checker, Cost

_DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COMMAS = ",，、"
EXCLAMATIONS = "!！¡"
QUESTIONS = "?？¿"


def _is_upper(ch: str) -> bool:
    return ch.isupper() or ch.istitle()


def all_caps_check(text: str) -> bool:
    """At least one uppercase letter and no lowercase ones (so an empty answer does not pass)."""
    return any(_is_upper(ch) for ch in text) and not any(ch.islower() for ch in text)


def all_caps_transform(text: str) -> str:
    upper = "".join(ch for ch in text.upper() if not ch.islower())
    return upper if any(_is_upper(ch) for ch in upper) else f"{upper.rstrip()} OK".lstrip()


def all_lowercase_check(text: str) -> bool:
    """At least one lowercase letter and no uppercase or titlecase ones."""
    return any(ch.islower() for ch in text) and not any(_is_upper(ch) for ch in text)


def all_lowercase_transform(text: str) -> str:
    lower = "".join(ch for ch in text.lower() if not _is_upper(ch))
    return lower if any(ch.islower() for ch in lower) else f"{lower.rstrip()} ok".lstrip()


def _without(chars: str):
    def check(text: str) -> bool:
        return not any(ch in chars for ch in text)

    return check


def no_commas_transform(text: str) -> str:
    return re.sub(f"[{COMMAS}]", "", text)


def no_exclamation_transform(text: str) -> str:
    text = re.sub("[!！]+", ".", text)
    return text.replace("¡", "")


def no_questions_transform(text: str) -> str:
    text = re.sub("[?？]+", ".", text)
    return text.replace("¿", "")


def no_digits_check(text: str) -> bool:
    return not any(ch.isdigit() for ch in text)


def no_digits_transform(text: str) -> str:
    """Each run of digits becomes its digits spelled out ("42" -> "four-two"): one word stays one word."""
    out = []
    for is_digit, run in groupby(text, key=str.isdigit):
        chars = list(run)
        out.append(
            "-".join(_DIGIT_NAMES[unicodedata.digit(c, 0)] for c in chars) if is_digit else "".join(chars)
        )
    return "".join(out)


STYLE_CHECKERS = (
    Checker(
        "all_caps", "case", "Uppercase letters only: at least one, and no lowercase letter.",
        all_caps_check, all_caps_transform, stage=85, cost_fn=lambda: Cost(words=1, chars=3),
    ),
    Checker(
        "all_lowercase", "case", "Lowercase letters only: at least one, and no uppercase letter.",
        all_lowercase_check, all_lowercase_transform, stage=85, cost_fn=lambda: Cost(words=1, chars=3),
    ),
    Checker(
        "no_commas", "punctuation", "No commas (',', '，', '、').",
        _without(COMMAS), no_commas_transform, stage=78,
    ),
    Checker(
        "no_exclamation", "punctuation", "No exclamation marks.",
        _without(EXCLAMATIONS), no_exclamation_transform, stage=78,
    ),
    Checker(
        "no_questions", "punctuation", "No question marks (the answer asks nothing back).",
        _without(QUESTIONS), no_questions_transform, stage=78,
    ),
    Checker(
        "no_digits", "characters", "No digits; numbers are spelled out.",
        no_digits_check, no_digits_transform, stage=10,
    ),
)  # fmt: skip
