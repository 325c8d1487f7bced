"""On-policy labelling: verify() picks chosen/rejected, satisfy() rescues all-fail prompts, judge or skip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaalign.engine import FakeEngine
from metaalign.records import PreferenceRecord
from metaalign.train.annotate import annotate, expected_from, stratified
from metaalign.train.on_policy_samples import SampleSettings, read_samples, sample_all

CAPS = {"id": "all_caps", "params": {}, "expect": True, "tier": "user"}


def record(rid: str, checks: list[dict] | None) -> PreferenceRecord:
    meta = {"checks": checks} if checks is not None else {}
    return PreferenceRecord(
        id=rid, system_info="Be brief.", user_info="Answer in capitals.",
        prompt=[{"role": "user", "content": "Name a fruit."}], chosen="x", rejected="y", metadata=meta,
    )  # fmt: skip


def test_expected_checks_come_from_the_record_metadata() -> None:
    (e,) = expected_from(record("a", [CAPS]))
    assert (e.check.id, e.expect, e.tier) == ("all_caps", True, "user")
    assert expected_from(record("b", None)) == []


def test_passing_sample_is_chosen_and_the_worst_failing_one_rejected() -> None:
    pairs, stats = annotate([record("a", [CAPS])], {"a": ["an apple", "A PEAR", "a plum"]})
    (pair,) = pairs
    assert (pair.chosen, pair.rejected) == ("A PEAR", "an apple")
    assert pair.metadata.model_extra["off_policy"] is False
    assert pair.metadata.source == "on-policy" and pair.id == "a/on-policy"
    assert stats.on_policy == 1


def test_when_none_passes_the_best_sample_is_satisfied_and_flagged_off_policy() -> None:
    checks = [CAPS, {"id": "max_words", "params": {"n": 3}, "expect": True, "tier": "system"}]
    samples = ["an apple is nice to eat", "a pear"]  # "a pear" misses one check, the other two
    pairs, stats = annotate([record("a", checks)], {"a": samples})
    (pair,) = pairs
    assert pair.chosen == "A PEAR" and pair.rejected == "an apple is nice to eat"
    assert pair.metadata.model_extra["off_policy"] is True
    assert stats.off_policy == 1


def test_skips_are_counted_with_their_reason() -> None:
    records = [record("all-pass", [CAPS]), record("open", None)]
    pairs, stats = annotate(records, {"all-pass": ["YES", "NO"], "open": ["a", "b"]})
    assert pairs == []
    assert stats.skipped == {"every sample passes": 1, "not verifiable and no judge configured": 1}


def test_with_build_pairs_an_all_pass_or_unverifiable_prompt_keeps_the_builds_own_pair() -> None:
    same = record("same", None).model_copy(update={"rejected": "x"})  # chosen == rejected: no pair
    records = [record("all-pass", [CAPS]), record("open", None), same]
    samples = {"all-pass": ["YES", "NO"], "open": ["a", "b"], "same": ["a"]}
    pairs, stats = annotate(records, samples, build_pairs=True)
    assert [(p.id, p.chosen, p.rejected) for p in pairs] == [("all-pass", "x", "y"), ("open", "x", "y")]
    assert stats.from_build == 2
    assert stats.skipped == {"every sample passes": 1, "not verifiable and no judge configured": 1}


def test_a_judge_labels_non_verifiable_prompts() -> None:
    class FakeJudge:
        async def judge(self, *, answer_a: str, answer_b: str, **_: object):
            class V:
                winner = "B" if len(answer_b) > len(answer_a) else "A"
                prompt_version = "judge.v1"

            return V()

    pairs, stats = annotate([record("open", None)], {"open": ["short", "a longer answer"]}, FakeJudge())
    (pair,) = pairs
    assert (pair.chosen, pair.rejected) == ("a longer answer", "short") and stats.judged == 1


def test_sampling_resumes_and_ignores_a_torn_line(tmp_path: Path) -> None:
    calls: list[int] = []

    def respond(request):
        calls.append(request.seed)
        return f"answer seed {request.seed}"

    records = [record(f"r{i}", [CAPS]) for i in range(3)]
    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps({"id": "r0", "samples": ["A", "b"]}) + "\n" + '{"id": "r1", "sam')
    settings = SampleSettings(k=2, seed=7, chunk=1)
    got = sample_all(FakeEngine(respond=respond), records, settings, path)
    assert got["r0"] == ["A", "b"]  # kept, not re-sampled
    assert got["r1"] == got["r2"] == ["answer seed 7", "answer seed 8"]
    assert len(calls) == 4  # two prompts x k=2
    assert read_samples(path) == got  # the torn line was cut, every line parses


def of(kind: str, check: str, i: int) -> PreferenceRecord:
    base = record(f"{kind}-{check}-{i}", None).model_dump()
    base["metadata"] = {"checks": [{"id": check, "params": {}, "expect": True}], "kind": kind}
    return PreferenceRecord.model_validate(base)


def test_stratified_spreads_over_kinds_before_type_groups() -> None:
    # agree has 6 type groups of 2, none 1 group of 6: grouping by (kind, types) alone would give
    # none 1 of the first 7 picks; kinds first gives it every second pick.
    records = [of("agree", f"t{g}", i) for g in range(6) for i in range(2)] + [
        of("none", "t", i) for i in range(6)
    ]
    picked = stratified(records, 8, seed=3)
    kinds = [r.id.split("-")[0] for r in picked]
    assert kinds.count("none") == 4 and kinds.count("agree") == 4
    assert len({r.id.split("-")[1] for r in picked if r.id.startswith("agree")}) == 4  # 4 groups
    assert stratified(records, 8, seed=3) == picked  # seeded
    assert sorted(r.id for r in stratified(records, None)) == sorted(r.id for r in records)


def test_kind_weights_give_a_kind_that_many_picks_a_turn() -> None:
    records = [of("conflict", "t", i) for i in range(20)] + [
        of(k, "t", i) for k in ("none", "agree") for i in range(20)
    ]
    # a turn: conflict 3 picks, none and agree 1 each (unnamed kinds weigh 1) -> 5 a turn; 10 = 2 turns
    picked = [r.id.split("-")[0] for r in stratified(records, 10, seed=1, kind_weights={"conflict": 3})]
    assert (picked.count("conflict"), picked.count("none"), picked.count("agree")) == (6, 2, 2)
    # a fraction carries over: none at 0.5 picks on every second turn; 3 turns of 1 + 1 + 0.5
    picked = [r.id.split("-")[0] for r in stratified(records, 7, seed=1, kind_weights={"none": 0.5})]
    assert (picked.count("conflict"), picked.count("none"), picked.count("agree")) == (3, 1, 3)
    # weights 1 everywhere are the unweighted order
    assert stratified(records, 9, seed=4, kind_weights={"conflict": 1}) == stratified(records, 9, seed=4)
    # 0 leaves a kind out, also when more are asked for than the other kinds hold
    picked = [r.id.split("-")[0] for r in stratified(records, 50, seed=1, kind_weights={"agree": 0})]
    assert (picked.count("conflict"), picked.count("none"), picked.count("agree")) == (20, 20, 0)


@pytest.mark.parametrize("weight", [-1, "2", True, None])
def test_a_kind_weight_that_is_not_a_number_of_0_or_more_is_refused(weight: object) -> None:
    with pytest.raises(ValueError, match=r"sample.kind_weights.conflict: expected a number of 0 or more"):
        stratified([of("conflict", "t", 0)], 1, kind_weights={"conflict": weight})
    with pytest.raises(ValueError, match=r"sample.kind_weights: expected a mapping of kind to weight"):
        stratified([of("conflict", "t", 0)], 1, kind_weights=["conflict", 2])  # type: ignore[arg-type]
