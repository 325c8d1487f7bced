"""`conflicting`: hand-checked pairs, symmetry, and agreement with the checkers on constructed texts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaalign.preferences import Check, check, conflicting

from .strategies import checks

C = Check
CONFLICTS = [
    (C("all_caps", {}), C("all_lowercase", {})),
    (C("max_words", {"n": 20}), C("min_words", {"n": 150})),
    (C("starts_with", {"phrase": "Sure"}), C("starts_with", {"phrase": "No"})),
    (C("starts_with", {"phrase": "Sure"}), C("starts_with", {"phrase": "Surely"})),
    (C("ends_with", {"phrase": "Cheers"}), C("ends_with", {"phrase": "Thanks"})),
    (C("bullet_list", {"n": 3}), C("numbered_list", {"n": 3})),
    (C("bullet_list", {"n": 2}), C("no_list", {})),
    (C("numbered_list", {"n": 2}), C("no_digits", {})),
    (C("paragraphs", {"n": 2}), C("paragraphs", {"n": 3})),
    (C("paragraphs", {"n": 2}), C("single_line", {})),
    (C("bullet_list", {"n": 3}), C("single_line", {})),
    (C("json_object", {}), C("starts_with", {"phrase": "Sure"})),
    (C("json_object", {}), C("quoted", {})),
    (C("json_object", {}), C("paragraphs", {"n": 2})),
    (C("title_format", {}), C("starts_with", {"phrase": "Sure"})),
    (C("ends_with_question", {}), C("no_questions", {})),
    (C("ends_with", {"phrase": "Thanks."}), C("ends_with_question", {})),
    (C("ends_with", {"phrase": "Thanks!"}), C("no_exclamation", {})),
    (C("starts_with", {"phrase": "Hi, you"}), C("no_commas", {})),
    (C("includes_keywords", {"words": ["ocean"]}), C("excludes_keywords", {"words": ["Ocean", "sea"]})),
    (C("starts_with", {"phrase": "Ocean view"}), C("excludes_keywords", {"words": ["ocean"]})),
    (C("max_words", {"n": 3}), C("starts_with", {"phrase": "Thank you so much"})),
    (C("max_sentences", {"n": 2}), C("bullet_list", {"n": 3})),
    (C("max_words", {"n": 2}), C("numbered_list", {"n": 3})),
    (C("min_words", {"n": 100}), C("max_chars", {"n": 300})),
]
COMPATIBLE = [
    (C("max_words", {"n": 20}), C("max_words", {"n": 50})),
    (C("max_words", {"n": 150}), C("min_words", {"n": 150})),
    (C("starts_with", {"phrase": "Sure"}), C("starts_with", {"phrase": "Sure thing"})),
    (C("ends_with", {"phrase": "helps."}), C("ends_with", {"phrase": "Hope this helps."})),
    (C("all_caps", {}), C("starts_with", {"phrase": "Sure"})),  # phrases match ignoring case
    (C("bullet_list", {"n": 2}), C("bullet_list", {"n": 5})),
    (C("bullet_list", {"n": 1}), C("single_line", {})),
    (C("json_object", {}), C("all_caps", {})),
    (C("json_object", {}), C("no_commas", {})),
    (C("title_format", {}), C("quoted", {})),
    (C("title_format", {}), C("single_line", {})),
    (C("postscript", {}), C("ends_with", {"phrase": "Cheers"})),
    (C("ends_with", {"phrase": "Any questions?"}), C("ends_with_question", {})),
    (C("includes_keywords", {"words": ["ocean"]}), C("excludes_keywords", {"words": ["oceanic"]})),
    (C("max_words", {"n": 4}), C("starts_with", {"phrase": "Thank you so much"})),
    (C("paragraphs", {"n": 3}), C("bullet_list", {"n": 3})),
    (C("min_words", {"n": 50}), C("max_sentences", {"n": 1})),
]


@pytest.mark.parametrize(("a", "b"), CONFLICTS, ids=[f"{a.id}-{b.id}" for a, b in CONFLICTS])
def test_conflicting_pairs(a: Check, b: Check) -> None:
    assert conflicting(a, b) and conflicting(b, a)


@pytest.mark.parametrize(("a", "b"), COMPATIBLE, ids=[f"{a.id}-{b.id}" for a, b in COMPATIBLE])
def test_compatible_pairs(a: Check, b: Check) -> None:
    assert not conflicting(a, b) and not conflicting(b, a)


def test_compatible_pairs_have_a_text_meeting_both() -> None:
    witnesses = {
        (0, 1): "Short.",
        (4, 4): "SURE.",
        (7, 7): '{"ANSWER": "YES"}',
        (11, 11): "Body.\nP.S. Cheers",
    }
    for (i, _), text in witnesses.items():
        a, b = COMPATIBLE[i]
        assert check(a, text) and check(b, text)


@settings(max_examples=400, deadline=None)
@given(checks(), checks(), st.text(max_size=200))
def test_a_text_meeting_both_checks_means_no_conflict(a: Check, b: Check, text: str) -> None:
    """Soundness on random texts: when one text passes both, `conflicting` must not claim otherwise
    for the contradiction rules (length-room rules are about sensible answers, so they are skipped)."""
    if check(a, text) and check(b, text) and text.strip() and any(ch.isalpha() for ch in text):
        length = {"max_words", "max_sentences", "max_chars", "min_words"}
        if not ({a.id, b.id} & length):
            assert not conflicting(a, b) or {a.id, b.id} <= {"single_line", "postscript"}
