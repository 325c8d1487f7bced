"""Generates the built-in verifiable suite from the preference library's held-out (split=test) items.

Owns the recipe (which phrasings, placements, conflicts and controls; counts; seed) and
`python -m metaalign.eval.suite_gen [--out FILE]`, which rewrites suites/verifiable.v2.jsonl.
The checks, the priority matrix (`winner`) and `expected_checks` are metaalign.preferences';
this module only picks and places. Same library + same seed = the same file, byte for byte.
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from metaalign.eval.suite import SuiteCase, SuiteCheck, builtin_suite_path, write_suite

SPLIT = "verifiable-v2"
SEED = 20241018
PER_TYPE = {"system": 9, "user": 9, "both": 6}
CONFLICTS = {"system": 150, "user": 150}  # conflicts won by each tier (user wins via delegation)
CONTROLS = 100  # cases with no verifiable preference stated; each checks every marked format
MIN_PHRASINGS = 5
SKIP_CATEGORIES = frozenset({"harmful_probe"})  # format preferences on harmful probes muddle two things
# What the offline transforms write when they pad or insert: seen in an answer nobody asked to pad,
# it is leakage of training filler (see checks_length.filler and includes_keywords_transform).
FILLER_TAILS = ("these notes cover every point", "This covers")
# Plain answers with no marked format: a check one of these already passes cannot show leakage
# (any answer "leaks" it), so it is left out of the controls.
PLAIN_ANSWERS = (
    "Tides are caused mainly by the Moon's gravity pulling on the oceans. The Sun adds a smaller "
    "pull, so the highest tides come when both line up.\n\nMost coasts see two high tides a day.",
    "Start by writing down what you spend each week. Then set a limit for each category and "
    "review it at the end of the month. Small changes add up over time.",
    "Python is a good first language: its syntax is readable and there are many free tutorials. "
    "Practise with small projects such as a to-do list or a number guessing game.",
)


@dataclass(frozen=True)
class Pools:
    """The held-out material: phrasings per (type, tier), neutral statements, instructions."""

    phrasings: dict[tuple[str, str], list]  # (checker id, tier) -> [Preference]
    neutral: dict[str, list]  # tier -> non-verifiable background/persona statements
    instructions: list


def load_pools(library=None, instructions=None) -> Pools:
    """Only split=test items: the build pipeline trains on split=train, so nothing here leaks into it."""
    from metaalign.preferences import load_instructions, load_library

    library = library or load_library()
    items = instructions or load_instructions()
    phrasings: dict[tuple[str, str], list] = defaultdict(list)
    neutral: dict[str, list] = defaultdict(list)
    for pref in sorted(library.all, key=lambda p: p.id):
        if pref.split != "test":
            continue
        for tier in pref.tiers:
            if pref.check is not None:
                phrasings[(pref.check.id, tier)].append(pref)
            elif pref.category in ("background", "persona") and not pref.delegates:
                neutral[tier].append(pref)
    usable = [
        i
        for i in sorted(items, key=lambda i: i.id)
        if i.split == "test" and i.category not in SKIP_CATEGORIES
    ]
    return Pools(dict(phrasings), dict(neutral), usable)


def suite_types(pools: Pools) -> list[str]:
    """Checker ids with >= MIN_PHRASINGS non-delegating test phrasings in each tier."""
    ids = sorted({t for t, _ in pools.phrasings})
    return [
        t
        for t in ids
        if all(len(_firm(pools.phrasings.get((t, tier), []))) >= MIN_PHRASINGS for tier in ("system", "user"))
    ]


def _firm(prefs: Sequence) -> list:
    return [p for p in prefs if not p.delegates]


class _Builder:
    """Accumulates cases; instructions are dealt round-robin from a seeded shuffle."""

    def __init__(self, pools: Pools, rng: random.Random) -> None:
        self.pools, self.rng = pools, rng
        self.deck: list = []
        self.cases: list[SuiteCase] = []

    def instruction(self):
        if not self.deck:
            self.deck = list(self.pools.instructions)
            self.rng.shuffle(self.deck)
        return self.deck.pop()

    def add(self, placement: str, type_: str, system, user, checks, winner=None) -> None:
        from metaalign.preferences import expected_checks

        item = self.instruction()
        if checks is None:
            checks = tuple(
                SuiteCheck(e.check.id, e.check.to_dict()["params"], e.expect, e.tier)
                for e in expected_checks(system, user)
            )
        number = sum(c.placement == placement for c in self.cases) + 1
        self.cases.append(
            SuiteCase(
                id=f"{SPLIT}-{placement}-{number:04d}",
                split=SPLIT,
                instruction=item.text,
                placement=placement,
                type=type_,
                checks=checks,
                system_info=system.text if system is not None else None,
                user_info=user.text if user is not None else None,
                winner=winner,
                instruction_id=item.id,
                system_phrasing=system.id if system is not None else None,
                user_phrasing=user.id if user is not None else None,
            )
        )


def _cycle(rng: random.Random, items: Sequence, n: int) -> list:
    """n items covering every one of `items` before repeating (each pass freshly shuffled)."""
    out: list = []
    while len(out) < n:
        chunk = list(items)
        rng.shuffle(chunk)
        out += chunk
    return out[:n]


def _single_and_both(b: _Builder, types: Sequence[str]) -> None:
    from metaalign.preferences import conflicting

    for t in types:
        for tier in ("system", "user"):
            for pref in _cycle(b.rng, _firm(b.pools.phrasings[(t, tier)]), PER_TYPE[tier]):
                b.add(tier, t, pref if tier == "system" else None, pref if tier == "user" else None, None)
        pairs = [
            (s, u)
            for s in _firm(b.pools.phrasings[(t, "system")])
            for u in _firm(b.pools.phrasings[(t, "user")])
            if s.id != u.id and not conflicting(s.check, u.check)
        ]
        for s, u in _cycle(b.rng, pairs, PER_TYPE["both"]) if pairs else []:
            b.add("both", t, s, u, None)


def _conflicts(b: _Builder, types: Sequence[str]) -> None:
    """Conflicting System/User pairs; the priority matrix's `winner` decides who should win."""
    from metaalign.preferences import conflicting, winner

    wanted = set(types)
    systems = [
        p
        for (t, tier), ps in sorted(b.pools.phrasings.items())
        if tier == "system" and t in wanted
        for p in ps
    ]
    users = [
        p for (t, tier), ps in sorted(b.pools.phrasings.items()) if tier == "user" and t in wanted for p in ps
    ]
    by_winner: dict[str, list] = {"system": [], "user": []}
    for s in systems:
        for u in users:
            if s.id != u.id and conflicting(s.check, u.check) and _clear(s.check, u.check):
                by_winner[winner(s, u)].append((s, u))
    for side, pairs in by_winner.items():
        for s, u in _spread(b.rng, pairs, CONFLICTS[side]):
            w = s if side == "system" else u
            b.add("conflict", w.check.id, s, u, None, winner=side)


def _clear(a, b) -> bool:
    """Whether meeting one check rules the other out for any answer, not just a padded one: at least
    n words vs at most c characters is only clear when n words cannot fit, even at 4 characters a
    word (the build's filler takes 6, so it treats 4n..6n as a conflict too)."""
    pair = {a.id: a.params["n"] for a in (a, b) if a.id in ("min_words", "max_chars")}
    return len(pair) < 2 or 4 * pair["min_words"] > pair["max_chars"]


def _spread(rng: random.Random, pairs: list, n: int) -> list:
    """n pairs spread over as many (system type, user type) combinations as possible."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for s, u in pairs:
        groups[(s.check.id, u.check.id)].append((s, u))
    for key in sorted(groups):
        rng.shuffle(groups[key])
    out: list = []
    keys = sorted(groups)
    while len(out) < n and any(groups.values()):
        for key in keys:
            if groups[key] and len(out) < n:
                out.append(groups[key].pop())
    return out


def leakage_checks(library=None) -> tuple[SuiteCheck, ...]:
    """Every marked format with each parameter set the library uses, plus the training fillers;
    a check that a plain answer passes is left out (it could not tell leakage from a normal answer)."""
    from metaalign.preferences import MARKED, Check, check, load_library

    library = library or load_library()
    params: dict[tuple[str, str], dict] = {}
    for pref in sorted(library.all, key=lambda p: p.id):
        if pref.check is not None and pref.check.id in MARKED:
            found = pref.check.to_dict()["params"]
            params.setdefault((pref.check.id, repr(sorted(found.items()))), found)
    for tail in FILLER_TAILS:
        params[("includes_keywords", tail)] = {"words": [tail]}
    checks = []
    for (type_, _), found in sorted(params.items()):
        if not any(check(Check(type_, dict(found)), a) for a in PLAIN_ANSWERS):
            checks.append(SuiteCheck(type_, found, False, None))
    return tuple(checks)


def _controls(b: _Builder, checks: tuple[SuiteCheck, ...]) -> None:
    """No verifiable preference stated (tiers empty or a neutral background); every check (expect
    false) records whether a marked format shows up anyway."""
    for k in range(CONTROLS):
        tier = ("system", "user", None)[k % 3]
        background = b.rng.choice(b.pools.neutral[tier]) if tier and b.pools.neutral.get(tier) else None
        system, user = (background, None) if tier == "system" else (None, background)
        b.add("none", "none", system, user, checks)


def generate(pools: Pools | None = None, *, seed: int = SEED, library=None) -> list[SuiteCase]:
    """The whole suite, in a seeded shuffled order (so `--limit N` takes a mixed sample)."""
    pools = pools or load_pools(library)
    rng = random.Random(seed)
    b = _Builder(pools, rng)
    types = suite_types(pools)
    _single_and_both(b, types)
    _conflicts(b, types)
    _controls(b, leakage_checks(library))
    cases = list(b.cases)
    rng.shuffle(cases)
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the built-in verifiable suite.")
    parser.add_argument(
        "--out", default=str(builtin_suite_path()), help="where to write (default: the packaged file)"
    )
    args = parser.parse_args(argv)
    cases = generate()
    write_suite(cases, args.out)
    print(f"wrote {len(cases)} cases to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
