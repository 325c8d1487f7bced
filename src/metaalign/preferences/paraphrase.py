"""More training phrasings from the ones written: each phrasing placed in tier-specific frames.

Owns the frames file (`data/frames.v1.yaml`) and `with_paraphrases(library, k, seed)`, which adds
k framed variants per verifiable train phrasing and tier. It changes no check and no split, and
it never touches held-out (split=test) phrasings, so the suite's phrasings stay unseen.
"""

from __future__ import annotations

import dataclasses
import random
from functools import cache
from pathlib import Path

import yaml

from metaalign.errors import RecordError
from metaalign.preferences.library import Preference, PreferenceLibrary

FRAMES_FILE = Path(__file__).parent / "data" / "frames.v1.yaml"


@cache
def frames(path: Path = FRAMES_FILE) -> dict[str, tuple[str, ...]]:
    """tier -> frame templates; every frame must hold {text} or {lower}."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = {}
    for tier in ("system", "user"):
        items = data.get(tier)
        if not isinstance(items, list) or not items:
            raise RecordError(str(path), None, tier, "a non-empty list of frame strings")
        for item in items:
            if not isinstance(item, str) or not ("{text}" in item or "{lower}" in item):
                raise RecordError(
                    str(path), None, tier, f"frames holding {{text}} or {{lower}}, got {item!r}"
                )
        out[tier] = tuple(items)
    return out


def framed(text: str, frame: str) -> str:
    lower = text[:1].lower() + text[1:] if text[1:2].islower() or len(text) < 2 else text
    return frame.format(text=text, lower=lower)


def with_paraphrases(library: PreferenceLibrary, k: int, seed: int = 0) -> PreferenceLibrary:
    """`library` plus, for each firm verifiable train phrasing and each of its tiers, k framed variants
    (ids `<id>~<tier><n>`, that tier only); frames are drawn per phrasing by a seeded shuffle."""
    if k <= 0:
        return library
    by_tier = frames()
    extra: list[Preference] = []
    for pref in library.all:
        if pref.split != "train" or pref.check is None or pref.delegates:
            continue
        for tier in pref.tiers:
            choices = list(by_tier[tier])
            random.Random(f"{seed}|{pref.id}|{tier}").shuffle(choices)
            for n, frame in enumerate(choices[:k]):
                text = framed(pref.text, frame)
                extra.append(dataclasses.replace(pref, id=f"{pref.id}~{tier}{n}", text=text, tiers=(tier,)))
    return PreferenceLibrary([*library.all, *extra], library.source)
