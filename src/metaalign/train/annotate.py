"""On-policy pair annotation: K sampled answers per prompt -> one (chosen, rejected) pair.

Owns the labelling rules of the two-stage recipe. Verifiable prompts (records whose metadata
carries `checks`) use metaalign.preferences: chosen = a sample that passes `verify` (or, when
none does, the best sample rewritten by `satisfy`, flagged off_policy), rejected = a sample
that fails. Other prompts need a pairwise judge (metaalign.judge) or are skipped. No models here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metaalign.preferences import Check, ExpectedCheck, failures, satisfy, verify
from metaalign.records import PreferenceRecord


@dataclass
class AnnotationStats:
    """How the prompts were labelled (logged and saved with the run)."""

    on_policy: int = 0
    off_policy: int = 0
    judged: int = 0
    from_build: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"on_policy": self.on_policy, "off_policy": self.off_policy, "judged": self.judged,
                "from_build": self.from_build, "skipped": dict(self.skipped)}  # fmt: skip


def expected_from(record: PreferenceRecord) -> list[ExpectedCheck]:
    """The expected checks stored in a record's metadata (`checks`: id, params, expect, tier)."""
    raw = (record.metadata.model_extra or {}).get("checks") or []
    return [
        ExpectedCheck(
            Check(c["id"], dict(c.get("params") or {})), bool(c.get("expect", True)), c.get("tier", "user")
        )
        for c in raw
    ]


def _pair(record: PreferenceRecord, chosen: str, rejected: str, **meta: Any) -> PreferenceRecord:
    metadata = {**record.metadata.model_dump(), "source": "on-policy", **meta}
    return PreferenceRecord(
        id=f"{record.id}/on-policy",
        subset=record.subset,
        system_info=record.system_info,
        user_info=record.user_info,
        prompt=record.prompt,
        chosen=chosen,
        rejected=rejected,
        metadata=metadata,
    )


def verified_pair(
    record: PreferenceRecord,
    samples: Sequence[str],
    expected: Sequence[ExpectedCheck],
    stats: AnnotationStats,
) -> PreferenceRecord | None:
    """The pair for a verifiable prompt, or None (every sample passes, or nothing usable)."""
    samples = [s for s in samples if s.strip()]
    if not samples:
        stats.skip("no non-empty sample")
        return None
    misses = [len(failures(expected, s)) for s in samples]
    passing = [i for i, m in enumerate(misses) if m == 0]
    failing = [i for i, m in enumerate(misses) if m > 0]
    if not failing:
        stats.skip("every sample passes")
        return None
    worst = max(failing, key=lambda i: misses[i])
    if passing:
        stats.on_policy += 1
        return _pair(record, samples[passing[0]], samples[worst], off_policy=False,
                     chosen_sample=passing[0], rejected_sample=worst)  # fmt: skip
    best = min(failing, key=lambda i: misses[i])
    fixed = satisfy(expected, samples[best])
    if not fixed.strip() or not verify(expected, fixed) or fixed == samples[worst]:
        stats.skip("satisfy could not fix the best sample")
        return None
    stats.off_policy += 1
    return _pair(record, fixed, samples[worst], off_policy=True, chosen_sample=best, rejected_sample=worst)


async def judged_pair(
    record: PreferenceRecord, samples: Sequence[str], judge: Any, stats: AnnotationStats
) -> PreferenceRecord | None:
    """The pair a pairwise judge picks from the first two distinct samples (ties are skipped)."""
    distinct = list(dict.fromkeys(s for s in samples if s.strip()))
    if len(distinct) < 2:
        stats.skip("fewer than two distinct samples")
        return None
    a, b = distinct[:2]
    query = record.prompt[-1].content
    verdict = await judge.judge(
        system_info=record.system_info, user_info=record.user_info, instruction=query,
        answer_a=a, answer_b=b, key=record.id,
    )  # fmt: skip
    if verdict.winner not in ("A", "B"):
        stats.skip(f"judge verdict {verdict.winner}")
        return None
    chosen, rejected = (a, b) if verdict.winner == "A" else (b, a)
    stats.judged += 1
    return _pair(record, chosen, rejected, off_policy=False, judge=verdict.prompt_version)


def record_kind(record: PreferenceRecord) -> Any:
    """The build kind (conflict, agree, none, ...) in a record's metadata; None when it has none."""
    return (record.metadata.model_extra or {}).get("kind")


def stratified(
    records: Sequence[PreferenceRecord],
    n: int | None,
    seed: int = 0,
    kind_weights: Mapping[str, float] | None = None,
) -> list[PreferenceRecord]:
    """`n` records (all when None) spread over kinds first, then over (winning check types,
    placement) groups within a kind: each kind in turn takes its weight's worth of picks (1 when
    `kind_weights` does not name it; fractions carry over to the next turn; 0 leaves the kind
    out), each kind taking one from each of its groups in turn; kinds, groups and members in a
    seeded order.

    Kinds first: a kind with many type combinations (agree, conflict) would otherwise take most
    of the picks, and the kinds that teach "add nothing" (none, neutral) few. `kind_weights`
    (`{conflict: 3}`) gives a kind more of them, e.g. the conflicts that teach the priority rule.
    """
    import random

    if kind_weights is not None and not isinstance(kind_weights, Mapping):
        raise ValueError(f"sample.kind_weights: expected a mapping of kind to weight, got {kind_weights!r}")
    weights = dict(kind_weights or {})
    for kind, weight in weights.items():
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
            raise ValueError(f"sample.kind_weights.{kind}: expected a number of 0 or more, got {weight!r}")
    rng = random.Random(seed)
    kinds: dict[Any, dict[tuple, list[PreferenceRecord]]] = {}
    for record in records:
        meta = record.metadata.model_extra or {}
        wanted = tuple(sorted(c["id"] for c in meta.get("checks") or [] if c.get("expect", True)))
        placement = (record.system_info is not None, record.user_info is not None)
        kinds.setdefault(record_kind(record), {}).setdefault((wanted, placement), []).append(record)
    queues = {kind: _round_robin(groups, rng) for kind, groups in sorted(kinds.items(), key=repr)}
    order = list(queues)
    rng.shuffle(order)
    weight = {kind: weights.get(kind, 1.0) for kind in order}
    credit = dict.fromkeys(order, 0.0)
    out: list[PreferenceRecord] = []
    available = sum(len(queues[kind]) for kind in order if weight[kind] > 0)
    limit = available if n is None else min(n, available)
    while len(out) < limit:
        for kind in order:
            credit[kind] += weight[kind]
            while credit[kind] >= 1 and queues[kind] and len(out) < limit:
                out.append(queues[kind].pop(0))
                credit[kind] -= 1
    return out


def _round_robin(groups: dict[tuple, list[PreferenceRecord]], rng: Any) -> list[PreferenceRecord]:
    """Every member of `groups`, one from each group in turn (groups and members shuffled)."""
    keys = sorted(groups, key=repr)
    rng.shuffle(keys)
    for key in keys:
        rng.shuffle(groups[key])
    out: list[PreferenceRecord] = []
    while any(groups[key] for key in keys):
        out.extend(groups[key].pop() for key in keys if groups[key])
    return out


def annotate(
    records: Sequence[PreferenceRecord],
    samples: Mapping[str, Sequence[str]],
    judge: Any | None = None,
    *,
    build_pairs: bool = False,
) -> tuple[list[PreferenceRecord], AnnotationStats]:
    """One on-policy pair per record where the rules allow; returns the pairs and the tally.

    With `build_pairs`, a verifiable prompt whose samples give no pair (all pass, say) keeps the
    build's own pair (the record's chosen and rejected), counted as `from_build`; so does a prompt
    with nothing to verify (a none/neutral prompt's leakage pair) when no judge is configured.
    """
    stats = AnnotationStats()
    pairs: list[PreferenceRecord] = []
    pending = []
    for record in records:
        texts = samples.get(record.id, [])
        expected = expected_from(record)
        if not expected and judge is not None:
            pending.append(judged_pair(record, texts, judge, stats))
            continue
        pair = verified_pair(record, texts, expected, stats) if expected else None
        if pair is None and build_pairs and record.chosen != record.rejected:
            stats.from_build += 1  # all samples passed, or nothing to verify (a leakage pair)
            pair = record
        elif pair is None and not expected:
            stats.skip("not verifiable and no judge configured")
        if pair is not None:
            pairs.append(pair)
    if pending:
        pairs += [p for p in asyncio.run(_gather(pending)) if p is not None]
    return pairs, stats


async def _gather(tasks: list[Any]) -> list[Any]:
    return await asyncio.gather(*tasks)
