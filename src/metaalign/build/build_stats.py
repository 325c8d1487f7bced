"""The build's statistics report: what the exported dataset covers, as JSON and as Markdown.

Owns counting per split, subset, kind, instruction and preference category, tier placement,
conflicts and winners, distinct preferences, verifier and judge outcomes (agreement, ties,
unparsable). Pure: it takes records and store rows; timings and usage go to run.json instead,
so the same store always gives the same stats.json.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from metaalign.records import PreferenceRecord, SFTRecord


def _counts(values: Sequence[Any]) -> dict[str, int]:
    return dict(sorted(Counter(str(v) for v in values).items()))


def _placement(record: SFTRecord | PreferenceRecord) -> str:
    meta = record.metadata.model_extra or {}
    s, u = meta.get("system_pref") is not None, meta.get("user_pref") is not None
    return {(True, True): "both", (True, False): "system_only", (False, True): "user_only"}.get(
        (s, u), "neither"
    )


def _pref_categories(records: Sequence[SFTRecord | PreferenceRecord]) -> dict[str, int]:
    found = []
    for r in records:
        meta = r.metadata.model_extra or {}
        for tier in ("system_pref", "user_pref"):
            if meta.get(tier):
                found.append(meta[tier]["category"])
    return _counts(found)


def records_stats(records: Sequence[SFTRecord | PreferenceRecord]) -> dict[str, Any]:
    extra = [r.metadata.model_extra or {} for r in records]
    prefs = {p["id"] for m in extra for p in (m.get("system_pref"), m.get("user_pref")) if p}
    conflicts = [r for r in records if r.metadata.conflict]
    stats = {
        "total": len(records),
        "subsets": _counts([r.subset for r in records]),
        "kinds": _counts([m.get("kind") for m in extra]),
        "instruction_categories": _counts([m.get("instruction_category") for m in extra]),
        "preference_categories": _pref_categories(records),
        "tier_placement": _counts([_placement(r) for r in records]),
        "conflicts": len(conflicts),
        "winners": _counts([r.metadata.winner for r in conflicts]),
        "sources": _counts([r.metadata.source for r in records]),
        "distinct_preferences": len(prefs),
        "distinct_instructions": len({m.get("instruction_id") for m in extra}),
    }
    if records and isinstance(records[0], PreferenceRecord):
        stats["rejected_kinds"] = _counts([m.get("rejected_kind") for m in extra])
    return stats


def store_stats(rows: dict[str, list[dict[str, Any]]], split_of: dict[str, str]) -> dict[str, Any]:
    """Candidates, verifier and judge outcomes from the store's rows (per split via `split_of`)."""
    candidates = rows["candidates"]
    chosen = [r for r in rows["responses"] if r["role"] == "chosen" and r["verified"] is not None]
    losers = [r for r in rows["responses"] if r["role"] == "loser"]
    judgments = rows["judgments"]
    raw_known = [r for r in chosen if r["data"].get("raw_passes") is not None]
    return {
        "candidates": {
            "total": len(candidates),
            "empty": sum(not r["text"] for r in candidates),
            "hit_max_new_tokens": sum(r["finish_reason"] == "length" for r in candidates),
            "mean_completion_tokens": round(
                sum(r["completion_tokens"] or 0 for r in candidates) / max(len(candidates), 1), 2
            ),
        },
        "verifier": {
            "responses": len(chosen),
            "verified": sum(bool(r["verified"]) for r in chosen),
            "unsatisfiable": sum(r["verified"] is False for r in chosen),
            "raw_candidate_already_passed": sum(bool(r["data"].get("raw_passes")) for r in raw_known),
            "losing_tier_versions": len(losers),
            "paths": _counts([r["path"] for r in rows["responses"] if r["role"] == "chosen"]),
        },
        "judge": {
            "judgments": len(judgments),
            "winners": _counts([j["winner"] for j in judgments]),
            "agreement": round(sum(bool(j["agree"]) for j in judgments) / len(judgments), 4)
            if judgments
            else None,
            "ties": sum(j["winner"] == "tie" for j in judgments),
            "unparsable": sum(j["winner"] == "unparsable" for j in judgments),
            "prompt_versions": _counts([j["prompt_version"] for j in judgments]),
        },
        "per_split": {
            split: sum(1 for r in candidates if r["split"] == split)
            for split in sorted(set(split_of.values()))
        },
    }


def _table(title: str, counts: dict[str, Any]) -> list[str]:
    if not counts:
        return []
    lines = [f"| {title} | count |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in counts.items()]
    return [*lines, ""]


def to_markdown(stats: dict[str, Any]) -> str:
    """The stats as a Markdown report (one section per exported file, then the store)."""
    out = ["# MetaAlign build statistics", "", f"Config fingerprint: `{stats['fingerprint']}`", ""]
    out += [
        "| file | records | conflicts | distinct preferences | distinct instructions |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s in stats["files"].items():
        out.append(
            f"| {name} | {s['total']} | {s['conflicts']} | {s['distinct_preferences']} | "
            f"{s['distinct_instructions']} |"
        )
    out.append("")
    for name, s in stats["files"].items():
        out += [f"## {name}", ""]
        for key in (
            "subsets",
            "kinds",
            "tier_placement",
            "winners",
            "instruction_categories",
            "preference_categories",
            "sources",
            "rejected_kinds",
        ):
            out += _table(key.replace("_", " "), s.get(key, {}))
    store = stats["store"]
    out += ["## Candidates, verifiers and judge", ""]
    out += _table("candidates", store["candidates"])
    out += _table("verifier", {k: v for k, v in store["verifier"].items() if k != "paths"})
    out += _table("response paths", store["verifier"]["paths"])
    judge = {k: v for k, v in store["judge"].items() if not isinstance(v, dict)}
    out += _table("judge", judge)
    out += _table("judge winners", store["judge"]["winners"])
    return "\n".join(out).rstrip() + "\n"
