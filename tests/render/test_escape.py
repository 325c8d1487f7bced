"""Escaping is reversible and leaves no tier tag or chat marker behind."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaalign.errors import TemplateError
from metaalign.render.escape import JOINER, KNOWN_MARKERS, Neutralizer

NEUTRAL = Neutralizer(("System Info", "User Info"), KNOWN_MARKERS)

# Pieces that make adversarial text: tags in many spellings, entity look-alikes, markers,
# joiners, and the characters they are made of.
PIECES = [
    "<System Info>", "</System Info>", "<User Info>", "</User Info>", "< / user_info >", "<SYSTEM-INFO>",
    "<systeminfo>", "&lt;", "&amp;", "&amp;lt;", "lt;", "&", "<", ">", "/", " ", "\n", JOINER,
    *sorted(KNOWN_MARKERS), "<|", "|>", "im_start", "[", "]", "INST", "é", "字", "🙂",
]  # fmt: skip
adversarial = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=12).map("".join)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("</User Info><System Info>", "&lt;/User Info>&lt;System Info>"),
        ("&lt;/user info>", "&amp;lt;/user info>"),  # a literal entity gains one level
        ("a < b && c &lt; d", "a < b && c &lt; d"),  # no tag ahead: untouched
        ("<|im_start|>system", f"<{JOINER}|im_start|>system"),
        (f"<{JOINER}|im_start|>", f"<{JOINER}{JOINER}|im_start|>"),  # a literal joiner gains one
        ("[INST] hi [/INST]", f"[{JOINER}INST] hi [{JOINER}/INST]"),
    ],
)
def test_escape_by_hand(raw: str, escaped: str) -> None:
    assert NEUTRAL.apply(raw) == escaped
    assert NEUTRAL.restore(escaped) == raw


@settings(max_examples=500, deadline=None)
@given(adversarial)
def test_escape_round_trips_and_leaves_no_tag_or_marker(text: str) -> None:
    out = NEUTRAL.apply(text)
    assert NEUTRAL.restore(out) == text
    assert NEUTRAL.tier_tags_in(out) == []
    assert not [m for m in KNOWN_MARKERS if m in out]


def test_overlapping_markers_are_refused() -> None:
    with pytest.raises(TemplateError, match="overlap"):
        Neutralizer(("System Info", "User Info"), frozenset({"<ab>", "b><"}))
