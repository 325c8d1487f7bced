"""Text measurements shared by the checkers: words, sentences, lines, list items, paragraphs.

Owns the ONE definition of what a word, a sentence, a list item and a paragraph is, so that every
checker and transform counts the same way. Does not own any checker (see `checks_*`).
"""

from __future__ import annotations

import re

WORD = re.compile(r"\w+(?:['’-]\w+)*")
# A list marker at the start of a line: "- ", "* ", "+ ", "• " or "1. " / "1) ".
LIST_MARKER = re.compile(r"^[ \t]*(?:[-*+•]|\d+[.)])[ \t]+(?=\S)", re.MULTILINE)
BULLET_ITEM = re.compile(r"^[ \t]*[-*][ \t]+\S", re.MULTILINE)
NUMBERED_ITEM = re.compile(r"^[ \t]*\d+[.)][ \t]+\S", re.MULTILINE)
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
TITLE = re.compile(r"<<[^<>\n]*\w[^<>\n]*>>")
# A sentence ends at . ! ? or … (possibly repeated, possibly followed by closing quotes/brackets),
# followed by whitespace or the end; a line break also ends a sentence.
SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|\n")
QUOTES = '"“”'


def strip_markers(text: str) -> str:
    """The text with list markers removed from the start of every line."""
    return LIST_MARKER.sub("", text)


def words(text: str) -> list[str]:
    """The words of a text; list markers ("- ", "1. ") are not words."""
    return WORD.findall(strip_markers(text))


def count_words(text: str) -> int:
    return len(words(text))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence that holds a word character; a <<Title>> line is no sentence."""
    spans: list[tuple[int, int]] = []
    start = 0
    markers = [m.span() for m in LIST_MARKER.finditer(text)]
    for match in SENTENCE_END.finditer(text):
        if any(a <= match.start() < b for a, b in markers):  # the "." of "1. " ends no sentence
            continue
        end = match.end() if match.group() != "\n" else match.start()
        piece = text[start:end]
        if re.search(r"\w", strip_markers(piece)) and not TITLE.fullmatch(piece.strip()):
            spans.append((start, end))
        start = match.end()
    if re.search(r"\w", strip_markers(text[start:])) and not TITLE.fullmatch(text[start:].strip()):
        spans.append((start, len(text)))
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of a text, stripped, list markers removed."""
    return [strip_markers(text[a:b]).strip() for a, b in sentence_spans(text)]


def count_sentences(text: str) -> int:
    return len(sentence_spans(text))


def paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines; an empty or blank text has none."""
    stripped = text.strip()
    if not stripped:
        return []
    return [p.strip() for p in PARAGRAPH_BREAK.split(stripped)]


def unwrap_quotes(text: str) -> str:
    """The stripped text without one pair of surrounding double quotes (straight or curly)."""
    s = text.strip()
    if len(s) >= 2 and s[0] in QUOTES and s[-1] in QUOTES:
        return s[1:-1].strip()
    return s


def word_cut(text: str, n: int) -> str:
    """The prefix of `text` that ends with its n-th word (empty for n <= 0), markers kept."""
    if n <= 0:
        return ""
    count = 0
    for line_start, line in _lines_with_offsets(text):
        marker = LIST_MARKER.match(line)
        offset = marker.end() if marker else 0
        for match in WORD.finditer(line, offset):
            count += 1
            if count == n:
                return text[: line_start + match.end()]
    return text


def _lines_with_offsets(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out
