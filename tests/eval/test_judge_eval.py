"""The judge eval against the fake OpenAI-compatible server: position swap, ties, resume, metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from metaalign.endpoints import FakeOpenAIServer, OpenAIChatClient
from metaalign.engine import FakeEngine
from metaalign.eval.judge_eval import judge_metrics, load_prompts, run_judge
from metaalign.eval.verifiable import EvalSystem
from metaalign.judge import PairwiseJudge
from metaalign.records import PreferenceRecord, SFTRecord, write_records


def _answers(messages) -> tuple[str, str]:
    text = messages[-1]["content"]
    a = re.search(r"\[Answer A\]\n(.*?)\n\[End of Answer A\]", text, re.S).group(1)
    b = re.search(r"\[Answer B\]\n(.*?)\n\[End of Answer B\]", text, re.S).group(1)
    return a, b


def fair_judge(messages) -> str:
    """Prefers the answer that says GOOD; a tie when both or neither do."""
    a, b = _answers(messages)
    if ("GOOD" in a) == ("GOOD" in b):
        return "Both are alike.\nVerdict: tie"
    return "Verdict: A" if "GOOD" in a else "Verdict: B"


def first_position_judge(messages) -> str:
    return "Answer A is better.\nVerdict: A"


def _test_split(tmp_path: Path, n: int = 4) -> Path:
    records = [
        SFTRecord(
            id=f"t{i}",
            system_info="Answer briefly.",
            user_info=None,
            messages=[{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": "x"}],
        )
        for i in range(n)
    ]
    return write_records(records, tmp_path / "test.jsonl")


def _engines(model_good: set[int], base_good: set[int]):
    def respond(good: set[int]):
        return lambda r: (
            ("GOOD " if int(r.dialogue[-1]["content"].split()[-1]) in good else "meh ") + "answer"
        )

    engines = {"tuned": FakeEngine(respond(model_good)), "base-ref": FakeEngine(respond(base_good))}
    return engines, engines.__getitem__


def _run(tmp_path: Path, server: FakeOpenAIServer, model_good, base_good, out="run"):
    engines, factory = _engines(model_good, base_good)
    client = OpenAIChatClient(base_url=server.base_url, model="judge-x", concurrency=4, max_retries=0)
    report = run_judge(
        EvalSystem("tuned", "tuned"),
        EvalSystem("base", "base-ref"),
        _test_split(tmp_path),
        tmp_path / out,
        judge=PairwiseJudge(client),
        engine_factory=factory,
    )
    return report, engines


def test_win_rate_by_hand_against_the_fake_server(tmp_path: Path) -> None:
    # prompts 0, 1: only the model says GOOD (wins); 2: only the baseline (loss); 3: neither (tie)
    # win-rate = (2 wins + 0.5 * 1 tie) / 4 = 0.625
    with FakeOpenAIServer(fair_judge) as server:
        report, _ = _run(tmp_path, server, {0, 1}, {2})
        assert server.calls == 8  # each prompt asked in both orders
    m = report.systems[0].metrics
    assert m["win-rate"].value == 0.625
    assert (m["win"].value, m["tie"].value, m["loss"].value) == (0.5, 0.25, 0.25)
    assert m["order-agreement"].value == 1.0
    assert (tmp_path / "run" / "report.md").exists() and (tmp_path / "run" / "report.png").exists()


def test_a_judge_that_always_picks_the_first_answer_gives_only_ties(tmp_path: Path) -> None:
    # order 1 says A (the model), the swapped order says A too, which maps back to B: disagreement = tie
    with FakeOpenAIServer(first_position_judge) as server:
        report, _ = _run(tmp_path, server, {0, 1, 2, 3}, set())
    m = report.systems[0].metrics
    assert (m["win-rate"].value, m["tie"].value, m["order-agreement"].value) == (0.5, 1.0, 0.0)


def test_a_rerun_resumes_without_generating_or_judging_again(tmp_path: Path) -> None:
    with FakeOpenAIServer(fair_judge) as server:
        _run(tmp_path, server, {0}, set())
        verdicts = tmp_path / "run" / "verdicts.jsonl"
        lines = verdicts.read_text().splitlines()
        verdicts.write_text("\n".join(lines[:2]) + "\n" + lines[2][:10])  # killed mid-write of the third
        report, engines = _run(tmp_path, server, {0}, set())
        assert server.calls == 8 + 2 * 2  # only the two prompts without a whole verdict line
    assert engines["tuned"].seen == [] and engines["base-ref"].seen == []
    assert report.systems[0].metrics["win-rate"].value == pytest.approx((1 + 0.5 * 3) / 4)
    assert len({json.loads(x)["id"] for x in verdicts.read_text().splitlines() if x.endswith("}")}) == 4


def test_unparsable_verdicts_are_counted_not_scored() -> None:
    rows = [{"winner": "A", "agree": True}, {"winner": "unparsable", "agree": False}]
    metrics, info = judge_metrics(rows)
    assert metrics["win-rate"].value == 1.0 and metrics["win-rate"].n == 1
    assert info == {"prompts": 2, "judged": 1, "unparsable": 1}


def test_prompts_come_from_sft_or_preference_records(tmp_path: Path) -> None:
    pref = PreferenceRecord(
        id="p",
        system_info="s",
        user_info="u",
        prompt=[
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
        ],
        chosen="c",
        rejected="r",
    )
    (prompt,) = load_prompts(write_records([pref], tmp_path / "p.jsonl"))
    assert prompt.dialogue[-1] == {"role": "user", "content": "q2"}
    assert prompt.instruction == "user: q1\n\nassistant: a1\n\nuser: q2"
    (sft,) = load_prompts(_test_split(tmp_path, 1))
    assert sft.dialogue == ({"role": "user", "content": "question 0"},) and sft.instruction == "question 0"
