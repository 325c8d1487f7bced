"""Reversible neutralisation of caller text that could spoof a tier tag or a chat turn.

Owns the two escapes applied to every tier and message: `<` before a tier tag becomes `&lt;`,
and a chat marker gets an invisible WORD JOINER after its first character. Both are bijective
(an escape already present gains one more level). Which markers a tokenizer has: `markers_for`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from metaalign.errors import TemplateError

JOINER = "\u2060"

# Chat markers of the common template families, neutralised even when the tokenizer at hand
# does not know them (a Llama-3 header must not pass through a ChatML model's data either).
KNOWN_MARKERS: frozenset[str] = frozenset(
    {
        "<|im_start|>", "<|im_end|>", "<|endoftext|>",
        "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
        "<|eot_id|>", "<|eom_id|>", "<|python_tag|>",
        "<s>", "</s>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>",
        "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>",
    }
)  # fmt: skip

# Bracketed literals a template may write as plain text, e.g. Mistral's `[INST]`.
_TEMPLATE_LITERAL = re.compile(r"\[/?[A-Z_]{2,}\]|<\|[A-Za-z0-9_]+\|>")


def markers_for(tokenizer: Any) -> frozenset[str]:
    """The marker strings to neutralise for `tokenizer`: its special tokens, the bracketed
    literals its chat template writes, and the known markers of other families."""
    found: set[str] = set(KNOWN_MARKERS)
    found.update(getattr(tokenizer, "all_special_tokens", None) or [])
    for added in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values():
        if getattr(added, "special", False):
            found.add(str(added))
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, str):
        found.update(_TEMPLATE_LITERAL.findall(template))
    return frozenset(m for m in found if len(m) >= 2 and JOINER not in m)


def _tag_alternatives(tag_names: Iterable[str]) -> list[str]:
    """One regex per tier tag name, in any case and with any spacing, `_` or `-` between words."""
    return [r"[\s_-]*".join(map(re.escape, name.split())) for name in tag_names]


@dataclass(frozen=True)
class Neutralizer:
    """Applies and reverses both escapes for one set of tier tag names and markers."""

    tag_names: tuple[str, ...]
    markers: frozenset[str] = KNOWN_MARKERS
    _patterns: dict[str, re.Pattern[str] | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_no_overlap(self.markers)
        alternatives = _tag_alternatives(self.tag_names)
        ahead = rf"(?=\s*/?\s*(?i:{'|'.join(alternatives)})\s*>)"
        tiers = "|".join(f"(?P<t{i}>{alt})" for i, alt in enumerate(alternatives))
        ordered = sorted(self.markers, key=len, reverse=True)
        rests = [f"{re.escape(m[0])}{{joiner}}(?={JOINER}*{re.escape(m[1:])})" for m in ordered]
        patterns: dict[str, re.Pattern[str] | None] = {
            "tier_escape": re.compile(rf"(?:<|&(?:amp;)*lt;){ahead}"),
            "tier_restore": re.compile(rf"&(?:amp;)*lt;{ahead}"),
            "tier_tag": re.compile(rf"<\s*(/?)\s*(?i:{tiers})\s*>"),
            "marker_escape": re.compile("|".join(r.format(joiner="") for r in rests)) if rests else None,
            "marker_restore": re.compile("|".join(r.format(joiner=JOINER) for r in rests)) if rests else None,
        }
        object.__setattr__(self, "_patterns", patterns)

    def apply(self, text: str) -> str:
        """Escape tier tags, then break markers. The result contains neither."""
        text = self._patterns["tier_escape"].sub(_escape_tier_match, text)
        if (markers := self._patterns["marker_escape"]) is not None:
            text = markers.sub(lambda m: m.group(0) + JOINER, text)
        return text

    def restore(self, text: str) -> str:
        """Exact inverse of `apply`."""
        if (markers := self._patterns["marker_restore"]) is not None:
            text = markers.sub(lambda m: m.group(0)[0], text)
        return self._patterns["tier_restore"].sub(_restore_tier_match, text)

    def tier_tags_in(self, text: str) -> list[TierTag]:
        """Every raw (unescaped) tier tag in `text`, in order, whatever its case or spacing."""
        found = []
        for match in self._patterns["tier_tag"].finditer(text):
            tier = next(i for i in range(len(self.tag_names)) if match.group(f"t{i}") is not None)
            found.append(
                TierTag(tier=tier, closing=match.group(1) == "/", start=match.start(), end=match.end())
            )
        return found


@dataclass(frozen=True)
class TierTag:
    """A tier tag found in text: which tier (index into `tag_names`), opening or closing, where."""

    tier: int
    closing: bool
    start: int
    end: int


def _check_no_overlap(markers: frozenset[str]) -> None:
    """Reversibility needs that no marker can start inside another's occurrence."""
    ordered = sorted(markers)
    for a in markers:
        for i in range(1, len(a)):
            tail = a[i:]
            inside = next((tail[:j] for j in range(1, len(tail) + 1) if tail[:j] in markers), None)
            k = bisect_left(ordered, tail)
            overhanging = ordered[k] if k < len(ordered) and ordered[k].startswith(tail) else None
            if inside or overhanging:
                raise TemplateError(
                    f"chat markers {a!r} and {inside or overhanging!r} overlap, so text holding them cannot "
                    "be neutralised reversibly; pass an explicit marker set without one of them"
                )


def _escape_tier_match(match: re.Match[str]) -> str:
    token = match.group(0)
    return "&lt;" if token == "<" else "&amp;" + token[1:]


def _restore_tier_match(match: re.Match[str]) -> str:
    token = match.group(0)
    return "<" if token == "&lt;" else "&" + token[len("&amp;") :]
