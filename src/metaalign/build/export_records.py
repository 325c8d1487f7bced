"""Stage 5 of the build: SFT and DPO records per split from the store, written as files.

Owns which stored responses become records (chosen = verified or judged better; rejected =
the raw candidate when it fails, or the losing-tier version of a conflict, or the judged
worse answer, or with `leakage_pairs` the raw answer plus an unasked format) and the file
layout. Records are sorted by id, so the same store gives byte-identical files. Statistics
live in build_stats.py.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metaalign.build.assign import UNCHECKED_KINDS, MetaPrompt
from metaalign.build.build_config import BuildConfig
from metaalign.build.candidates import candidate_text
from metaalign.build.respond import JUDGED_KINDS, expected_for, response_id
from metaalign.preferences import MARKED, Check, check, satisfy_checks
from metaalign.records import PreferenceRecord, RecordMeta, SFTRecord, write_records

EXTENSIONS = {"jsonl": ".jsonl", "parquet": ".parquet", "datasets": ""}


def _pref_meta(mp: MetaPrompt) -> dict[str, Any]:
    def describe(pref: Any) -> dict[str, Any] | None:
        if pref is None:
            return None
        check = pref.check.to_dict() if pref.check is not None else None
        return {"id": pref.id, "category": pref.category, "kind": pref.kind, "check": check}

    return {"system_pref": describe(mp.system), "user_pref": describe(mp.user)}


def _meta(mp: MetaPrompt, instruction: Any, source: str, **extra: Any) -> RecordMeta:
    ids = [p.id for p in (mp.system, mp.user) if p is not None]
    checks = [{**e.check.to_dict(), "expect": bool(e.expect), "tier": e.tier} for e in expected_for(mp)]
    return RecordMeta(
        preference=" + ".join(ids) if ids else None,
        conflict=mp.conflict,
        winner=mp.winner if mp.conflict else None,
        source=source,
        kind=mp.kind,
        split=mp.split,
        instruction_id=instruction.id,
        instruction_category=instruction.category,
        checks=checks,
        **_pref_meta(mp),
        **extra,
    )


class Collected:
    """Everything export needs from the store, indexed by id."""

    def __init__(self, store: Any) -> None:
        self.candidates = {r["id"]: r for r in store.rows("candidates")}
        self.responses = {r["id"]: r for r in store.rows("responses")}
        self.judgments = {r["id"]: r for r in store.rows("judgments")}

    def raw(self, mp: MetaPrompt, k: int) -> str | None:
        return candidate_text(self.candidates[f"{mp.instruction_id}/c{k}"])


def _chosen(mp: MetaPrompt, k: int, data: Collected) -> tuple[str, str] | None:
    """The SFT target for candidate k and its source, or None when there is no usable one."""
    row = data.responses.get(response_id(mp.id, k, "chosen"))
    if row is None or not row["text"] or row["verified"] is False:
        return None
    if mp.kind in JUDGED_KINDS:
        verdict = data.judgments.get(f"{mp.id}/c{k}/judge")
        if verdict is None:  # not judged: an open preference has no target; a refusal stands
            return None if mp.kind == "open" else (row["text"], row["path"])
        if verdict["winner"] == "B":
            return data.raw(mp, k), "judge:raw"
        return row["text"], f"judge:{row['path']}"
    return row["text"], row["path"]


def sft_records(plan: Sequence[MetaPrompt], instructions: dict[str, Any], data: Collected) -> list[SFTRecord]:
    records = []
    for mp in plan:
        picked = _chosen(mp, mp.k, data)
        if picked is None:
            continue
        text, source = picked
        instruction = instructions[mp.instruction_id]
        messages = [{"role": "user", "content": instruction.text}, {"role": "assistant", "content": text}]
        meta = _meta(mp, instruction, source, candidate=mp.k)
        records.append(
            SFTRecord(
                id=mp.id,
                subset=mp.subset,
                system_info=mp.system_info,
                user_info=mp.user_info,
                messages=messages,
                metadata=meta,
            )
        )
    return sorted(records, key=lambda r: r.id)


def _pairs(
    mp: MetaPrompt, k: int, data: Collected, leaks: Sequence[Check] = ()
) -> list[tuple[str, str, str, str]]:
    """(kind, chosen, rejected, source) pairs of candidate k, most instructive first. With `leaks`,
    a prompt with no verifiable preference gets one: its raw answer over a leaked format."""
    raw = data.raw(mp, k)
    verdict = data.judgments.get(f"{mp.id}/c{k}/judge")
    if verdict is not None:
        row = data.responses.get(response_id(mp.id, k, "chosen"))
        if row is None or verdict["winner"] not in ("A", "B"):
            return []
        a, b = row["text"], raw
        return [("judge", a, b, "judge") if verdict["winner"] == "A" else ("judge", b, a, "judge")]
    if mp.kind == "open":
        return []
    picked = _chosen(mp, k, data)
    if picked is None:
        return []
    chosen, source = picked
    if mp.kind in UNCHECKED_KINDS:
        leaked = leaked_answer(chosen, leaks, f"{mp.id}/c{k}")
        return [("leak", chosen, leaked, source)] if leaked is not None else []
    pairs = []
    loser = data.responses.get(response_id(mp.id, k, "loser"))
    if loser is not None and loser["verified"] is False and loser["text"]:
        pairs.append(("loser", chosen, loser["text"], source))
    row = data.responses[response_id(mp.id, k, "chosen")]
    if not row["data"].get("raw_passes") and raw:
        pairs.append(("raw", chosen, raw, source))
    return pairs


def leak_checks(plan: Sequence[MetaPrompt]) -> list[Check]:
    """The marked formats (`MARKED`) the plan's own preferences ask for, in a fixed order: the
    formats a leakage pair's rejected answer adds. Held-out phrasings never enter a train plan."""
    found = {p.check for mp in plan for p in (mp.system, mp.user) if p is not None and p.check is not None}
    return sorted((c for c in found if c.id in MARKED), key=repr)


def leaked_answer(answer: str, leaks: Sequence[Check], key: str) -> str | None:
    """`answer` with one of `leaks` added (the first, from a seeded start, that changes it and
    then holds), or None when there are none or the answer is empty."""
    if not leaks or not answer.strip():
        return None
    start = zlib.crc32(key.encode())
    for i in range(len(leaks)):
        c = leaks[(start + i) % len(leaks)]
        leaked = satisfy_checks([c], answer)
        if leaked != answer and check(c, leaked) and not check(c, answer):
            return leaked
    return None


def dpo_records(
    plan: Sequence[MetaPrompt],
    instructions: dict[str, Any],
    data: Collected,
    per_prompt: int,
    *,
    leakage: bool = False,
) -> list[PreferenceRecord]:
    """The split's DPO records; with `leakage`, none/neutral prompts get leakage pairs too."""
    records = []
    leaks = leak_checks(plan) if leakage else []
    for mp in plan:
        found = [(k, *pair) for k in range(_k_count(data, mp)) for pair in _pairs(mp, k, data, leaks)]
        found.sort(key=lambda p: (p[1] != "loser", p[0]))  # losing-tier pairs teach priority: first
        seen: set[tuple[str, str]] = set()
        instruction = instructions[mp.instruction_id]
        for k, kind, chosen, rejected, source in found:
            if chosen == rejected or (chosen, rejected) in seen or len(seen) >= per_prompt:
                continue
            seen.add((chosen, rejected))
            records.append(
                PreferenceRecord(
                    id=f"{mp.id}/c{k}/{kind}",
                    subset=mp.subset,
                    system_info=mp.system_info,
                    user_info=mp.user_info,
                    prompt=[{"role": "user", "content": instruction.text}],
                    chosen=chosen,
                    rejected=rejected,
                    metadata=_meta(mp, instruction, source, candidate=k, rejected_kind=kind),
                )
            )
    return sorted(records, key=lambda r: r.id)


def _k_count(data: Collected, mp: MetaPrompt) -> int:
    k = 0
    while f"{mp.instruction_id}/c{k}" in data.candidates:
        k += 1
    return k


def write_split(
    config: BuildConfig, name: str, records: Sequence[SFTRecord | PreferenceRecord]
) -> dict[str, str]:
    """Writes `<name>.jsonl` (and .parquet / hf/<name> as configured); returns {format: path}."""
    out = Path(config.output_dir)
    paths: dict[str, str] = {}
    if not records:
        return paths
    for fmt in dict.fromkeys(["jsonl", *config.formats]):
        target = out / "hf" / name if fmt == "datasets" else out / f"{name}{EXTENSIONS[fmt]}"
        paths[fmt] = str(write_records(records, target))
    return paths
