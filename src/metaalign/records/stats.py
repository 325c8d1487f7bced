"""Dataset statistics: what a set of records covers, as plain data and as a text table.

Owns counting (subsets, kinds, distinct preferences and tiers, conflicts, winners, token lengths).
Pure: it takes records and an optional token-length function and reads no files; measuring
tokens (the renderer plus a tokenizer) is the caller's business.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from metaalign.records.schema import KINDS, SUBSETS, Record


def _distinct(texts: Iterable[str | None]) -> int:
    """Distinct non-empty texts, compared stripped and case-folded."""
    return len({text.strip().casefold() for text in texts if text and text.strip()})


def _percentile(ordered: list[int], q: float) -> int:
    """Nearest-rank percentile of sorted values: the smallest value with at least q of them at or below."""
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def _token_summary(lengths: list[int]) -> dict[str, float] | None:
    if not lengths:
        return None
    ordered = sorted(lengths)
    return {
        "min": ordered[0],
        "mean": sum(ordered) / len(ordered),
        "p50": _percentile(ordered, 0.50),
        "p95": _percentile(ordered, 0.95),
        "max": ordered[-1],
    }


def compute_stats(
    records: Iterable[Record], token_length: Callable[[Record], int] | None = None
) -> dict[str, Any]:
    """Counts over records, JSON-ready.

    Keys: total; kinds and subsets (every kind and subset listed, zeros included); distinct
    preferences (metadata.preference), System Info and User Info texts (stripped, case-folded);
    conflicts (count and share of total); winners of conflicts; tokens (min, mean, p50, p95,
    max of `token_length` per record, nearest-rank percentiles) or None without it.
    """
    records = list(records)
    total = len(records)
    conflicts = [r for r in records if r.metadata.conflict]
    return {
        "total": total,
        "kinds": {kind: sum(r.kind == kind for r in records) for kind in KINDS},
        "subsets": {subset: sum(r.subset == subset for r in records) for subset in SUBSETS},
        "distinct": {
            "preferences": _distinct(r.metadata.preference for r in records),
            "system_info": _distinct(r.system_info for r in records),
            "user_info": _distinct(r.user_info for r in records),
        },
        "conflicts": {"count": len(conflicts), "share": len(conflicts) / total if total else 0.0},
        "winners": {tier: sum(r.metadata.winner == tier for r in conflicts) for tier in ("system", "user")},
        "tokens": _token_summary([token_length(r) for r in records]) if token_length else None,
    }


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:5.1f}%" if total else "    -"


def format_stats(stats: dict[str, Any]) -> str:
    """The output of `compute_stats` as a readable plain-text table."""
    total = stats["total"]
    rows: list[tuple[str, str, str]] = [("records", str(total), "")]
    rows += [(f"  {kind}", str(n), _share(n, total)) for kind, n in stats["kinds"].items()]
    rows.append(("subsets", "", ""))
    rows += [(f"  {subset}", str(n), _share(n, total)) for subset, n in stats["subsets"].items()]
    labels = {
        "preferences": "preferences",
        "system_info": "System Info texts",
        "user_info": "User Info texts",
    }
    rows.append(("distinct", "", ""))
    rows += [(f"  {labels[key]}", str(n), "") for key, n in stats["distinct"].items()]
    conflicts = stats["conflicts"]["count"]
    rows.append(("conflicts", str(conflicts), _share(conflicts, total)))
    rows += [(f"  {tier} wins", str(n), _share(n, conflicts)) for tier, n in stats["winners"].items()]
    tokens = stats.get("tokens")
    if tokens:
        rows.append(("tokens per record", "", ""))
        rows += [
            (f"  {key}", f"{value:g}" if key != "mean" else f"{value:.1f}", "")
            for key, value in tokens.items()
        ]
    width = max(len(label) for label, _, _ in rows) + 2
    return "\n".join(f"{label:<{width}}{value:>7}  {share}".rstrip() for label, value, share in rows)
