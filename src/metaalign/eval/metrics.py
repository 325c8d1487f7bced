"""Metrics of the verifiable suite, each a proportion with a seeded 95% percentile-bootstrap CI.

Owns `Estimate`, `bootstrap_ci`, `proportion`, and turning scored cases into adherence per
placement and per type, conflict-resolution accuracy and leakage. It does not run checkers
(verifiable.py scores answers with metaalign.preferences) nor render reports (report.py).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from metaalign.eval.suite import SuiteCase

RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A mean over `n` cases with its bootstrap interval [low, high]."""

    value: float
    low: float
    high: float
    n: int

    def to_json(self) -> dict[str, float | int]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}

    @classmethod
    def from_json(cls, data: dict) -> Estimate:
        return cls(float(data["value"]), float(data["low"]), float(data["high"]), int(data["n"]))


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean: resample `values` with replacement `resamples`
    times, take the mean of each, and return the (1-c)/2 and (1+c)/2 quantiles of those means."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail], method="inverted_cdf")
    return float(low), float(high)


def proportion(flags: Sequence[bool], *, seed: int = 0, resamples: int = RESAMPLES) -> Estimate:
    """The share of True in `flags` with its bootstrap CI (NaN everywhere when `flags` is empty)."""
    if not flags:
        return Estimate(math.nan, math.nan, math.nan, 0)
    values = [1.0 if f else 0.0 for f in flags]
    low, high = bootstrap_ci(values, seed=seed, resamples=resamples)
    return Estimate(sum(values) / len(values), low, high, len(values))


@dataclass(frozen=True)
class ScoredCase:
    """A case plus what each of its checks gave on the answer (same order as `case.checks`)."""

    case: SuiteCase
    outcomes: tuple[bool, ...]
    truncated: bool = False

    @property
    def passed(self) -> bool:
        """Every check gave its expected value (the suite's notion of 'followed')."""
        return all(o == c.expect for o, c in zip(self.outcomes, self.case.checks, strict=True))

    @property
    def wanted_followed(self) -> bool:
        """Every expect=true check passed (in a conflict: the winning tier was followed)."""
        return all(o for o, c in zip(self.outcomes, self.case.checks, strict=True) if c.expect)

    @property
    def unwanted_followed(self) -> bool:
        """Some expect=false check passed (a losing or unrequested preference shows in the answer)."""
        return any(o for o, c in zip(self.outcomes, self.case.checks, strict=True) if not c.expect)


def verifiable_metrics(
    scored: Sequence[ScoredCase], *, seed: int = 0, resamples: int = RESAMPLES
) -> dict[str, Estimate]:
    """All metrics by name. Keys:

    adherence, adherence/system, adherence/user, adherence/both: share of cases with one
      preference (or two agreeing) whose checks all pass;
    conflict, conflict/system-wins, conflict/user-wins: the winning tier's checks pass AND the
      losing tier's do not; conflict/winner-followed and conflict/loser-followed split that up;
    leakage: share of controls (no preference stated) where any check passes anyway;
    truncated: share of answers cut at max_new_tokens;
    type/<id>: adherence per preference type (system, user and both placements);
    leakage/<id>: share of controls showing type <id> (any of its checked parameter sets).
    """
    groups: dict[str, list[bool]] = {}

    def add(name: str, flag: bool) -> None:
        groups.setdefault(name, []).append(flag)

    for s in scored:
        placement = s.case.placement
        if placement in ("system", "user", "both"):
            add("adherence", s.passed)
            add(f"adherence/{placement}", s.passed)
            add(f"type/{s.case.type}", s.passed)
        elif placement == "conflict":
            add("conflict", s.passed)
            add(f"conflict/{s.case.winner}-wins", s.passed)
            add("conflict/winner-followed", s.wanted_followed)
            add("conflict/loser-followed", s.unwanted_followed)
        else:
            add("leakage", s.unwanted_followed)
            shown: dict[str, bool] = {}
            for outcome, c in zip(s.outcomes, s.case.checks, strict=True):
                if not c.expect:
                    shown[c.id] = shown.get(c.id, False) or outcome
            for type_, flag in shown.items():
                add(f"leakage/{type_}", flag)
        add("truncated", s.truncated)
    return {
        name: proportion(flags, seed=_metric_seed(seed, name), resamples=resamples)
        for name, flags in sorted(groups.items(), key=lambda kv: _order(kv[0]))
    }


HEADLINE = (
    "adherence",
    "adherence/system",
    "adherence/user",
    "adherence/both",
    "conflict",
    "conflict/system-wins",
    "conflict/user-wins",
    "conflict/winner-followed",
    "conflict/loser-followed",
    "leakage",
    "truncated",
)


def _order(name: str) -> tuple[int, str]:
    """Headline metrics first in a fixed order, then per-type rows alphabetically."""
    return (HEADLINE.index(name), "") if name in HEADLINE else (len(HEADLINE), name)


def _metric_seed(seed: int, name: str) -> int:
    """One stable seed per metric, so an interval does not depend on which other metrics exist."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**32)
