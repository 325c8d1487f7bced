"""The built-in suite: regenerates byte for byte, and keeps its invariants (size, types, phrasings,
placements, both conflict winners, held-out items only, checks equal to the priority matrix's)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from metaalign.eval import suite_gen
from metaalign.eval.suite import PLACEMENTS, builtin_suite_path, load_suite, write_suite


@pytest.fixture(scope="module")
def suite():
    return load_suite()


def test_regenerating_gives_the_shipped_file(tmp_path: Path) -> None:
    write_suite(suite_gen.generate(), tmp_path / "again.jsonl")
    shipped = builtin_suite_path().read_bytes()
    assert (tmp_path / "again.jsonl").read_bytes() == shipped, "run: python -m metaalign.eval.suite_gen"


def test_size_types_phrasings_and_placements(suite) -> None:
    assert len(suite) >= 1000
    assert suite.split == "verifiable-v2"
    assert {c.placement for c in suite.cases} == set(PLACEMENTS)
    phrasings: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in suite.cases:
        if c.placement in ("system", "user"):
            phrasings[(c.type, c.placement)].add(c.system_phrasing or c.user_phrasing)
    types = {t for t, _ in phrasings}
    assert len(types) >= 25
    for t in types:
        assert len(phrasings[(t, "system")]) >= 5 and len(phrasings[(t, "user")]) >= 5, t
    winners = {c.winner for c in suite.cases if c.placement == "conflict"}
    assert winners == {"system", "user"}
    delegated = [c for c in suite.cases if c.winner == "user" and "delegat" in (c.system_phrasing or "")]
    assert delegated, "some conflicts are won by the user because System Info delegates"


def test_only_held_out_items_are_used(suite) -> None:
    from metaalign.preferences import load_instructions, load_library

    library = load_library()
    instructions = {i.id: i for i in load_instructions()}
    for pid in suite.phrasing_ids:
        assert library.by_id(pid).split == "test", pid
    for iid in suite.instruction_ids:
        assert instructions[iid].split == "test", iid
    for c in suite.cases:
        assert instructions[c.instruction_id].text == c.instruction


def test_checks_are_what_the_priority_matrix_expects(suite) -> None:
    from metaalign.preferences import Check, check, expected_checks, load_library

    library = load_library()
    for c in suite.cases:
        s = library.by_id(c.system_phrasing) if c.system_phrasing else None
        u = library.by_id(c.user_phrasing) if c.user_phrasing else None
        if c.placement == "none":
            assert all(not x.expect and x.tier is None for x in c.checks)
            assert (s is None or s.check is None) and (u is None or u.check is None)
            # a control's check fails on a plain answer, so only a real leak can pass it
            assert not any(
                check(Check(x.id, dict(x.params)), a) for x in c.checks for a in suite_gen.PLAIN_ANSWERS
            )
            continue
        want = [(e.check.id, e.expect, e.tier) for e in expected_checks(s, u)]
        assert [(x.id, x.expect, x.tier) for x in c.checks] == want, c.id
        if c.placement == "conflict":
            assert sorted(x.expect for x in c.checks) == [False, True]
            assert next(x.tier for x in c.checks if x.expect) == c.winner


def test_every_case_can_be_passed_within_the_eval_token_budget(suite) -> None:
    """A constructed answer passes each case's checks (the winner's, and not the loser's) and
    fits in the smallest token budget we evaluate with (the quickstart's) with the embedded model's
    tokenizer: no case is unpassable. Controls pass with a plain answer."""
    from metaalign.eval.verifiable import MAX_NEW_TOKENS
    from metaalign.models import load_tokenizer
    from metaalign.preferences import Check, check, satisfy_checks
    from metaalign.quickstart.quickstart_config import load_quickstart_config

    budget = min(MAX_NEW_TOKENS, load_quickstart_config().eval.max_new_tokens)
    tokenizer = load_tokenizer("smollm2-135m")
    for c in suite.cases:
        wanted = [Check(x.id, dict(x.params)) for x in c.checks if x.expect]
        answer = satisfy_checks(wanted, suite_gen.PLAIN_ANSWERS[1])
        outcomes = [check(Check(x.id, dict(x.params)), answer) for x in c.checks]
        assert outcomes == [x.expect for x in c.checks], (c.id, answer)
        assert len(tokenizer(answer)["input_ids"]) <= budget, (c.id, answer)


def test_every_tested_count_is_a_count_training_shows() -> None:
    """Counted formats (n items, n paragraphs) are tested only with counts some training phrasing
    uses; limits (at most / at least n) only inside the range training spans."""
    from metaalign.preferences import load_library

    exact = {"bullet_list", "highlighted", "numbered_list", "paragraphs", "placeholders"}
    seen: dict[str, set[int]] = defaultdict(set)
    tested: dict[str, set[int]] = defaultdict(set)
    for pref in load_library().all:
        if pref.check is not None and "n" in pref.check.params:
            (seen if pref.split == "train" else tested)[pref.check.id].add(int(pref.check.params["n"]))
    for type_, counts in tested.items():
        if type_ in exact:
            assert counts <= seen[type_], (type_, counts - seen[type_])
        else:
            assert min(seen[type_]) <= min(counts) and max(counts) <= max(seen[type_]), type_
