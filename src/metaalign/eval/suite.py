"""Verifiable eval suites: the JSONL case format, its loader (file:line errors) and writer.

Owns the suite schema and what a suite declares (its split name, instruction and phrasing
ids) so that dataset building can exclude it. It does not generate the built-in suite
(suite_gen.py), run models (verifiable.py) or define checkers (metaalign.preferences).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from metaalign.errors import RecordError

PLACEMENTS = ("system", "user", "both", "conflict", "none")
TIERS = ("system", "user")
BUILTIN_SUITE = "verifiable.v2"
_REQUIRED = ("id", "split", "instruction", "placement", "type", "checks")


@dataclass(frozen=True)
class SuiteCheck:
    """One check a response must give `expect` for; `tier` is who asked (None in controls)."""

    id: str
    params: Mapping[str, Any]
    expect: bool
    tier: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": {"id": self.id, "params": dict(self.params)},
            "expect": self.expect,
            "tier": self.tier,
        }


@dataclass(frozen=True)
class SuiteCase:
    """One case: a meta-prompt, an instruction and the checks its answer is scored by.

    `placement` says where the preference sits: System Info only, User Info only, both
    (agreeing), a conflict (the priority matrix's `winner` decides), or `none` (a control:
    no verifiable preference stated; its checks have expect=false and measure leakage).
    """

    id: str
    split: str
    instruction: str
    placement: str
    type: str
    checks: tuple[SuiteCheck, ...]
    system_info: str | None = None
    user_info: str | None = None
    winner: str | None = None
    instruction_id: str | None = None
    system_phrasing: str | None = None
    user_phrasing: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        row = {
            "id": self.id,
            "split": self.split,
            "instruction_id": self.instruction_id,
            "instruction": self.instruction,
            "system_info": self.system_info,
            "user_info": self.user_info,
            "placement": self.placement,
            "type": self.type,
            "checks": [c.to_json() for c in self.checks],
            "winner": self.winner,
            "system_phrasing": self.system_phrasing,
            "user_phrasing": self.user_phrasing,
        }
        row.update(self.extra)
        return row


@dataclass(frozen=True)
class Suite:
    """A loaded suite: its cases plus what it declares (see `split`, `instruction_ids`, `phrasing_ids`)."""

    source: str
    cases: tuple[SuiteCase, ...]

    @property
    def split(self) -> str:
        """The split name the cases declare (a suite holds one split)."""
        return self.cases[0].split if self.cases else ""

    @property
    def instruction_ids(self) -> frozenset[str]:
        return frozenset(c.instruction_id for c in self.cases if c.instruction_id)

    @property
    def phrasing_ids(self) -> frozenset[str]:
        ids = {c.system_phrasing for c in self.cases} | {c.user_phrasing for c in self.cases}
        return frozenset(i for i in ids if i)

    def __len__(self) -> int:
        return len(self.cases)


def builtin_suite_path(name: str = BUILTIN_SUITE) -> Path:
    """The packaged suite file, e.g. `verifiable.v2` -> .../eval/suites/verifiable.v2.jsonl."""
    return Path(str(resources.files("metaalign.eval") / "suites" / f"{name}.jsonl"))


def load_suite(
    path: str | os.PathLike[str] | None = None, *, known_checks: Iterable[str] | None = None
) -> Suite:
    """Read a suite file (default: the built-in one); bad lines raise RecordError naming file:line.

    `known_checks` (default: the preferences checker registry) lists the check ids allowed.
    """
    path = Path(path) if path is not None else builtin_suite_path()
    source = str(path)
    known = frozenset(known_checks) if known_checks is not None else _registry_ids()
    cases: list[SuiteCase] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            case = parse_case(_json_line(line, source, number), source, number, known)
            if case.id in seen:
                raise RecordError(
                    source, number, "id", f"a unique id; '{case.id}' is on line {seen[case.id]}"
                )
            if cases and case.split != cases[0].split:
                raise RecordError(
                    source, number, "split", f"'{cases[0].split}' like line 1, got '{case.split}'"
                )
            seen[case.id] = number
            cases.append(case)
    if not cases:
        raise RecordError(source, None, None, "at least one case, the file has none")
    return Suite(source, tuple(cases))


def _json_line(line: str, source: str, number: int) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as err:
        raise RecordError(source, number, None, f"one JSON object per line ({err.msg})") from None
    if not isinstance(data, dict):
        raise RecordError(source, number, None, "a JSON object")
    return data


def parse_case(data: Mapping[str, Any], source: str, number: int, known: frozenset[str]) -> SuiteCase:
    """One case from its JSON object; every problem names the field and what was expected."""

    def fail(name: str, expected: str) -> RecordError:
        return RecordError(source, number, name, expected)

    for name in _REQUIRED:
        if name not in data:
            raise fail(name, "present (required)")
    for name in ("id", "split", "instruction", "type"):
        if not isinstance(data[name], str) or not data[name].strip():
            raise fail(name, "a non-empty string")
    for name in ("system_info", "user_info", "instruction_id", "system_phrasing", "user_phrasing"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise fail(name, "a string or null")
    placement = data["placement"]
    if placement not in PLACEMENTS:
        raise fail("placement", f"one of {', '.join(PLACEMENTS)}, got {placement!r}")
    winner = data.get("winner")
    if winner not in (None, *TIERS):
        raise fail("winner", f"'system', 'user' or null, got {winner!r}")
    if placement == "conflict" and winner is None:
        raise fail("winner", "'system' or 'user' for a conflict case")
    checks = _parse_checks(data["checks"], fail, known, placement)
    _check_tiers_present(data, placement, fail)
    extra = {k: v for k, v in data.items() if k not in _FIELDS}
    return SuiteCase(
        id=data["id"],
        split=data["split"],
        instruction=data["instruction"],
        placement=placement,
        type=data["type"],
        checks=checks,
        system_info=data.get("system_info"),
        user_info=data.get("user_info"),
        winner=winner,
        instruction_id=data.get("instruction_id"),
        system_phrasing=data.get("system_phrasing"),
        user_phrasing=data.get("user_phrasing"),
        extra=extra,
    )


_FIELDS = frozenset(SuiteCase.__dataclass_fields__) - {"extra"}


def _check_tiers_present(data: Mapping[str, Any], placement: str, fail) -> None:
    """System/user/both/conflict cases need the tiers their placement names."""
    need = {"system": ("system_info",), "user": ("user_info",), "both": ("system_info", "user_info")}
    need["conflict"] = need["both"]
    for name in need.get(placement, ()):
        if not data.get(name):
            raise fail(name, f"a non-empty string for placement '{placement}'")


def _parse_checks(raw: Any, fail, known: frozenset[str], placement: str) -> tuple[SuiteCheck, ...]:
    if not isinstance(raw, list) or not raw:
        raise fail("checks", "a non-empty list of {check: {id, params}, expect, tier}")
    checks = []
    for index, item in enumerate(raw):
        where = f"checks[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("check"), dict):
            raise fail(where, "an object {check: {id, params}, expect, tier}")
        spec = item["check"]
        if not isinstance(spec.get("id"), str) or (known and spec["id"] not in known):
            raise fail(f"{where}.check.id", f"a known checker id, got {spec.get('id')!r}")
        params = spec.get("params", {})
        if not isinstance(params, dict):
            raise fail(f"{where}.check.params", "an object")
        if not isinstance(item.get("expect"), bool):
            raise fail(f"{where}.expect", "true or false")
        if item.get("tier") not in (None, *TIERS):
            raise fail(f"{where}.tier", f"'system', 'user' or null, got {item.get('tier')!r}")
        if placement == "none" and item["expect"]:
            raise fail(f"{where}.expect", "false in a control case (placement 'none' measures leakage)")
        checks.append(SuiteCheck(spec["id"], params, item["expect"], item.get("tier")))
    return tuple(checks)


def _registry_ids() -> frozenset[str]:
    """The checker ids of metaalign.preferences (empty, so anything goes, if it is not installed)."""
    try:
        from metaalign.preferences import CHECKERS
    except ImportError:
        return frozenset()
    return frozenset(CHECKERS)


def write_suite(cases: Sequence[SuiteCase], path: str | os.PathLike[str]) -> None:
    """Write cases as JSONL, one per line, keys in a fixed order (stable diffs, exact regeneration)."""
    text = "".join(json.dumps(c.to_json(), ensure_ascii=False, sort_keys=False) + "\n" for c in cases)
    Path(path).write_text(text, encoding="utf-8")
