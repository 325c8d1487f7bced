"""The preference library: `Preference`, `load_library()` and `PreferenceLibrary` queries.

Owns the library file format (YAML, see docs/preferences.md) and its validation with
file:line:field errors. Does not own checkers (see `checkers`) nor priority (see `priority`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from metaalign.errors import RecordError
from metaalign.preferences.check_types import Check
from metaalign.preferences.checkers import check_problems
from metaalign.preferences.sources import load_yaml_items

Kind = Literal["explicit", "implicit"]
Category = Literal[
    "safety", "policy", "format", "language", "length", "style", "helpfulness", "consensus",
    "opinion", "persona", "background",
]  # fmt: skip
Split = Literal["train", "test"]
KINDS: tuple[str, ...] = get_args(Kind)
CATEGORIES: tuple[str, ...] = get_args(Category)
SPLITS: tuple[str, ...] = get_args(Split)
SUBSETS = ("priority", "helpful", "consensus", "diverse_opinion", "custom")  # as in metaalign.records
TIERS = ("system", "user")
LIBRARY_FILE = Path(__file__).parent / "data" / "library.yaml"


@dataclass(frozen=True)
class Preference:
    """One preference statement that can sit in System Info and/or User Info."""

    id: str
    text: str
    kind: Kind
    category: Category
    subset: str
    tiers: tuple[str, ...]
    check: Check | None
    split: Split
    delegates: bool = False

    @property
    def verifiable(self) -> bool:
        return self.check is not None


class PreferenceLibrary:
    """The preferences of one library file, in file order, with lookups."""

    def __init__(self, preferences: Sequence[Preference], source: str = "") -> None:
        self.all: tuple[Preference, ...] = tuple(preferences)
        self.source = source
        self._by_id = {p.id: p for p in self.all}

    def __len__(self) -> int:
        return len(self.all)

    def __iter__(self) -> Iterator[Preference]:
        return iter(self.all)

    def by_id(self, pref_id: str) -> Preference:
        try:
            return self._by_id[pref_id]
        except KeyError:
            raise KeyError(f"no preference {pref_id!r} in {self.source or 'the library'}") from None

    def select(
        self,
        *,
        split: str | None = None,
        tier: str | None = None,
        verifiable: bool | None = None,
        subset: str | None = None,
        category: str | None = None,
        checker: str | None = None,
        delegates: bool | None = None,
    ) -> list[Preference]:
        """The preferences matching every given filter (None = any), in file order."""
        return [
            p
            for p in self.all
            if (split is None or p.split == split)
            and (tier is None or tier in p.tiers)
            and (verifiable is None or p.verifiable == verifiable)
            and (subset is None or p.subset == subset)
            and (category is None or p.category == category)
            and (checker is None or (p.check is not None and p.check.id == checker))
            and (delegates is None or p.delegates == delegates)
        ]

    def checker_ids(self) -> list[str]:
        """The checker ids the library uses, sorted."""
        return sorted({p.check.id for p in self.all if p.check is not None})


def _choice(data: Mapping[str, Any], field: str, options: Sequence[str], fail: Any) -> str:
    value = data.get(field)
    if value not in options:
        raise fail(field, "one of: " + ", ".join(options))
    return value


def _parse_check(value: Any, fail: Any) -> Check | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise fail("check", "null, or a mapping with 'id' (a checker id) and 'params'")
    params = value.get("params") or {}
    if not isinstance(params, dict) or set(value) - {"id", "params"}:
        raise fail("check", "a mapping with only 'id' and 'params' (a mapping)")
    c = Check(value["id"], params)
    problems = check_problems(c)
    if problems:
        raise fail(f"check.{problems[0][0]}", problems[0][1])
    return c


def parse_preference(data: dict[str, Any], line: int, lines: Mapping[str, int], source: str) -> Preference:
    """One library entry, or RecordError naming file:line:field."""

    def fail(field: str, expected: str) -> RecordError:
        return RecordError(source, lines.get(field.split(".")[0], line), field, expected)

    unknown = set(data) - {"id", "text", "kind", "category", "subset", "tiers", "check", "split", "delegates"}
    if unknown:
        raise fail(sorted(unknown)[0], "not a preference field (id, text, kind, category, subset, ...)")
    for field in ("id", "text"):
        if not isinstance(data.get(field), str) or not data[field].strip():
            raise fail(field, "a non-empty string")
    tiers = data.get("tiers")
    if (
        not isinstance(tiers, list)
        or not tiers
        or any(t not in TIERS for t in tiers)
        or len(set(tiers)) < len(tiers)
    ):
        raise fail("tiers", "a non-empty list of distinct tiers: system, user")
    delegates = data.get("delegates", False)
    if not isinstance(delegates, bool):
        raise fail("delegates", "true or false")
    if delegates and "system" not in tiers:
        raise fail("delegates", "false, unless the preference may sit in System Info (tiers has 'system')")
    return Preference(
        id=data["id"],
        text=data["text"].strip(),
        kind=_choice(data, "kind", KINDS, fail),  # type: ignore[arg-type]
        category=_choice(data, "category", CATEGORIES, fail),  # type: ignore[arg-type]
        subset=_choice(data, "subset", SUBSETS, fail),
        tiers=tuple(tiers),
        check=_parse_check(data.get("check"), fail),
        split=_choice(data, "split", SPLITS, fail),  # type: ignore[arg-type]
        delegates=delegates,
    )


def load_library(path: str | Path | None = None) -> PreferenceLibrary:
    """The preferences of a library YAML file (default: the packaged library)."""
    source = Path(path) if path is not None else LIBRARY_FILE
    prefs: list[Preference] = []
    seen_ids: dict[str, int] = {}
    seen_texts: dict[str, int] = {}
    for data, line, lines in load_yaml_items(source, "preferences"):
        pref = parse_preference(data, line, lines, str(source))
        if pref.id in seen_ids:
            raise RecordError(
                str(source),
                lines.get("id", line),
                "id",
                f"a unique id ({pref.id!r} is also on line {seen_ids[pref.id]})",
            )
        folded = " ".join(pref.text.casefold().split())
        if folded in seen_texts:
            raise RecordError(
                str(source),
                lines.get("text", line),
                "text",
                f"a distinct text (the same as line {seen_texts[folded]})",
            )
        seen_ids[pref.id] = lines.get("id", line)
        seen_texts[folded] = lines.get("text", line)
        prefs.append(pref)
    return PreferenceLibrary(prefs, str(source))
