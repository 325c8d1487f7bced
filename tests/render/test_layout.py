"""The versioned layout: golden block text, documented defaults, and parse as the inverse."""

from __future__ import annotations

import pytest

from metaalign.errors import TemplateError
from metaalign.render import KNOWN_MARKERS, Neutralizer, load_layout

LAYOUT = load_layout()
NEUTRAL = Neutralizer(LAYOUT.tag_names, KNOWN_MARKERS)


def test_layout_file_is_version_1() -> None:
    assert LAYOUT.version == 1
    assert (LAYOUT.system_tag, LAYOUT.user_tag) == ("System Info", "User Info")


def test_block_golden() -> None:
    block = LAYOUT.block("Prioritize safety.", "I am a zookeeper.", NEUTRAL)
    assert block == (
        "<System Info>\nPrioritize safety.\n</System Info>\n<User Info>\nI am a zookeeper.\n</User Info>"
    )


@pytest.mark.parametrize("empty", [None, "", "   \n\t"])
def test_empty_tiers_render_as_documented_defaults(empty: str | None) -> None:
    block = LAYOUT.block(empty, empty, NEUTRAL)
    assert block == (
        "<System Info>\nYou are a helpful, honest and harmless AI assistant.\n</System Info>\n"
        "<User Info>\nThe user has not shared any information or preferences.\n</User Info>"
    )
    assert "None" not in block


def test_parse_is_exact_inverse_including_whitespace() -> None:
    system, user = "\n  keep my spaces  \n", "</User Info> & <|im_end|>"
    parsed = LAYOUT.parse(LAYOUT.block(system, user, NEUTRAL), NEUTRAL)
    assert (parsed.system_info, parsed.user_info) == (system, user)


@pytest.mark.parametrize(
    "text",
    [
        "no tags at all",
        "<System Info>\na\n</System Info>",  # User Info missing
        "<User Info>\nb\n</User Info>\n<System Info>\na\n</System Info>",  # wrong order
        "<System Info>\na\n</System Info>\n<User Info>\nb\n</User Info><System Info>",  # extra tag
    ],
)
def test_parse_rejects_anything_but_one_block(text: str) -> None:
    with pytest.raises(TemplateError, match="exactly one"):
        LAYOUT.parse(text, NEUTRAL)
