"""Reversible neutralisation of text that could spoof a tier or a chat turn.

Owns the two escapes the renderer applies to every caller-supplied string (System Info,
User Info, each message): tier tags such as `</User Info>` and chat markers such as
`<|im_start|>`. Both are bijective, so `restore(apply(s)) == s` for every string `s`, and
`apply(s)` never contains a tier tag (any case or spacing) or a marker. It does not decide
which markers a tokenizer has: `markers_for` gathers them, the renderer passes them in.

Tier tags: `<` + tag becomes `&lt;` + tag; an `&lt;` (or `&amp;...lt;`) already standing
before a tag gains one `amp;`, so escaped and literal text never collide.
Markers: a WORD JOINER (U+2060, invisible) goes after the marker's first character; one
already there gains another, for the same reason.
"""

from __future__ import annotations

import re
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


def _tag_lookahead(tag_names: Iterable[str]) -> str:
    names = "|".join(r"[\s_-]*".join(map(re.escape, name.split())) for name in tag_names)
    return rf"(?=\s*/?\s*(?i:{names})\s*>)"


@dataclass(frozen=True)
class Neutralizer:
    """Applies and reverses both escapes for one set of tier tag names and markers."""

    tag_names: tuple[str, ...]
    markers: frozenset[str] = KNOWN_MARKERS
    _tier_escape: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _tier_restore: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _marker_escape: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _marker_restore: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ahead = _tag_lookahead(self.tag_names)
        set_ = object.__setattr__
        set_(self, "_tier_escape", re.compile(rf"(?:<|&(?:amp;)*lt;){ahead}"))
        set_(self, "_tier_restore", re.compile(rf"&(?:amp;)*lt;{ahead}"))
        _check_no_overlap(self.markers)
        ordered = sorted(self.markers, key=len, reverse=True)
        if not ordered:
            set_(self, "_marker_escape", None)
            set_(self, "_marker_restore", None)
            return
        alts = "|".join(f"{re.escape(m[0])}(?={JOINER}*{re.escape(m[1:])})" for m in ordered)
        set_(self, "_marker_escape", re.compile(alts))
        restore = "|".join(f"{re.escape(m[0])}{JOINER}(?={JOINER}*{re.escape(m[1:])})" for m in ordered)
        set_(self, "_marker_restore", re.compile(restore))

    def apply(self, text: str) -> str:
        """Escape tier tags, then break markers. The result contains neither."""
        text = self._tier_escape.sub(_escape_tier_match, text)
        if self._marker_escape is not None:
            text = self._marker_escape.sub(lambda m: m.group(0) + JOINER, text)
        return text

    def restore(self, text: str) -> str:
        """Exact inverse of `apply`."""
        if self._marker_restore is not None:
            text = self._marker_restore.sub(lambda m: m.group(0)[0], text)
        return self._tier_restore.sub(_restore_tier_match, text)

    def tier_tags_in(self, text: str) -> list[re.Match[str]]:
        """Every raw (unescaped) tier tag in `text`, in order, whatever its case or spacing."""
        names = "|".join(r"[\s_-]*".join(map(re.escape, n.split())) for n in self.tag_names)
        return list(re.finditer(rf"<\s*(/?)\s*(?i:({names}))\s*>", text))


def _check_no_overlap(markers: frozenset[str]) -> None:
    """Reversibility needs that no marker can start inside another's occurrence."""
    for a in markers:
        for b in markers:
            for i in range(1, len(a)):
                if a[i:].startswith(b) or b.startswith(a[i:]):
                    raise TemplateError(
                        f"chat markers {a!r} and {b!r} overlap, so text holding them cannot be "
                        "neutralised reversibly; pass an explicit marker set without one of them"
                    )


def _escape_tier_match(match: re.Match[str]) -> str:
    token = match.group(0)
    return "&lt;" if token == "<" else "&amp;" + token[1:]


def _restore_tier_match(match: re.Match[str]) -> str:
    token = match.group(0)
    return "<" if token == "&lt;" else "&" + token[len("&amp;") :]
