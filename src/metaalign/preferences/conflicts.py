"""Which pairs of checks cannot be met by one answer: the rules behind `checkers.conflicting`.

Owns the contradiction table and the length-room rules. Each rule is one-directional
(`pair_conflict(a, b)`); `conflicting` asks both directions. Does not own the checkers.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from metaalign.preferences.check_types import Check, Cost
from metaalign.preferences.checks_content import ends_with_check, starts_with_check

# Pairs that contradict whatever their parameters (a text could only meet both by saying nothing).
_ALWAYS = {
    frozenset(p)
    for p in [
        ("all_caps", "all_lowercase"),
        ("bullet_list", "numbered_list"),
        ("bullet_list", "no_list"),
        ("numbered_list", "no_list"),
        ("numbered_list", "no_digits"),
        ("ends_with_question", "no_questions"),
        ("single_line", "postscript"),
        ("json_object", "bullet_list"),
        ("json_object", "numbered_list"),
        ("json_object", "title_format"),
        ("json_object", "quoted"),
        ("json_object", "starts_with"),
        ("json_object", "ends_with"),
        ("json_object", "ends_with_question"),
        ("json_object", "postscript"),
        ("title_format", "starts_with"),
    ]
}
_LISTS = ("bullet_list", "numbered_list")
_PHRASED = ("starts_with", "ends_with")
_BANNED_CHARS = {"no_commas": ",，、", "no_exclamation": "!！¡", "no_questions": "?？¿"}


def _has(text: str, word: str) -> bool:
    pattern = r"(?<!\w)" + re.escape(word) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _same_id(a: Check, b: Check) -> bool:
    p, q = a.params, b.params
    if a.id == "paragraphs":
        return p["n"] != q["n"]
    if a.id in _PHRASED:
        short, long = sorted((p["phrase"], q["phrase"]), key=len)
        fits = starts_with_check if a.id == "starts_with" else ends_with_check
        return not fits(long, short)
    return False


def _text_rules(a: Check, b: Check) -> bool:
    """Rules about the words and characters a phrase or keyword brings along."""
    texts = [a.params["phrase"]] if a.id in _PHRASED else list(a.params.get("words", ()))
    if a.id not in (*_PHRASED, "includes_keywords"):
        return False
    if b.id in _BANNED_CHARS:
        return any(ch in t for t in texts for ch in _BANNED_CHARS[b.id])
    if b.id == "no_digits":
        return any(ch.isdigit() for t in texts for ch in t)
    if b.id == "excludes_keywords":
        return any(_has(t, w) for t in texts for w in b.params["words"])
    if a.id == "ends_with" and b.id == "ends_with_question":
        return not a.params["phrase"].endswith(("?", "？"))
    return False


def _length_rules(a: Check, b: Check, cost: Callable[[Check], Cost]) -> bool:
    """`a` is a length limit: does `b` need more room than it leaves?"""
    n = a.params.get("n", 0)
    if a.id == "min_words":
        return (b.id == "max_words" and n > b.params["n"]) or (b.id == "max_chars" and 6 * n > b.params["n"])
    if a.id not in ("max_words", "max_sentences", "max_chars"):
        return False
    if b.id in _LISTS and a.id != "max_chars":
        return b.params["n"] > n
    if b.id == "paragraphs" and a.id == "max_sentences":
        return b.params["n"] > n
    need = cost(b)
    room = {"max_words": need.words, "max_sentences": need.sentences, "max_chars": need.chars}[a.id]
    return room > n


def pair_conflict(a: Check, b: Check, cost: Callable[[Check], Cost]) -> bool:
    """Whether `a` rules out `b` (one direction of `conflicting`)."""
    if a.id == b.id:
        return _same_id(a, b)
    if frozenset((a.id, b.id)) in _ALWAYS:
        return True
    if a.id == "single_line" and b.id in (*_LISTS, "paragraphs"):
        return b.params["n"] >= 2
    if a.id == "json_object" and b.id == "paragraphs":
        return b.params["n"] >= 2
    if a.id == "includes_keywords" and b.id == "excludes_keywords":
        return any(_has(i, e) for i in a.params["words"] for e in b.params["words"])
    return _text_rules(a, b) or _length_rules(a, b, cost)
