"""Building preferences by hand for the tests."""

from __future__ import annotations

from typing import Any

from metaalign.preferences import Check, Preference


def pref(
    category: str = "format",
    check: Check | None = None,
    *,
    delegates: bool = False,
    tiers: tuple[str, ...] = ("system", "user"),
    **kw: Any,
) -> Preference:
    fields = {
        "id": f"p-{category}",
        "text": f"a {category} preference",
        "kind": "explicit",
        "subset": "helpful",
    }
    fields.update(kw)
    return Preference(
        category=category,
        check=check,
        delegates=delegates,
        tiers=tiers,
        split="train",
        **fields,  # type: ignore[arg-type]
    )
