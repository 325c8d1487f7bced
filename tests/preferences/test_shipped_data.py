"""The packaged library and instructions: they load, and their counts and split rules hold."""

from __future__ import annotations

from collections import Counter

import pytest

from metaalign.preferences import (
    CHECKERS,
    check,
    check_problems,
    conflicting,
    expected_checks,
    load_instructions,
    load_library,
    satisfy,
    verify,
    winner,
)

LIB = load_library()
INSTRUCTIONS = load_instructions()


def test_library_has_at_least_300_distinct_statements() -> None:
    assert len(LIB) >= 300
    assert len({" ".join(p.text.casefold().split()) for p in LIB}) == len(LIB)
    assert len({p.id for p in LIB}) == len(LIB)


def test_every_check_exists_and_its_params_validate() -> None:
    for p in LIB:
        if p.check is not None:
            assert p.check.id in CHECKERS, p.id
            assert check_problems(p.check) == [], p.id


def test_at_least_26_verifiable_types_each_with_5_train_and_5_test_phrasings_per_tier() -> None:
    types = LIB.checker_ids()
    assert len(types) >= 26
    for checker_id in types:
        firm = [p for p in LIB.select(checker=checker_id) if not p.delegates]
        counts = Counter((p.split, tier) for p in firm for tier in p.tiers)
        assert len(firm) >= 10, checker_id
        for split in ("train", "test"):
            assert sum(p.split == split for p in firm) >= 5, (checker_id, split)
            assert counts[(split, "system")] >= 5 and counts[(split, "user")] >= 5, (checker_id, counts)


def test_parameters_vary_across_phrasings_of_parameterised_types() -> None:
    for checker_id, checker in CHECKERS.items():
        if checker.params:
            values = {p.check for p in LIB.select(checker=checker_id)}
            assert len(values) >= 3, checker_id


@pytest.mark.parametrize("subset", ["priority", "helpful", "consensus", "diverse_opinion"])
def test_every_paper_subset_is_covered_in_both_splits(subset: str) -> None:
    for split in ("train", "test"):
        assert len(LIB.select(subset=subset, split=split)) >= 3, (subset, split)


def test_priority_subset_has_safety_rules_and_user_claims_that_lose_to_them() -> None:
    safety = LIB.select(category="safety", tier="system")
    claims = [p for p in LIB.select(subset="priority", tier="user") if p.category == "background"]
    assert len(safety) >= 10 and len(claims) >= 10
    assert all(winner(s, c) == "system" for s in safety for c in claims)


def test_delegating_statements_make_conflicts_the_user_wins_in_both_splits() -> None:
    for split in ("train", "test"):
        delegating = LIB.select(split=split, delegates=True)
        users = LIB.select(split=split, tier="user", verifiable=True)
        pairs = [(s, u) for s in delegating for u in users if conflicting(s.check, u.check)]
        assert len(pairs) >= 150, split
        assert all(winner(s, u) == "user" for s, u in pairs)


def test_diverse_opinion_backgrounds_are_user_tier_implicit() -> None:
    backgrounds = LIB.select(subset="diverse_opinion", category="background")
    assert len(backgrounds) >= 20
    assert all(p.kind == "implicit" and p.tiers == ("user",) for p in backgrounds)


def test_phrasings_state_their_numbers() -> None:
    """A phrasing of a numeric check names its number, in digits or words ("under 20 words")."""
    words = {1: "single|one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 8: "eight"}
    for p in LIB:
        if p.check is not None and "n" in p.check.params:
            n = p.check.params["n"]
            spelled = words.get(n, "") + ("|twenty" if n == 20 else "")
            text = p.text.lower()
            assert str(n) in text or any(w and w in text for w in spelled.split("|")), p.id


def test_shipped_library_pairs_can_be_satisfied_and_verified() -> None:
    """Every test-split (system, user) pair of verifiable preferences: satisfy() meets expected_checks."""
    systems = LIB.select(split="test", tier="system", verifiable=True)
    users = LIB.select(split="test", tier="user", verifiable=True)
    answer = "The sky looks blue, mostly. Air scatters short waves more than long ones! Is that clear?"
    bad = []
    for s in systems:
        for u in users:
            expected = expected_checks(s, u)
            if not verify(expected, satisfy(expected, answer)):
                bad.append((s.id, u.id))
    assert bad == []


def test_instructions_count_categories_and_split() -> None:
    assert len(INSTRUCTIONS) >= 500
    assert len({i.id for i in INSTRUCTIONS}) == len(INSTRUCTIONS)
    assert len({i.text.casefold() for i in INSTRUCTIONS}) == len(INSTRUCTIONS)
    by_category = Counter(i.category for i in INSTRUCTIONS)
    for category in ("advice", "explanation", "howto", "opinion", "creative", "coding", "harmful_probe"):
        assert by_category[category] >= 30, category
    for category, total in by_category.items():
        tests = sum(i.split == "test" for i in INSTRUCTIONS if i.category == category)
        assert 0.15 <= tests / total <= 0.25, category
    assert all(i.text.endswith(("?", ".")) and len(i.text.split()) >= 3 for i in INSTRUCTIONS)


def test_check_agrees_on_a_phrasing_with_its_own_satisfied_text() -> None:
    for p in LIB.select(verifiable=True, split="train")[:60]:
        assert p.check is not None
        assert check(p.check, satisfy(expected_checks(None, p), "Some answer. Another sentence."))
