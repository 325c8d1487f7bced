"""Every checker with passing and failing examples, including empty, Unicode and trailing whitespace."""

from __future__ import annotations

import pytest

from metaalign.preferences import CHECKERS, Check, check, check_problems, validate

C = Check
CASES: list[tuple[Check, str, bool]] = [
    # length
    (C("max_words", {"n": 3}), "One two three.", True),
    (C("max_words", {"n": 3}), "One two three four.", False),
    (C("max_words", {"n": 3}), "", True),
    (C("max_words", {"n": 2}), "don't stop   \n\n", True),  # "don't" is one word; whitespace is not
    (C("max_words", {"n": 2}), "- item one\n- two", False),  # markers are not words, items are
    (C("max_words", {"n": 2}), "Größe über", True),
    (C("min_words", {"n": 3}), "One two three", True),
    (C("min_words", {"n": 3}), "One two", False),
    (C("min_words", {"n": 1}), "", False),
    (C("min_words", {"n": 2}), "日本語 テキスト", True),
    (C("max_sentences", {"n": 2}), "First. Second!", True),
    (C("max_sentences", {"n": 2}), "First. Second! Third?", False),
    (C("max_sentences", {"n": 1}), "", True),
    (C("max_sentences", {"n": 1}), "1. One step only   ", True),
    (C("max_sentences", {"n": 1}), "Line one\nLine two", False),
    (C("max_chars", {"n": 5}), "  abcde \n", True),
    (C("max_chars", {"n": 5}), "abcdef", False),
    (C("max_chars", {"n": 3}), "äöü", True),
    (C("max_chars", {"n": 1}), "", True),
    # case
    (C("all_caps", {}), "HELLO, WORLD 42!", True),
    (C("all_caps", {}), "HELLO World", False),
    (C("all_caps", {}), "", False),  # an empty answer follows no case preference
    (C("all_caps", {}), "42 ...", False),
    (C("all_caps", {}), "ÄÖÜ SS", True),
    (C("all_caps", {}), "STRAßE", False),
    (C("all_lowercase", {}), "hello, world.\n", True),
    (C("all_lowercase", {}), "hello World", False),
    (C("all_lowercase", {}), "", False),
    (C("all_lowercase", {}), "日本語", False),
    (C("all_lowercase", {}), "éclair Ω", False),
    # punctuation and characters
    (C("no_commas", {}), "No commas here.", True),
    (C("no_commas", {}), "One, two", False),
    (C("no_commas", {}), "中文，逗号", False),
    (C("no_commas", {}), "", True),
    (C("no_exclamation", {}), "Calm.", True),
    (C("no_exclamation", {}), "Wow!", False),
    (C("no_exclamation", {}), "¡Hola", False),
    (C("no_questions", {}), "Statement.", True),
    (C("no_questions", {}), "Really?  ", False),
    (C("no_questions", {}), "", True),
    (C("no_digits", {}), "twenty-one", True),
    (C("no_digits", {}), "21 items", False),
    (C("no_digits", {}), "x²", False),
    (C("no_digits", {}), "٣ أشياء", False),
    # lists
    (C("bullet_list", {"n": 2}), "- one\n* two", True),
    (C("bullet_list", {"n": 2}), "- one\ntwo", False),
    (C("bullet_list", {"n": 1}), "", False),
    (C("bullet_list", {"n": 1}), "-no space", False),
    (C("bullet_list", {"n": 2}), '"- quoted\n- list"', True),
    (C("numbered_list", {"n": 2}), "1. one\n2) two\n", True),
    (C("numbered_list", {"n": 2}), "1. one\n- two", False),
    (C("numbered_list", {"n": 1}), "", False),
    (C("no_list", {}), "Plain prose - with a dash.", True),
    (C("no_list", {}), "Intro\n  • item", False),
    (C("no_list", {}), "", True),
    (C("no_list", {}), "3) third", False),
    # paragraphs and lines
    (C("paragraphs", {"n": 2}), "One.\n\nTwo.\n", True),
    (C("paragraphs", {"n": 2}), "One.\nStill one.", False),
    (C("paragraphs", {"n": 2}), "One.\n \t\nTwo.", True),
    (C("paragraphs", {"n": 1}), "", False),
    (C("paragraphs", {"n": 1}), "  Só um parágrafo.  \n\n", True),
    (C("single_line", {}), "one line   \n", True),
    (C("single_line", {}), "two\nlines", False),
    (C("single_line", {}), "", True),
    (C("single_line", {}), "a\u2028b", False),
    # title, quotes, JSON
    (C("title_format", {}), "<<My Title>>\nBody", True),
    (C("title_format", {}), "Body\n<<Late Title>>", False),
    (C("title_format", {}), "", False),
    (C("title_format", {}), "<<>> empty", False),
    (C("title_format", {}), "  <<Überblick>>  ", True),
    (C("quoted", {}), '"All of it"  ', True),
    (C("quoted", {}), "“Curly”", True),
    (C("quoted", {}), '"Only the start', False),
    (C("quoted", {}), "", False),
    (C("json_object", {}), '{"a": 1}\n', True),
    (C("json_object", {}), '```json\n{"a": "é"}\n```', True),
    (C("json_object", {}), "[1, 2]", False),
    (C("json_object", {}), "", False),
    (C("json_object", {}), '{"a": 1', False),
    # openings and endings
    (C("starts_with", {"phrase": "Sure"}), "sure, here it is", True),
    (C("starts_with", {"phrase": "Sure"}), '  "Sure thing"', True),
    (C("starts_with", {"phrase": "Sure"}), "Surely not", False),
    (C("starts_with", {"phrase": "Sure"}), "", False),
    (C("starts_with", {"phrase": "¿Qué tal?"}), "¿qué tal? Bien.", True),
    (C("ends_with", {"phrase": "Hope this helps."}), "Answer. Hope this helps.  \n", True),
    (C("ends_with", {"phrase": "Hope this helps."}), "Hope this helps. More.", False),
    (C("ends_with", {"phrase": "Cheers"}), "Bye, cheers", True),
    (C("ends_with", {"phrase": "Cheers"}), "Bye, nocheers", False),
    (C("ends_with", {"phrase": "Cheers"}), "", False),
    (C("ends_with_question", {}), "What next?  ", True),
    (C("ends_with_question", {}), "你好吗？", True),
    (C("ends_with_question", {}), "Why? Because.", False),
    (C("ends_with_question", {}), "", False),
    (C("postscript", {}), "Body.\nP.S. One more thing.\n", True),
    (C("postscript", {}), "body\np.s. lower case works", True),
    (C("postscript", {}), "P.S. first\nthen body", False),
    (C("postscript", {}), "P.S. a postscript with no answer before it", False),
    (C("postscript", {}), "", False),
    # keywords, placeholders, highlights
    (C("includes_keywords", {"words": ["ocean", "risk"]}), "Ocean RISK assessment", True),
    (C("includes_keywords", {"words": ["ocean", "risk"]}), "Oceanic risk", False),
    (C("includes_keywords", {"words": ["café"]}), "Le CAFÉ.", True),
    (C("includes_keywords", {"words": ["ocean"]}), "", False),
    (C("excludes_keywords", {"words": ["ocean"]}), "Oceanic views", True),
    (C("excludes_keywords", {"words": ["ocean"]}), "the Ocean.", False),
    (C("excludes_keywords", {"words": ["ocean"]}), "", True),
    (C("placeholders", {"n": 2}), "Dear [name], see you at [place].", True),
    (C("placeholders", {"n": 2}), "Dear [name], see you [ ].", False),
    (C("placeholders", {"n": 1}), "", False),
    (C("highlighted", {"n": 2}), "This is *key* and *also this*.", True),
    (C("highlighted", {"n": 2}), "Only *one* here", False),
    (C("highlighted", {"n": 1}), "* a bullet, not a highlight", False),
    (C("highlighted", {"n": 1}), "", False),
]


@pytest.mark.parametrize(
    ("c", "text", "expected"), CASES, ids=[f"{c.id}-{i}" for i, (c, _, _) in enumerate(CASES)]
)
def test_checker_examples(c: Check, text: str, expected: bool) -> None:
    assert check(c, text) is expected


def test_every_checker_has_passing_and_failing_examples() -> None:
    results: dict[str, set[bool]] = {}
    for c, _, expected in CASES:
        results.setdefault(c.id, set()).add(expected)
    assert set(results) == set(CHECKERS)
    assert all(r == {True, False} for r in results.values()), results


def test_there_are_at_least_26_checkers_with_a_dimension_and_description() -> None:
    assert len(CHECKERS) >= 26
    for checker_id, checker in CHECKERS.items():
        assert checker.id == checker_id
        assert checker.dimension and checker.description


def test_check_is_frozen_and_hashable_with_list_params() -> None:
    a = Check("includes_keywords", {"words": ["a1", "b2"]})
    b = Check("includes_keywords", {"words": ("a1", "b2")})
    assert a == b and hash(a) == hash(b)
    assert a.to_dict() == {"id": "includes_keywords", "params": {"words": ["a1", "b2"]}}
    with pytest.raises(TypeError):
        a.params["words"] = ()  # type: ignore[index]


@pytest.mark.parametrize(
    ("c", "field"),
    [
        (Check("max_words", {}), "params.n"),
        (Check("max_words", {"n": 0}), "params.n"),
        (Check("max_words", {"n": "20"}), "params.n"),
        (Check("max_words", {"n": True}), "params.n"),
        (Check("max_words", {"n": 5, "m": 1}), "params.m"),
        (Check("starts_with", {"phrase": " Sure"}), "params.phrase"),
        (Check("starts_with", {"phrase": '"Sure"'}), "params.phrase"),
        (Check("includes_keywords", {"words": []}), "params.words"),
        (Check("includes_keywords", {"words": ["two words"]}), "params.words"),
        (Check("no_such_checker", {}), "id"),
    ],
)
def test_bad_params_are_named(c: Check, field: str) -> None:
    problems = check_problems(c)
    assert problems and problems[0][0] == field
    with pytest.raises(ValueError, match=field.split(".")[-1]):
        validate(c)


def test_unknown_checker_raises_a_clear_key_error() -> None:
    with pytest.raises(KeyError, match="unknown checker 'nope'"):
        check(Check("nope", {}), "text")


def test_checks_and_preferences_pickle_and_copy() -> None:
    """Build runs work in worker processes: checks must cross process boundaries."""
    import copy
    import pickle

    from metaalign.preferences import load_library

    c = Check("includes_keywords", {"words": ["ocean", "risk"]})
    assert pickle.loads(pickle.dumps(c)) == c
    assert copy.deepcopy(c) == c
    pref = load_library().all[0]
    assert pickle.loads(pickle.dumps(pref)) == pref
