"""Metrics and bootstrap intervals against values worked out by hand (the maths is in the comments)."""

from __future__ import annotations

import math

import pytest

from metaalign.eval.metrics import ScoredCase, bootstrap_ci, proportion, verifiable_metrics
from metaalign.eval.suite import SuiteCase, SuiteCheck


def test_proportion_is_the_share_of_true() -> None:
    # 3 of 4 -> 0.75
    e = proportion([True, True, False, True])
    assert (e.value, e.n) == (0.75, 4)


def test_constant_values_give_a_zero_width_interval() -> None:
    # every resample of [1, 1, 1] has mean 1
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert bootstrap_ci([0.0] * 5) == (0.0, 0.0)


def test_one_success_in_three_matches_the_exact_bootstrap_distribution() -> None:
    # Resampling [0, 0, 1] gives K ~ Binomial(3, 1/3) ones: P(K=0) = 8/27 = .296,
    # P(K<=2) = 26/27 = .963. The 2.5% quantile of K/3 is therefore 0 (.296 > .025) and the
    # 97.5% quantile is 1 (.963 < .975): the interval is [0, 1] around the mean 1/3.
    e = proportion([False, False, True], resamples=20_000)
    assert e.value == pytest.approx(1 / 3)
    assert (e.low, e.high) == (0.0, 1.0)


def test_three_of_four_matches_the_exact_bootstrap_distribution() -> None:
    # Resampling [0, 1, 1, 1] gives K ~ Binomial(4, 3/4): P(K=0) = 1/256 = .004,
    # P(K<=1) = 13/256 = .051, P(K<=3) = 175/256 = .684. So the 2.5% quantile is K=1 (mean .25)
    # and the 97.5% quantile is K=4 (mean 1.0).
    e = proportion([False, True, True, True], resamples=20_000)
    assert (e.value, e.low, e.high) == (0.75, 0.25, 1.0)


def test_large_sample_interval_is_close_to_the_normal_approximation() -> None:
    # 300 of 1000: standard error sqrt(.3 * .7 / 1000) = .01449; 1.96 * se = .0284.
    e = proportion([True] * 300 + [False] * 700, resamples=4000)
    assert e.low == pytest.approx(0.3 - 0.0284, abs=0.006)
    assert e.high == pytest.approx(0.3 + 0.0284, abs=0.006)


def test_intervals_are_seeded() -> None:
    flags = [True, False, True, True, False, False, True]
    assert proportion(flags, seed=3) == proportion(flags, seed=3)
    assert any(proportion(flags, seed=s) != proportion(flags, seed=3) for s in range(4, 12))


def test_empty_groups_are_nan_not_zero() -> None:
    e = proportion([])
    assert e.n == 0 and math.isnan(e.value)


def _case(placement: str, checks: list, *, winner=None, type_: str = "all_caps") -> SuiteCase:
    return SuiteCase(
        id=f"c{id(checks)}",
        split="t",
        instruction="q",
        placement=placement,
        type=type_,
        checks=tuple(SuiteCheck(type_, {}, expect, tier) for expect, tier in checks),
        system_info="s" if placement != "user" else None,
        user_info="u" if placement != "system" else None,
        winner=winner,
    )


def test_verifiable_metrics_by_hand() -> None:
    scored = [
        # system placement: 2 cases, one followed -> adherence/system = 1/2
        ScoredCase(_case("system", [(True, "system")]), (True,)),
        ScoredCase(_case("system", [(True, "system")]), (False,)),
        # user placement: 1 case followed -> adherence/user = 1/1
        ScoredCase(_case("user", [(True, "user")], type_="max_words"), (True,), truncated=True),
        # conflicts: winner check first (expect true), loser second (expect false)
        # (a) winner followed, loser not          -> correct
        ScoredCase(_case("conflict", [(True, "system"), (False, "user")], winner="system"), (True, False)),
        # (b) winner followed, loser ALSO followed -> wrong (loser-followed)
        ScoredCase(_case("conflict", [(True, "system"), (False, "user")], winner="system"), (True, True)),
        # (c) user wins, neither followed          -> wrong
        ScoredCase(_case("conflict", [(True, "user"), (False, "system")], winner="user"), (False, False)),
        # controls: 1 of 3 leaks
        ScoredCase(_case("none", [(False, None)]), (True,)),
        ScoredCase(_case("none", [(False, None)]), (False,)),
        ScoredCase(_case("none", [(False, None)], type_="max_words"), (False,)),
    ]
    m = verifiable_metrics(scored)
    # adherence pools system + user: 2 of 3
    assert m["adherence"].value == pytest.approx(2 / 3) and m["adherence"].n == 3
    assert m["adherence/system"].value == 0.5
    assert m["adherence/user"].value == 1.0
    assert "adherence/both" not in m
    # conflict: only (a) counts -> 1/3; system-wins: (a), (b) -> 1/2; user-wins: (c) -> 0/1
    assert m["conflict"].value == pytest.approx(1 / 3)
    assert m["conflict/system-wins"].value == 0.5
    assert m["conflict/user-wins"].value == 0.0
    # winner followed in (a), (b) -> 2/3; loser followed only in (b) -> 1/3
    assert m["conflict/winner-followed"].value == pytest.approx(2 / 3)
    assert m["conflict/loser-followed"].value == pytest.approx(1 / 3)
    assert m["leakage"].value == pytest.approx(1 / 3) and m["leakage"].n == 3
    assert m["leakage/all_caps"].value == 0.5 and m["leakage/max_words"].value == 0.0
    # per type: all_caps system cases 1/2; max_words user case 1/1
    assert m["type/all_caps"].value == 0.5 and m["type/max_words"].value == 1.0
    # 1 of 9 answers hit the token cap
    assert m["truncated"].value == pytest.approx(1 / 9)
    # headline metrics come first, in a fixed order
    assert list(m)[:3] == ["adherence", "adherence/system", "adherence/user"]


def test_metric_intervals_do_not_depend_on_other_metrics() -> None:
    a = ScoredCase(_case("system", [(True, "system")]), (True,))
    b = ScoredCase(_case("system", [(True, "system")]), (False,))
    leak = ScoredCase(_case("none", [(False, None)]), (True,))
    assert verifiable_metrics([a, b])["adherence"] == verifiable_metrics([a, b, leak])["adherence"]
