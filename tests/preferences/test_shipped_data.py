"""The packaged library and instructions load and are internally consistent."""

from __future__ import annotations

from metaalign.preferences import CHECKERS, check_problems, load_instructions, load_library


def test_shipped_library_loads_with_valid_checks() -> None:
    lib = load_library()
    assert len(lib) > 0
    for p in lib:
        if p.check is not None:
            assert p.check.id in CHECKERS
            assert check_problems(p.check) == []
        if p.delegates:
            assert "system" in p.tiers and p.check is not None


def test_shipped_instructions_load() -> None:
    instructions = load_instructions()
    assert len(instructions) > 0
    assert len({i.text.casefold() for i in instructions}) == len(instructions)
