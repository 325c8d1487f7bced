"""Transforms: each output passes its check (property), and known inputs give hand-computed outputs."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaalign.preferences import CHECKERS, Check, check, conflicting, satisfy, satisfy_checks, transform
from metaalign.preferences.verify import ExpectedCheck, verify

from .strategies import ANY_CHECK, LONG_PROSE, TEXTS, checks

_SETTINGS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(checks(), TEXTS)
def test_transform_output_passes_its_check(c: Check, text: str) -> None:
    assert check(c, transform(c, text))


@pytest.mark.parametrize("checker_id", sorted(CHECKERS))
def test_transform_of_the_empty_string_passes(checker_id: str) -> None:
    c = _example(checker_id)
    assert check(c, transform(c, ""))


@pytest.mark.parametrize("checker_id", sorted(CHECKERS))
def test_transform_leaves_a_passing_text_unchanged(checker_id: str) -> None:
    c = _example(checker_id)
    once = transform(c, "The first point is simple. The second one, too! Is that all? Yes.")
    assert transform(c, once) == once


def _example(checker_id: str) -> Check:
    params = {
        "n": 3,
        "phrase": "Hope this helps.",
        "words": ["ocean", "budget"],
    }
    wanted = CHECKERS[checker_id].params
    return Check(checker_id, {k: v for k, v in params.items() if k in wanted})


@pytest.mark.parametrize(
    ("c", "text", "expected"),
    [
        (Check("all_caps", {}), "Hello, Straße 9!", "HELLO, STRASSE 9!"),
        (Check("all_lowercase", {}), "Hello ÉTÉ", "hello été"),
        (Check("max_words", {"n": 5}), "One two three. Four five six seven.", "One two three."),
        (Check("max_words", {"n": 3}), "One two three four five", "One two three."),
        (Check("min_words", {"n": 5}), "Hi there.", "Hi there these notes cover."),
        (Check("max_sentences", {"n": 1}), "First. Second.", "First."),
        (Check("max_chars", {"n": 12}), "Short one. Then more text.", "Short one."),
        (Check("bullet_list", {"n": 2}), "First idea. Second idea.", "- First idea.\n- Second idea."),
        (Check("bullet_list", {"n": 2}), "Just one sentence here", "- Just one\n- sentence here"),
        (Check("numbered_list", {"n": 2}), "Mix. Stir.", "1. Mix.\n2. Stir."),
        (Check("no_list", {}), "- a\n- - b\n3) c", "a\nb\nc"),
        (Check("paragraphs", {"n": 2}), "One. Two. Three.", "One.\n\nTwo. Three."),
        (Check("paragraphs", {"n": 1}), "One.\n\nTwo.", "One.\nTwo."),
        (Check("single_line", {}), "a\n\nb  \n c", "a b c"),
        (
            Check("title_format", {}),
            "plant trees in spring.",
            "<<Plant Trees In Spring>>\nplant trees in spring.",
        ),
        (Check("quoted", {}), " Hi. ", '"Hi."'),
        (Check("json_object", {}), 'Say "hi"\nnow', '{"answer": "Say \'hi\' now"}'),
        (Check("starts_with", {"phrase": "Sure"}), "Here it is.", "Sure — Here it is."),
        (Check("starts_with", {"phrase": "Sure"}), "- item", "Sure\n- item"),
        (Check("ends_with", {"phrase": "Cheers"}), "Done.\n", "Done. Cheers"),
        (Check("ends_with_question", {}), "Done.", "Done. Does that help?"),
        (Check("postscript", {}), "Done.", "Done.\nP.S. Ask me if anything is unclear."),
        (
            Check("includes_keywords", {"words": ["ocean", "risk"]}),
            "Risk is real.",
            "Risk is real. This covers ocean.",
        ),
        (
            Check("excludes_keywords", {"words": ["ocean"]}),
            "The Ocean, the ocean-side.",
            "The it, the it-side.",
        ),
        (Check("placeholders", {"n": 2}), "Dear [name].", "Dear [name]. Fill in [name]."),
        (Check("highlighted", {"n": 1}), "Keep the key idea.", "Keep *the* key idea."),
        (Check("no_commas", {}), "a, b，c", "a bc"),
        (Check("no_exclamation", {}), "Wow!! ¡Hola!", "Wow. Hola."),
        (Check("no_questions", {}), "Why? ¿Qué?", "Why. Qué."),
        (Check("no_digits", {}), "Call 42 or ²", "Call four-two or two"),
    ],
)
def test_transform_examples(c: Check, text: str, expected: str) -> None:
    out = transform(c, text)
    assert out == expected
    assert check(c, out)


def test_json_transform_has_no_escapes_so_case_transforms_keep_it_valid() -> None:
    out = transform(Check("json_object", {}), 'tab\there "q" back\\slash \x00 end')
    assert "\\" not in out
    assert json.loads(transform(Check("all_caps", {}), out)) == {"ANSWER": "TAB HERE 'Q' BACK/SLASH END"}


@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(ANY_CHECK, ANY_CHECK, st.one_of(TEXTS, LONG_PROSE))
def test_satisfy_meets_every_non_conflicting_pair(a: Check, b: Check, text: str) -> None:
    if conflicting(a, b):
        return
    out = satisfy_checks([a, b], text)
    assert check(a, out), out
    assert check(b, out), out


def test_satisfy_uses_only_expected_true_checks() -> None:
    expected = [
        ExpectedCheck(Check("max_words", {"n": 20}), True, "system"),
        ExpectedCheck(Check("min_words", {"n": 150}), False, "user"),
        ExpectedCheck(Check("starts_with", {"phrase": "Sure"}), True, "user"),
    ]
    out = satisfy(expected, "A long answer. " * 30)
    assert verify(expected, out)
    assert out.startswith("Sure — ")


def test_satisfy_keeps_room_for_an_ending_under_a_word_limit() -> None:
    out = satisfy_checks(
        [Check("max_words", {"n": 6}), Check("ends_with", {"phrase": "Hope this helps."})],
        "One two. Three four five six seven.",
    )
    assert out == "One two. Hope this helps."


def test_apply_order_is_by_stage_and_drops_duplicates() -> None:
    from metaalign.preferences import apply_order

    caps, words, quoted = Check("all_caps", {}), Check("max_words", {"n": 5}), Check("quoted", {})
    assert apply_order([quoted, caps, words, caps]) == [words, caps, quoted]
