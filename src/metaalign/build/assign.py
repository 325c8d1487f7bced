"""Stage 2 of the build: which instructions, and which meta-prompts each one gets (pure, seeded).

Owns instruction selection per split, the preference pools, and the meta-prompt kinds (conflict,
agree, system_only, user_only, background, neutral, none, open), with the one priority function
`metaalign.preferences.winner` deciding conflicts. Checked preferences are drawn type first (by
the build's per-type weights), conflicts winner first (when a share is set), then deciding
priority rule (when weighted), then type pair. It
generates nothing and writes nothing.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metaalign.build.build_config import BuildConfig

KINDS = ("conflict", "agree", "system_only", "user_only", "background", "neutral", "none", "open", "safety")
UNCHECKED_KINDS = ("none", "neutral")  # no verifiable preference: the target is the raw answer
DEFAULT_SUBSET = {"none": "helpful", "neutral": "helpful", "open": "helpful"}
PROBE_CATEGORY = "harmful_probe"


def derive_seed(seed: int, *parts: object) -> int:
    """A 31-bit seed from the build seed and any labels, stable across runs and platforms."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def select_instructions(instructions: Sequence[Any], split: str, n: int, seed: int) -> list[Any]:
    """`n` instructions of `split` (all when n == 0), drawn by a seeded shuffle, returned in id order."""
    pool = sorted((i for i in instructions if i.split == split), key=lambda i: i.id)
    random.Random(derive_seed(seed, "instructions", split)).shuffle(pool)
    chosen = pool if n == 0 else pool[:n]
    return sorted(chosen, key=lambda i: i.id)


@dataclass(frozen=True)
class MetaPrompt:
    """One meta-prompt assigned to one instruction. `k` is the candidate its SFT record uses."""

    id: str
    instruction_id: str
    slot: int
    split: str
    kind: str
    system: Any  # Preference | None
    user: Any  # Preference | None
    conflict: bool
    winner: str | None
    subset: str
    k: int

    @property
    def system_info(self) -> str | None:
        return self.system.text if self.system is not None else None

    @property
    def user_info(self) -> str | None:
        return self.user.text if self.user is not None else None

    def row(self) -> dict[str, Any]:
        data = {
            "kind": self.kind,
            "system": self.system.id if self.system is not None else None,
            "user": self.user.id if self.user is not None else None,
            "conflict": self.conflict,
            "winner": self.winner,
            "subset": self.subset,
            "k": self.k,
        }
        return {
            "id": self.id,
            "instruction_id": self.instruction_id,
            "slot": self.slot,
            "split": self.split,
            "kind": self.kind,
            "data": data,
        }


def _dimension(pref: Any) -> str:
    from metaalign.preferences import CHECKERS

    checker = CHECKERS.get(pref.check.id)
    return getattr(checker, "dimension", pref.check.id)


def _by_type(prefs: Sequence[Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for p in prefs:
        groups.setdefault(p.check.id, []).append(p)
    return groups


def _narrowed(pairs: Mapping[Any, list[Any]], keep: Any) -> dict[Any, list[Any]]:
    """`pairs` (type pair -> conflicting pairs) with only the pairs `keep` accepts; all if none is."""
    kept = {k: [p for p in v if keep(p)] for k, v in pairs.items()}
    return {k: v for k, v in kept.items() if v} or dict(pairs)


class Pools:
    """The preferences of one split, grouped by how a meta-prompt kind uses them.

    `weights` (checker id -> relative weight, 1.0 when absent, 0 to leave a type out) decide how
    often each type is drawn; the phrasing is then drawn uniformly within the type. Conflicts are
    drawn by (System type, User type) pair, weighted by the product of the two types' weights.
    `user_share` (None: as the pairs fall) first decides how often the conflict is one the priority
    matrix gives to User Info, so a model cannot score by always siding with System Info.
    `rules` (priority rule id -> weight, 1.0 when absent; empty: as the pairs fall) then draws the
    rule that decides the conflict, so rare rules (System Info delegating) get their share.
    """

    def __init__(
        self,
        library: Any,
        split: str,
        weights: Mapping[str, float] | None = None,
        user_share: float | None = None,
        rules: Mapping[str, float] | None = None,
    ) -> None:
        from metaalign.preferences import conflicting, deciding_rule

        self.weights = dict(weights or {})
        self.user_share = user_share
        self.rules = dict(rules or {})
        prefs = sorted((p for p in library.all if p.split == split), key=lambda p: p.id)
        checked = [p for p in prefs if p.check is not None and self.weight(p.check.id) > 0]
        self.system_checked = [p for p in checked if "system" in p.tiers]
        self.user_checked = [p for p in checked if "user" in p.tiers]
        self.system_types, self.user_types = _by_type(self.system_checked), _by_type(self.user_checked)
        unchecked = [p for p in prefs if p.check is None]
        self.background = [p for p in unchecked if "user" in p.tiers and p.kind == "implicit"]
        self.open = [p for p in unchecked if p.kind == "explicit"]
        self.safety = [p for p in unchecked if "system" in p.tiers and p.category == "safety"]
        self.conflicts = [
            (s, u)
            for s in self.system_checked
            for u in self.user_checked
            if s.id != u.id and conflicting(s.check, u.check)
        ]
        self.conflict_pairs: dict[tuple[str, str], list[tuple[Any, Any]]] = {}
        for s, u in self.conflicts:
            self.conflict_pairs.setdefault((s.check.id, u.check.id), []).append((s, u))
        self.conflict_rule = {(s.id, u.id): deciding_rule(s, u) for s, u in self.conflicts}

    def _won(self, pair: tuple[Any, Any]) -> str:
        return self.conflict_rule[pair[0].id, pair[1].id].winner

    def _rule(self, pair: tuple[Any, Any]) -> str:
        return self.conflict_rule[pair[0].id, pair[1].id].id

    def weight(self, type_id: str) -> float:
        return float(self.weights.get(type_id, 1.0))

    def available(self, kind: str, judged: bool, probe: bool) -> bool:
        needs = {
            "safety": self.safety and self.background if probe else [],
            "conflict": self.conflicts,
            "agree": self.system_checked and self.user_checked,
            "system_only": self.system_checked,
            "user_only": self.user_checked,
            "background": self.background and self.system_checked,
            "neutral": self.background,
            "none": [True],
            "open": self.open if judged else [],
        }
        return bool(needs[kind])

    def checked(self, tier: str, rng: random.Random) -> Any:
        """A verifiable preference for `tier`: a type by weight, then one of its phrasings."""
        groups = self.system_types if tier == "system" else self.user_types
        types = sorted(groups)
        chosen = rng.choices(types, weights=[self.weight(t) for t in types])[0]
        return rng.choice(groups[chosen])

    def conflict(self, rng: random.Random) -> tuple[Any, Any]:
        """A conflicting pair: its winner by `user_share` (if set), its deciding rule by `rules`
        (if set), then a type pair by weight."""
        pairs = self.conflict_pairs
        if self.user_share is not None:
            side = "user" if rng.random() < self.user_share else "system"
            pairs = _narrowed(pairs, lambda p: self._won(p) == side)
        if self.rules:
            present = sorted({self._rule(p) for v in pairs.values() for p in v})
            weights = [float(self.rules.get(r, 1.0)) for r in present]
            if any(weights):
                rule = rng.choices(present, weights=weights)[0]
                pairs = _narrowed(pairs, lambda p: self._rule(p) == rule)
        keys = sorted(pairs)
        key = rng.choices(keys, weights=[self.weight(s) * self.weight(u) for s, u in keys])[0]
        return rng.choice(pairs[key])

    def draw(self, kind: str, rng: random.Random) -> tuple[Any, Any] | None:
        """A (system, user) pair of preferences for `kind` (either may be None); None if none fits.

        `safety` (harmful-request probes only) pairs a deployer safety or policy rule with a
        user's background claim: the Priority subset, where System Info must win. `neutral` is a
        user's background alone: nothing to do differently, so the answer must add nothing.
        """
        if kind == "safety":
            return rng.choice(self.safety), rng.choice(self.background)
        if kind == "conflict":
            return self.conflict(rng)
        if kind == "agree":
            return self._agreeing(rng)
        if kind == "system_only":
            return self.checked("system", rng), None
        if kind == "user_only":
            return None, self.checked("user", rng)
        if kind == "background":
            return self.checked("system", rng), rng.choice(self.background)
        if kind == "neutral":
            return None, rng.choice(self.background)
        if kind == "open":
            pref = rng.choice(self.open)
            return (pref, None) if "system" in pref.tiers and rng.random() < 0.5 else (None, pref)
        return None, None

    def _agreeing(self, rng: random.Random) -> tuple[Any, Any] | None:
        from metaalign.preferences import conflicting

        for _ in range(20):
            s, u = self.checked("system", rng), self.checked("user", rng)
            if s.id != u.id and _dimension(s) != _dimension(u) and not conflicting(s.check, u.check):
                return s, u
        return None


def _meta_prompt(instruction: Any, slot: int, kind: str, pair: tuple[Any, Any], k: int) -> MetaPrompt:
    from metaalign.preferences import winner

    system, user = pair
    conflict = kind in ("conflict", "safety")  # a safety rule against a user's claim is a conflict too
    won = winner(system, user) if conflict else None
    if conflict:
        subset = "priority"
    else:
        lead = system if system is not None else user
        subset = lead.subset if lead is not None else DEFAULT_SUBSET.get(kind, "helpful")
    return MetaPrompt(
        f"{instruction.id}/m{slot}",
        instruction.id,
        slot,
        instruction.split,
        kind,
        system,
        user,
        conflict,
        won,
        subset,
        k,
    )


def assign(instruction: Any, pools: Pools, config: BuildConfig, judged: bool) -> list[MetaPrompt]:
    """The `config.meta_prompts` distinct meta-prompts of one instruction, drawn by the mix weights."""
    rng = random.Random(derive_seed(config.seed, "assign", instruction.id))
    weights = config.mix.model_dump()
    probe = instruction.category == PROBE_CATEGORY
    kinds = [k for k in KINDS if weights[k] > 0 and pools.available(k, judged, probe)]
    if not kinds:
        return []
    chosen: list[MetaPrompt] = []
    seen: set[tuple[str | None, str | None]] = set()
    for _ in range(config.meta_prompts * 5):
        if len(chosen) == config.meta_prompts:
            break
        kind = rng.choices(kinds, weights=[weights[k] for k in kinds])[0]
        pair = pools.draw(kind, rng)
        if pair is None:
            continue
        key = tuple(p.id if p is not None else None for p in pair)
        if key in seen:
            continue
        seen.add(key)  # type: ignore[arg-type]
        slot = len(chosen)
        chosen.append(_meta_prompt(instruction, slot, kind, pair, slot % config.candidates))
    return chosen
