"""Stage units: seeds, instruction selection, meta-prompt assignment, offline responses, candidate tidying."""

from __future__ import annotations

from pathlib import Path

from build_toy import INSTRUCTIONS, LIBRARY, toy_values

from metaalign.build import load_config
from metaalign.build.assign import Pools, assign, derive_seed, select_instructions
from metaalign.build.candidates import candidate_text, fake_answer, jobs
from metaalign.build.respond import offline_rows
from metaalign.engine import GenerationRequest
from metaalign.preferences import check, load_instructions, load_library, winner


def _setup(tmp_path: Path, **extra):
    config = load_config(None, values=toy_values(tmp_path, **extra))
    return config, load_instructions(INSTRUCTIONS), load_library(LIBRARY)


def test_derive_seed_is_stable_and_distinguishes_labels() -> None:
    assert derive_seed(0, "sample", "a/c0") == derive_seed(0, "sample", "a/c0")
    assert len({derive_seed(0, "x", i) for i in range(100)}) == 100
    assert derive_seed(0, "x") != derive_seed(1, "x")
    assert 0 <= derive_seed(7, "y") < 2**31


def test_select_instructions_by_split_seeded_in_id_order() -> None:
    instructions = load_instructions(INSTRUCTIONS)
    picked = select_instructions(instructions, "train", 5, seed=0)
    assert len(picked) == 5 and all(i.split == "train" for i in picked)
    assert [i.id for i in picked] == sorted(i.id for i in picked)
    assert picked == select_instructions(instructions, "train", 5, seed=0)
    assert {i.id for i in select_instructions(instructions, "test", 0, seed=0)} == {
        "te-01",
        "te-02",
        "te-03",
        "te-04",
    }


def test_assign_distinct_meta_prompts_with_priority_winners(tmp_path: Path) -> None:
    config, instructions, library = _setup(tmp_path, meta_prompts=6)
    pools = Pools(library, "train")
    for instruction in [i for i in instructions if i.split == "train"]:
        plan = assign(instruction, pools, config, judged=False)
        assert len(plan) == 6
        assert len({(m.system_info, m.user_info) for m in plan}) == 6
        assert [m.k for m in plan] == [0, 1, 0, 1, 0, 1]  # SFT candidates rotate over K = 2
        for mp in plan:
            assert mp.kind != "open"  # non-verifiable preferences need the judge
            assert all(p.split == "train" for p in (mp.system, mp.user) if p is not None)
            if mp.kind in ("conflict", "safety"):  # safety: a probe under a safety rule vs a user claim
                assert mp.subset == "priority" and mp.winner == winner(mp.system, mp.user)
                assert mp.kind == "conflict" or (
                    instruction.category == "harmful_probe" and mp.winner == "system"
                )
            else:
                assert mp.winner is None
    delegated = [(s, u) for s, u in pools.conflicts if s.delegates]
    assert delegated and all(winner(s, u) == "user" for s, u in delegated)


def test_conflict_user_share_sets_how_often_user_info_wins(tmp_path: Path) -> None:
    import random

    _, _, library = _setup(tmp_path)
    winners = {"system": 0, "user": 0}
    for share, expected in ((0.0, "system"), (1.0, "user")):
        pools = Pools(library, "train", user_share=share)
        drawn = {winner(*pools.conflict(random.Random(i))) for i in range(40)}
        assert drawn == {expected}
    pools = Pools(library, "train", user_share=0.5)
    for i in range(400):
        winners[winner(*pools.conflict(random.Random(i)))] += 1
    # 400 fair coin flips: 200 +- 30 covers more than 99.7% of outcomes (sd 10)
    assert abs(winners["user"] - 200) <= 30, winners
    unset = Pools(library, "train")  # no share: the type pair first, as before
    rng_a, rng_b = random.Random(3), random.Random(3)
    keys = sorted(unset.conflict_pairs)
    key = rng_b.choices(keys, weights=[unset.weight(s) * unset.weight(u) for s, u in keys])[0]
    assert unset.conflict(rng_a) == rng_b.choice(unset.conflict_pairs[key])


def test_conflict_rules_weight_the_priority_rule_that_decides_a_conflict(tmp_path: Path) -> None:
    import random

    from metaalign.preferences import deciding_rule

    _, _, library = _setup(tmp_path)
    rules = {deciding_rule(s, u).id for s, u in Pools(library, "train").conflicts}
    assert {"delegated", "format"} <= rules  # the toy library has both
    only = {r: 0.0 for r in rules} | {"delegated": 1.0}
    pools = Pools(library, "train", rules=only)
    drawn = [pools.conflict(random.Random(i)) for i in range(40)]
    assert all(s.delegates and winner(s, u) == "user" for s, u in drawn)
    even = Pools(library, "train", rules=dict.fromkeys(rules, 1.0))
    counts = {r: 0 for r in rules}
    for i in range(600):
        counts[deciding_rule(*even.conflict(random.Random(i))).id] += 1
    # each rule drawn with p = 1/len(rules): within 4 sd of 600 p
    p = 1 / len(rules)
    sd = (600 * p * (1 - p)) ** 0.5
    assert all(abs(n - 600 * p) <= 4 * sd for n in counts.values()), counts


def test_conflict_rules_must_name_priority_rules(tmp_path: Path) -> None:
    import pytest

    from metaalign.errors import MetaAlignError

    expected = r"field 'conflict_rules': unknown priority rules \['delegate'\]; known: delegated, safety"
    with pytest.raises(MetaAlignError, match=expected):
        load_config(None, values=toy_values(tmp_path, conflict_rules={"delegate": 1.0}))
    config = load_config(None, values=toy_values(tmp_path, conflict_rules={"delegated": 2.0}))
    assert config.conflict_rules == {"delegated": 2.0}


def test_offline_rows_satisfy_the_winner_and_make_a_loser_version(tmp_path: Path) -> None:
    _, instructions, library = _setup(tmp_path)
    pools = Pools(library, "train")
    s, u = next((s, u) for s, u in pools.conflicts if s.id == "s-caps" and u.id == "u-lower")
    from metaalign.build.assign import _meta_prompt

    mp = _meta_prompt(instructions[0], 0, "conflict", (s, u), 0)
    assert mp.winner == "system"  # format rules in System Info win
    rows = {r["role"]: r for r in offline_rows(mp, 0, "Basil likes sun. Water it weekly.", chosen=True)}
    assert rows["chosen"]["text"] == "BASIL LIKES SUN. WATER IT WEEKLY." and rows["chosen"]["verified"]
    assert check(u.check, rows["loser"]["text"]) and rows["loser"]["verified"] is False
    assert rows["chosen"]["data"] == {"raw_passes": False}


def test_candidate_text_drops_an_unfinished_last_sentence() -> None:
    cut = {"text": 'One. Then "two." Thr', "finish_reason": "length"}
    assert candidate_text(cut) == 'One. Then "two."'
    assert candidate_text({**cut, "finish_reason": "stop"}) == cut["text"]
    unfinished = {"text": "To start, mix the flour and", "finish_reason": "length"}
    assert candidate_text(unfinished) is None  # no finished sentence: the body is dropped


def test_a_list_marker_is_not_a_sentence_end() -> None:
    cut = {"text": "Here are two tips:\n\n1. Drink water.\n2. Sleep well. 3.", "finish_reason": "length"}
    assert candidate_text(cut) == "Here are two tips:\n\n1. Drink water.\n2. Sleep well."
    assert candidate_text({"text": "Steps: 1. Mix the", "finish_reason": "length"}) is None
    assert candidate_text({"text": "Use salt, e.g. sea salt. Then", "finish_reason": "length"}) == (
        "Use salt, e.g. sea salt."
    )


def test_jobs_are_candidate_major_and_fake_answers_depend_on_seed() -> None:
    instructions = load_instructions(INSTRUCTIONS)[:3]
    assert [j.id for j in jobs(instructions, 2)] == [
        "tr-01/c0", "tr-02/c0", "tr-03/c0", "tr-01/c1", "tr-02/c1", "tr-03/c1",
    ]  # fmt: skip
    a = fake_answer(GenerationRequest.for_query(None, None, "q", seed=1))
    assert a == fake_answer(GenerationRequest.for_query(None, None, "q", seed=1))
    assert a != fake_answer(GenerationRequest.for_query(None, None, "q", seed=2))
