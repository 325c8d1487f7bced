"""Length checkers: max_words, min_words, max_sentences, max_chars.

Owns how a text is cut down (at a sentence end where possible) or padded (inside the last sentence,
so no sentence, list item or paragraph is added). Does not own what a word or sentence is
(see `textops`).
"""

from __future__ import annotations

import re

from metaalign.preferences.check_types import Checker, Cost, Param
from metaalign.preferences.textops import SENTENCE_END, count_sentences, count_words, sentence_spans, word_cut

# Neutral padding words: no digits, commas, quotes, question or exclamation marks. Every word has
# five letters, so k padding words take exactly 6k characters with their spaces: the room a
# min_words limit needs under max_chars is known (see `conflicts`).
_FILLER = (
    "these notes cover every point above using plain words about basic ideas first where extra facts "
    "could offer value"
)
FILLER_WORDS = tuple(_FILLER.split(" "))
_TERMINAL = re.compile(r"[.!?…]+[\"'”’)\]]*\s*$")


def filler(k: int) -> str:
    """k padding words, cycling through FILLER_WORDS."""
    return " ".join(FILLER_WORDS[i % len(FILLER_WORDS)] for i in range(k))


def _cut_at_sentence(prefix: str, min_keep: int) -> str | None:
    """The longest prefix ending at a sentence end that keeps at least `min_keep` words, or None."""
    ends = [m.end() for m in SENTENCE_END.finditer(prefix) if m.group() != "\n" or m.start() > 0]
    for end in reversed(ends):
        candidate = prefix[:end].rstrip()
        if count_words(candidate) >= min_keep:
            return candidate
    return None


def max_words_check(text: str, n: int) -> bool:
    return count_words(text) <= n


def max_words_transform(text: str, n: int) -> str:
    if count_words(text) <= n:
        return text
    if n <= 0:
        return ""
    prefix = word_cut(text, n)
    cut = _cut_at_sentence(prefix, max(1, n // 2))
    return cut if cut is not None else prefix.rstrip() + "."


def min_words_check(text: str, n: int) -> bool:
    return count_words(text) >= n


def min_words_transform(text: str, n: int) -> str:
    missing = n - count_words(text)
    if missing <= 0:
        return text
    base = text.rstrip()
    match = _TERMINAL.search(base)
    core, end = (base[: match.start()], match.group().strip()) if match else (base, ".")
    pad = filler(missing)
    if not core.strip():
        return pad[0].upper() + pad[1:] + end
    return f"{core} {pad}{end}"


def max_sentences_check(text: str, n: int) -> bool:
    return count_sentences(text) <= n


def max_sentences_transform(text: str, n: int) -> str:
    spans = sentence_spans(text)
    if len(spans) <= n:
        return text
    if n <= 0:
        return ""
    return text[: spans[n - 1][1]].rstrip()


def max_chars_check(text: str, n: int) -> bool:
    return len(text.strip()) <= n


def max_chars_transform(text: str, n: int) -> str:
    body = text.strip()
    if len(body) <= n:
        return text
    if n <= 0:
        return ""
    prefix = body[:n]
    ends = [m.end() for m in SENTENCE_END.finditer(prefix) if m.end() >= n // 2]
    if ends:
        return prefix[: ends[-1]].rstrip()
    space = max((i for i, ch in enumerate(prefix) if ch.isspace()), default=-1)
    if space >= n // 2:
        return prefix[:space].rstrip()
    return prefix.rstrip()


LENGTH_CHECKERS = (
    Checker(
        "max_words", "length", "At most n words.", max_words_check, max_words_transform,
        {"n": Param("int", 1, 5000)}, stage=20,
    ),
    Checker(
        "min_words", "length", "At least n words.", min_words_check, min_words_transform,
        {"n": Param("int", 1, 2000)}, stage=25, cost_fn=lambda n: Cost(chars=6 * n),
    ),
    Checker(
        "max_sentences", "length", "At most n sentences (a line break also ends one).",
        max_sentences_check, max_sentences_transform, {"n": Param("int", 1, 200)}, stage=20,
    ),
    Checker(
        "max_chars", "length", "At most n characters, ignoring surrounding whitespace.",
        max_chars_check, max_chars_transform, {"n": Param("int", 1, 20000)}, stage=20,
    ),
)  # fmt: skip
