"""Content checkers: opening and closing phrases, a closing question, a P.S., required and forbidden
keywords, [placeholders] and *highlighted* sections.

Owns these rules and the smallest edits that satisfy them (prepend, append, replace a word).
Phrases and keywords match ignoring case. Does not own layout (see `checks_layout`).
"""

from __future__ import annotations

import re

from metaalign.preferences.check_types import Checker, Cost, Param
from metaalign.preferences.checks_layout import POSTSCRIPT
from metaalign.preferences.textops import LIST_MARKER, QUOTES, TITLE, WORD, count_words

CLOSING_QUESTION = "Does that help?"
POSTSCRIPT_LINE = "P.S. Ask me if anything is unclear."
POSTSCRIPT_BODY = "That is my answer."
PLACEHOLDER = re.compile(r"\[[^\[\]\n]*\w[^\[\]\n]*\]")
HIGHLIGHT = re.compile(r"\*[^*\n]*\w[^*\n]*\*")
_PLACEHOLDER_NAMES = (
    "name", "date", "place", "company", "email", "phone", "city", "amount", "topic", "title",
    "address", "time", "country", "product", "team", "role", "website", "price", "reason", "signature",
)  # fmt: skip
_STAND_INS = ("it", "so", "we", "us", "do", "go", "me", "up", "on", "by")


def _pattern(phrase: str) -> str:
    """`phrase` as a regex, with word boundaries where it begins or ends with a word character."""
    left = r"(?<!\w)" if re.match(r"\w", phrase) else ""
    right = r"(?!\w)" if re.search(r"\w$", phrase) else ""
    return left + re.escape(phrase) + right


def starts_with_check(text: str, phrase: str) -> bool:
    s = text.strip().lstrip(QUOTES).lstrip()
    return re.match(_pattern(phrase), s, re.IGNORECASE) is not None


def starts_with_transform(text: str, phrase: str) -> str:
    if starts_with_check(text, phrase):
        return text
    body = text.strip()
    if not body:
        return phrase
    if LIST_MARKER.match(body) or TITLE.match(body):
        return f"{phrase}\n{body}"
    return f"{phrase} — {body}" if re.search(r"\w$", phrase) else f"{phrase} {body}"


def ends_with_check(text: str, phrase: str) -> bool:
    s = text.strip().rstrip(QUOTES).rstrip()
    return re.search(_pattern(phrase) + r"\Z", s, re.IGNORECASE) is not None


def ends_with_transform(text: str, phrase: str) -> str:
    if ends_with_check(text, phrase):
        return text
    body = text.strip()
    if not body:
        return phrase
    last_line = body.split("\n")[-1]
    return f"{body}\n{phrase}" if LIST_MARKER.match(last_line) else f"{body} {phrase}"


def ends_with_question_check(text: str) -> bool:
    return text.strip().rstrip(QUOTES).rstrip().endswith(("?", "？"))


def ends_with_question_transform(text: str) -> str:
    if ends_with_question_check(text):
        return text
    body = text.strip()
    return f"{body} {CLOSING_QUESTION}" if body else CLOSING_QUESTION


def postscript_check(text: str) -> bool:
    """A last line starting with "P.S." after at least one line of the answer itself."""
    lines = [line for line in text.strip().rstrip(QUOTES).split("\n") if line.strip()]
    return len(lines) >= 2 and POSTSCRIPT.match(lines[-1]) is not None and not POSTSCRIPT.match(lines[0])


def postscript_transform(text: str) -> str:
    if postscript_check(text):
        return text
    body = text.strip() or POSTSCRIPT_BODY
    if POSTSCRIPT.match(body):
        body = f"{POSTSCRIPT_BODY}\n{body}"
    return f"{body}\n{POSTSCRIPT_LINE}"


def _contains(text: str, word: str) -> bool:
    return re.search(_pattern(word), text, re.IGNORECASE) is not None


def includes_keywords_check(text: str, words: list[str]) -> bool:
    return all(_contains(text, w) for w in words)


def includes_keywords_transform(text: str, words: list[str]) -> str:
    missing = [w for w in words if not _contains(text, w)]
    if not missing:
        return text
    sentence = "This covers " + " and ".join(missing) + "."
    body = text.strip()
    if not body:
        return sentence
    last_line = body.split("\n")[-1]
    return f"{body}\n{sentence}" if "\n" in body and LIST_MARKER.match(last_line) else f"{body} {sentence}"


def excludes_keywords_check(text: str, words: list[str]) -> bool:
    return not any(_contains(text, w) for w in words)


def excludes_keywords_transform(text: str, words: list[str]) -> str:
    """Each forbidden word becomes a short stand-in word: the word count and layout stay the same."""
    folded = {w.casefold() for w in words}
    stand_in = next(s for s in _STAND_INS if s not in folded)
    for _ in range(10):  # a stand-in can complete a hyphenated forbidden word ("so" + "-we"): repeat
        if excludes_keywords_check(text, words):
            break
        for word in words:
            text = re.sub(_pattern(word), stand_in, text, flags=re.IGNORECASE)
    return text


def placeholders_check(text: str, n: int) -> bool:
    return len(PLACEHOLDER.findall(text)) >= n


def placeholders_transform(text: str, n: int) -> str:
    missing = n - len(PLACEHOLDER.findall(text))
    if missing <= 0:
        return text
    names = [_PLACEHOLDER_NAMES[i % len(_PLACEHOLDER_NAMES)] for i in range(missing)]
    sentence = "Fill in " + " and ".join(f"[{name}]" for name in names) + "."
    body = text.strip()
    return f"{body} {sentence}" if body else sentence


def highlighted_check(text: str, n: int) -> bool:
    return len(HIGHLIGHT.findall(text)) >= n


def _drop_asterisks(line: str) -> str:
    marker = LIST_MARKER.match(line)
    keep = marker.end() if marker else 0
    return line[:keep] + line[keep:].replace("*", "")


def highlighted_transform(text: str, n: int) -> str:
    """Wraps words in *...*, preferring words away from the very start and end of the text."""
    missing = n - len(HIGHLIGHT.findall(text))
    if missing <= 0:
        return text
    if "*" in text:  # stray asterisks would pair up with new ones: drop them, keep list markers
        text = "\n".join(_drop_asterisks(line) for line in text.split("\n"))
        missing = n
    spans = [m.span() for m in WORD.finditer(text)]
    inner = spans[1:-1] if len(spans) > 2 else spans
    longest = sorted(inner, key=lambda s: (-(s[1] - s[0]), s[0]))[:missing]  # the longest words
    chosen = sorted(longest, reverse=True)
    for start, end in chosen:
        text = f"{text[:start]}*{text[start:end]}*{text[end:]}"
    extra = missing - len(chosen)
    if extra > 0:
        marks = " ".join("*note*" for _ in range(extra))
        text = f"{text.strip()} {marks}".strip()
    return text


CONTENT_CHECKERS = (
    Checker(
        "starts_with", "opening", "Starts with the phrase (ignoring case and an opening quote).",
        starts_with_check, starts_with_transform, {"phrase": Param("str")}, stage=55,
        cost_fn=lambda phrase: Cost(
            words=count_words(phrase), sentences=int(bool(re.search("[.!?…]", phrase))), chars=len(phrase) + 3
        ),
    ),
    Checker(
        "ends_with", "ending", "Ends with the phrase (ignoring case and a closing quote).",
        ends_with_check, ends_with_transform, {"phrase": Param("str")}, stage=62,
        cost_fn=lambda phrase: Cost(words=count_words(phrase), sentences=1, chars=len(phrase) + 1),
    ),
    Checker(
        "ends_with_question", "ending", "Ends with a question mark.",
        ends_with_question_check, ends_with_question_transform, stage=64,
        cost_fn=lambda: Cost(words=3, sentences=1, chars=len(CLOSING_QUESTION) + 1),
    ),
    Checker(
        "postscript", "postscript", "After the answer, a last line starting with 'P.S.'.",
        postscript_check, postscript_transform, stage=60,
        cost_fn=lambda: Cost(
            words=count_words(POSTSCRIPT_LINE + " " + POSTSCRIPT_BODY),
            sentences=3,
            chars=len(POSTSCRIPT_LINE) + len(POSTSCRIPT_BODY) + 2,
        ),
    ),
    Checker(
        "includes_keywords", "keywords", "Mentions every keyword (whole words, ignoring case).",
        includes_keywords_check, includes_keywords_transform, {"words": Param("words")}, stage=40,
        cost_fn=lambda words: Cost(
            words=2 * len(words) + 1, sentences=1, chars=14 + sum(len(w) + 5 for w in words)
        ),
    ),
    Checker(
        "excludes_keywords", "keywords", "Mentions none of the keywords (whole words, ignoring case).",
        excludes_keywords_check, excludes_keywords_transform, {"words": Param("words")}, stage=75,
    ),
    Checker(
        "placeholders", "placeholders", "At least n placeholders in square brackets, like [name].",
        placeholders_check, placeholders_transform, {"n": Param("int", 1, 20)}, stage=40,
        cost_fn=lambda n: Cost(words=2 * n + 1, sentences=1, chars=10 + 16 * n),
    ),
    Checker(
        "highlighted", "highlight", "At least n sections highlighted with asterisks, like *this*.",
        highlighted_check, highlighted_transform, {"n": Param("int", 1, 20)}, stage=45,
        cost_fn=lambda n: Cost(words=n, sentences=1, chars=8 * n),
    ),
)  # fmt: skip
