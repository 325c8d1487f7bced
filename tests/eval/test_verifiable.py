"""The verifiable eval end to end with fake engines whose behaviour gives known metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaalign.engine import FakeEngine
from metaalign.eval.suite import SuiteCase, SuiteCheck, load_suite, write_suite
from metaalign.eval.verifiable import EvalSystem, evaluate_systems, run_verifiable

CAPS_S = "Answer in capital letters only."
CAPS_DELEGATING = "Use capital letters unless the user asks for something else."
CAPS_U = "Please write everything in capital letters."
LOWER_U = "Please write in lowercase only."


def _check(id_: str, expect: bool, tier: str | None) -> SuiteCheck:
    return SuiteCheck(id_, {}, expect, tier)


def _cases() -> list[SuiteCase]:
    def case(n, placement, si, ui, checks, winner=None, type_="all_caps"):
        return SuiteCase(f"c{n}", "mini", f"Question {n}?", placement, type_, tuple(checks), si, ui, winner)

    return [
        case(1, "system", CAPS_S, None, [_check("all_caps", True, "system")]),
        case(2, "user", None, CAPS_U, [_check("all_caps", True, "user")]),
        case(
            3, "both", CAPS_S, CAPS_U, [_check("all_caps", True, "system"), _check("all_caps", True, "user")]
        ),
        case(
            4,
            "conflict",
            CAPS_S,
            LOWER_U,
            [_check("all_caps", True, "system"), _check("all_lowercase", False, "user")],
            "system",
        ),
        case(
            5,
            "conflict",
            CAPS_DELEGATING,
            LOWER_U,
            [_check("all_lowercase", True, "user"), _check("all_caps", False, "system")],
            "user",
            "all_lowercase",
        ),
        case(6, "none", None, None, [_check("all_caps", False, None)]),
        case(7, "none", None, None, [_check("all_lowercase", False, None)], type_="all_lowercase"),
    ]


@pytest.fixture
def mini_suite(tmp_path: Path) -> Path:
    path = tmp_path / "mini.jsonl"
    write_suite(_cases(), path)
    return path


def system_only_follower(request) -> str:
    """Capitalises when System Info mentions capital letters; ignores User Info entirely."""
    return "PLAIN ANSWER HERE." if "capital" in (request.system_info or "") else "Plain answer here."


def test_known_metrics_for_a_model_that_only_reads_system_info(mini_suite: Path, tmp_path: Path) -> None:
    report = run_verifiable(FakeEngine(system_only_follower), mini_suite, tmp_path / "run", quiet=True)
    m = report.systems[0].metrics
    # case 1 passes, 2 fails (User Info ignored), 3 passes -> system 1, user 0, both 1, pooled 2/3
    assert (m["adherence/system"].value, m["adherence/user"].value, m["adherence/both"].value) == (
        1.0,
        0.0,
        1.0,
    )
    assert m["adherence"].value == pytest.approx(2 / 3)
    # case 4 (System wins) is right by accident of design; case 5 (delegated to the user) is wrong
    assert (m["conflict"].value, m["conflict/system-wins"].value, m["conflict/user-wins"].value) == (
        0.5,
        1.0,
        0.0,
    )
    # the plain answer is neither all caps nor all lowercase: nothing leaks in cases 6 and 7
    assert m["leakage"].value == 0.0 and m["leakage"].n == 2


def test_without_the_meta_prompt_nothing_is_followed(mini_suite: Path, tmp_path: Path) -> None:
    engine = FakeEngine(system_only_follower)
    report = run_verifiable(engine, mini_suite, tmp_path / "run", no_meta=True, quiet=True)
    assert all(r.system_info is None and r.user_info is None for r in engine.seen)
    m = report.systems[0].metrics
    assert (m["adherence"].value, m["conflict"].value, m["leakage"].value) == (0.0, 0.0, 0.0)
    assert report.systems[0].name == "model-no-meta" and report.systems[0].meta_prompt is False


def test_a_model_that_always_writes_lowercase_leaks(mini_suite: Path, tmp_path: Path) -> None:
    report = run_verifiable(
        FakeEngine(lambda r: "plain answer here."), mini_suite, tmp_path / "run", quiet=True
    )
    m = report.systems[0].metrics
    # case 7's unrequested lowercase shows up; case 6's caps does not -> 1/2
    assert m["leakage"].value == 0.5 and m["leakage/all_lowercase"].value == 1.0
    # conflict 5 (user wins, lowercase) is right: the loser (caps) is not followed -> 1/2
    assert m["conflict"].value == 0.5 and m["conflict/user-wins"].value == 1.0


def test_a_rerun_resumes_from_the_persisted_generations(mini_suite: Path, tmp_path: Path) -> None:
    first = run_verifiable(
        FakeEngine(system_only_follower), mini_suite, tmp_path / "run", limit=4, quiet=True
    )
    assert first.systems[0].info["generated"] == 4
    again = FakeEngine(system_only_follower)
    report = run_verifiable(again, mini_suite, tmp_path / "run", quiet=True)
    assert len(again.seen) == 3  # only the 3 cases the first run did not reach
    assert report.systems[0].info["resumed"] == 4
    lines = (tmp_path / "run" / "generations" / "model.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 7 and json.loads(lines[0])["metaalign_generations"]["meta_prompt"] is True


def test_several_systems_share_one_engine_and_one_report(mini_suite: Path, tmp_path: Path) -> None:
    made: list[str] = []

    def factory(ref: str) -> FakeEngine:
        made.append(ref)
        return FakeEngine(system_only_follower)

    systems = [
        EvalSystem("tuned", "tuned-ref"),
        EvalSystem("base", "base-ref"),
        EvalSystem("base-no-meta", "base-ref", False),
    ]
    report = evaluate_systems(systems, mini_suite, tmp_path / "run", engine_factory=factory, quiet=True)
    assert made == ["tuned-ref", "base-ref"]
    assert [s.name for s in report.systems] == ["tuned", "base", "base-no-meta"]
    md = (tmp_path / "run" / "report.md").read_text()
    assert "| metric | tuned | base | base-no-meta |" in md
    assert "| conflict/user-wins | 0.000 [0.000, 0.000] (n=1) |" in md


def test_the_builtin_suite_is_satisfiable_by_an_oracle(tmp_path: Path) -> None:
    """An engine that applies each case's wanted checks (the shared transforms) passes every case:
    no case asks for something impossible, and every control is clean on a plain answer."""
    from metaalign.preferences import Check, transform

    suite = load_suite()
    by_prompt = {(c.system_info, c.user_info, c.instruction): c for c in suite.cases}

    def oracle(request) -> str:
        case = by_prompt[(request.system_info, request.user_info, request.dialogue[-1]["content"])]
        text = "Here is a plain answer. It explains the idea in simple words."
        for c in case.checks:
            if c.expect:
                text = transform(Check(c.id, dict(c.params)), text)
        return text

    report = run_verifiable(FakeEngine(oracle), suite, tmp_path / "run", max_new_tokens=10_000, quiet=True)
    m = report.systems[0].metrics
    assert (m["adherence"].value, m["conflict"].value, m["leakage"].value) == (1.0, 1.0, 0.0)
