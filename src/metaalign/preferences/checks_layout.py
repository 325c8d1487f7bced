"""Layout checkers: bullet and numbered lists, no list, paragraphs, single line, title, quotes, JSON.

Owns how a text is reshaped into items, paragraphs, a titled or quoted answer or a JSON object,
keeping its sentences. A title first line and a closing "P.S." line are kept in place when the
body is reshaped. Does not own what a sentence is (see `textops`).
"""

from __future__ import annotations

import json
import re
import unicodedata

from metaalign.preferences.check_types import Checker, Cost, Param
from metaalign.preferences.checks_length import filler
from metaalign.preferences.textops import (
    BULLET_ITEM,
    LIST_MARKER,
    NUMBERED_ITEM,
    TITLE,
    count_words,
    paragraphs,
    sentence_spans,
    sentences,
    unwrap_quotes,
    word_cut,
    words,
)

POSTSCRIPT = re.compile(r"^\s*p\.\s?s\.", re.IGNORECASE)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL | re.IGNORECASE)
MAX_ITEMS = 8  # a long answer is grouped into this many list items (or n, if more are asked)


def _frame(text: str) -> tuple[str, str, str]:
    """(title line, body, P.S. line): the first line if it is a title, the last if it is a P.S."""
    lines = text.strip().split("\n")
    head = lines.pop(0) if lines and TITLE.fullmatch(lines[0].strip()) else ""
    tail = lines.pop() if lines and POSTSCRIPT.match(lines[-1]) else ""
    return head.strip(), "\n".join(lines).strip(), tail.strip()


def _assemble(head: str, body: str, tail: str) -> str:
    return "\n".join(part for part in (head, body, tail) if part)


def _units(body: str, n: int) -> list[str]:
    """At least n non-empty pieces of `body` in order: its sentences, split or padded as needed."""
    units = sentences(body)
    if len(units) > max(n, MAX_ITEMS):
        size = -(-len(units) // max(n, MAX_ITEMS))
        units = [" ".join(units[i : i + size]) for i in range(0, len(units), size)]
    while len(units) < n:
        longest = max(range(len(units)), key=lambda i: count_words(units[i]), default=None)
        if longest is None or count_words(units[longest]) < 2:
            units.append(filler(1).capitalize())
            continue
        units[longest : longest + 1] = _halves(units[longest])
    return units


def _halves(unit: str) -> list[str]:
    """A unit of 2+ words split in two: at the clause break (", " "; " ": ") nearest the middle, or
    else between the middle words."""
    middle = len(unit) // 2
    breaks = [m.end() for m in re.finditer(r"[,;:]\s+(?=\S)", unit) if count_words(unit[: m.end()]) > 0]
    if breaks:
        cut = min(breaks, key=lambda i: abs(i - middle))
        return [unit[:cut].strip(), unit[cut:].strip()]
    left = word_cut(unit, count_words(unit) // 2)
    return [left.strip(), unit[len(left) :].strip()]


def bullet_list_check(text: str, n: int) -> bool:
    return len(BULLET_ITEM.findall(unwrap_quotes(text))) >= n


def bullet_list_transform(text: str, n: int) -> str:
    if bullet_list_check(text, n):
        return text
    head, body, tail = _frame(text)
    items = "\n".join("- " + unit for unit in _units(body, n))
    return _assemble(head, items, tail)


def numbered_list_check(text: str, n: int) -> bool:
    return len(NUMBERED_ITEM.findall(unwrap_quotes(text))) >= n


def numbered_list_transform(text: str, n: int) -> str:
    if numbered_list_check(text, n):
        return text
    head, body, tail = _frame(text)
    items = "\n".join(f"{i}. {unit}" for i, unit in enumerate(_units(body, n), start=1))
    return _assemble(head, items, tail)


def no_list_check(text: str) -> bool:
    return LIST_MARKER.search(text) is None


def no_list_transform(text: str) -> str:
    while LIST_MARKER.search(text):
        text = LIST_MARKER.sub("", text)
    return text


def paragraphs_check(text: str, n: int) -> bool:
    return len(paragraphs(text)) == n


def paragraphs_transform(text: str, n: int) -> str:
    if paragraphs_check(text, n):
        return text
    head, body, tail = _frame(text)
    paras = paragraphs(body)
    if len(paras) > n:
        paras = [*paras[: n - 1], "\n".join(paras[n - 1 :])]
    while len(paras) < n:
        splittable = [i for i, p in enumerate(paras) if len(sentence_spans(p)) >= 2]
        if not splittable:
            paras.append(filler(3).capitalize() + ".")
            continue
        i = max(splittable, key=lambda j: len(sentence_spans(paras[j])))
        spans = sentence_spans(paras[i])
        cut = spans[len(spans) // 2 - 1][1]
        paras[i : i + 1] = [paras[i][:cut].strip(), paras[i][cut:].strip()]
    joined = "\n\n".join(paras)
    return "\n".join(part for part in (head, joined) if part) + ("\n" + tail if tail else "")


def single_line_check(text: str) -> bool:
    return len(text.strip().splitlines()) <= 1


def single_line_transform(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def title_check(text: str) -> bool:
    return TITLE.match(unwrap_quotes(text).lstrip()) is not None


def title_transform(text: str) -> str:
    if title_check(text):
        return text
    picked: list[str] = []
    for word in words(text)[:5]:
        if len(" ".join([*picked, word])) > 40:
            break
        picked.append(word[:1].upper() + word[1:])
    title = " ".join(picked) or "Answer"
    body = text.strip()
    return f"<<{title}>>\n{body}" if body else f"<<{title}>>"


def quoted_check(text: str) -> bool:
    s = text.strip()
    return len(s) >= 2 and s[0] in '"“' and s[-1] in '"”'


def quoted_transform(text: str) -> str:
    return text if quoted_check(text) else f'"{text.strip()}"'


def json_object_check(text: str) -> bool:
    s = text.strip()
    fenced = _FENCE.fullmatch(s)
    try:
        value = json.loads(fenced.group(1) if fenced else s)
    except ValueError:
        return False
    return isinstance(value, dict)


def json_object_transform(text: str) -> str:
    """`{"answer": text}` on one line; quotes become ' and backslashes / so that nothing is escaped."""
    if json_object_check(text):
        return text
    plain = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    value = " ".join(plain.replace('"', "'").replace("\\", "/").split())
    return json.dumps({"answer": value}, ensure_ascii=False)


def _list_cost(n: int) -> Cost:
    items = max(n, MAX_ITEMS)
    return Cost(words=0, sentences=0, chars=5 * items + 8 * n)


LAYOUT_CHECKERS = (
    Checker(
        "bullet_list", "list", "At least n bullet items: lines starting with '- ' or '* '.",
        bullet_list_check, bullet_list_transform, {"n": Param("int", 1, 50)}, stage=30,
        cost_fn=_list_cost,
    ),
    Checker(
        "numbered_list", "list", "At least n numbered items: lines starting with '1. ' or '1) '.",
        numbered_list_check, numbered_list_transform, {"n": Param("int", 1, 50)}, stage=30,
        cost_fn=_list_cost,
    ),
    Checker(
        "no_list", "list", "No line starts with a list marker ('- ', '* ', '+ ', '• ', '1. ', '1) ').",
        no_list_check, no_list_transform, stage=30,
    ),
    Checker(
        "paragraphs", "paragraphs", "Exactly n paragraphs, separated by blank lines.",
        paragraphs_check, paragraphs_transform, {"n": Param("int", 1, 20)}, stage=32,
        cost_fn=lambda n: Cost(words=3 * n, chars=26 * n),
    ),
    Checker(
        "single_line", "paragraphs", "The whole answer on one line.",
        single_line_check, single_line_transform, stage=65,
    ),
    Checker(
        "title_format", "title", "Starts with a title in double angular brackets, like <<Title>>.",
        title_check, title_transform, stage=50, cost_fn=lambda: Cost(words=5, chars=46),
    ),
    Checker(
        "quoted", "wrapping", "The whole answer wrapped in double quotes.",
        quoted_check, quoted_transform, stage=90, cost_fn=lambda: Cost(chars=2),
    ),
    Checker(
        "json_object", "json", "The answer is a JSON object (a ```json fence around it is allowed).",
        json_object_check, json_object_transform, stage=70,
        cost_fn=lambda: Cost(words=1, chars=14),
    ),
)  # fmt: skip
