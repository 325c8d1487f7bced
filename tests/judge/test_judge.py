"""The pairwise judge: parser, position swap, ties, disagreement, unparsable retries, prompt files."""

from __future__ import annotations

import asyncio

import pytest

from metaalign.endpoints import EndpointError, FakeChatClient, FakeOpenAIServer, OpenAIChatClient
from metaalign.errors import MetaAlignError
from metaalign.judge import PairwiseJudge, Rewriter, combine, load_prompt, parse_verdict


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ("A is clearer.\nVerdict: A", "A"),
        ("verdict: b", "B"),
        ("**Verdict:** TIE", "tie"),
        ("Verdict: [[A]]", "A"),
        ("[[B]]", "B"),
        ("[[C]]", "tie"),
        ("B", "B"),
        (" tie. ", "tie"),
        ("Verdict: A ... on reflection, Verdict: B", None),
        ("Both are fine.", None),
        ("", None),
        ("Answer A uses bullets.", None),
        ("Verdict: Answer", None),
        ("Verdict: a tie", "tie"),
        ("Verdict: it is a tie", None),
        ("verdict: an A", None),
    ],
)
def test_parse_verdict(reply: str, label: str | None) -> None:
    assert parse_verdict(reply) == label


def test_combine_rules() -> None:
    assert combine("A", "A") == ("A", True)
    assert combine("tie", "tie") == ("tie", True)
    assert combine("A", "B") == ("tie", False)  # position bias: each order prefers its first answer
    assert combine("A", "tie") == ("tie", False)
    assert combine("unparsable", "A") == ("unparsable", False)


def _answer_by_content(good: str):
    """A judge that prefers the answer containing `good`, wherever it stands."""

    def reply(messages):
        text = messages[1]["content"]
        a = text.split("[Answer A]")[1].split("[End of Answer A]")[0]
        return "Verdict: A" if good in a else "Verdict: B"

    return reply


def _judge(client, **kw) -> PairwiseJudge:
    return PairwiseJudge(client, **kw)


def _run(judge: PairwiseJudge, a: str = "good answer", b: str = "bad answer", key: str | None = "j1"):
    return asyncio.run(
        judge.judge(
            system_info="Answer in capitals.",
            user_info=None,
            instruction="Hi?",
            answer_a=a,
            answer_b=b,
            key=key,
        )
    )


def test_consistent_judge_wins_in_both_orders() -> None:
    client = FakeChatClient(reply=_answer_by_content("good"))
    verdict = _run(_judge(client))
    assert (verdict.winner, verdict.first, verdict.second, verdict.agree) == ("A", "A", "A", True)
    assert verdict.prompt_version == "judge.v1"
    verdict = _run(_judge(client), a="bad answer", b="good answer")
    assert verdict.winner == "B"
    # each order was asked once, with its own idempotency key
    assert sorted(key for _, key in client.calls) == ["j1:ab:1", "j1:ab:1", "j1:ba:1", "j1:ba:1"]


def test_position_biased_judge_gives_a_tie() -> None:
    verdict = _run(_judge(FakeChatClient(reply=lambda m: "Verdict: A")))
    assert (verdict.winner, verdict.first, verdict.second, verdict.agree) == ("tie", "A", "B", False)


def test_meta_prompt_reaches_the_judge_and_empty_tier_is_named() -> None:
    client = FakeChatClient(reply=lambda m: "Verdict: tie")
    verdict = _run(_judge(client))
    text = client.calls[0][0][1]["content"]
    assert "[System Info]\nAnswer in capitals." in text
    assert "[User Info]\n(none)" in text
    assert verdict.winner == "tie" and verdict.agree


def test_unparsable_is_retried_then_counted_never_raised() -> None:
    replies = iter(["hmm", "Verdict: A"] + ["no idea"] * 3)
    client = FakeChatClient(reply=lambda m: next(replies))
    verdict = asyncio.run(
        _judge(client, parse_retries=2).judge(
            system_info=None, user_info=None, instruction="q", answer_a="x", answer_b="y"
        )
    )
    assert verdict.winner == "unparsable"
    assert verdict.attempts == 5  # one order: 2 attempts; the other: 3, all unreadable
    retry = [m for m, _ in client.calls if len(m) == 4]
    assert retry and retry[0][2]["role"] == "assistant" and "exactly one line" in retry[0][3]["content"]


def test_unparsable_then_recovered() -> None:
    seen: dict[str, int] = {}

    def reply(messages):
        key = messages[1]["content"]
        seen[key] = seen.get(key, 0) + 1
        return "I think so" if seen[key] == 1 else "Verdict: tie"

    verdict = _run(_judge(FakeChatClient(reply=reply)))
    assert verdict.winner == "tie" and verdict.attempts == 4


def test_endpoint_errors_propagate() -> None:
    def fail(messages):
        raise EndpointError("down")

    with pytest.raises(EndpointError):
        _run(_judge(FakeChatClient(reply=fail)))


def test_judge_over_http_with_failures() -> None:
    with FakeOpenAIServer(reply=_answer_by_content("good"), fail_500=0.3, fail_429=0.2, seed=5) as server:
        client = OpenAIChatClient(base_url=server.base_url, model="m", backoff=0.001, max_retries=20)
        verdict = _run(_judge(client), a="bad answer", b="good answer")
        keys = set(server.keys())
    assert verdict.winner == "B" and verdict.agree
    assert keys == {"j1:ab:1", "j1:ba:1"}


def test_rewriter_fills_priority_note() -> None:
    client = FakeChatClient(reply=lambda m: "  REWRITTEN  ")
    rewriter = Rewriter(client)
    text = asyncio.run(
        rewriter.rewrite(
            system_info="Use capitals.",
            user_info="Use lowercase.",
            instruction="q",
            draft="d",
            priority="system",
        )
    )
    assert text == "REWRITTEN"
    prompt = client.calls[0][0][1]["content"]
    assert "follow System Info where they disagree" in prompt and "[Draft answer]\nd\n" in prompt
    assert rewriter.version == "rewrite.v1"


def test_prompt_file_errors_name_the_file(tmp_path) -> None:
    bad = tmp_path / "judge.v9.yaml"
    bad.write_text("version: judge.v9\nsystem: [unclosed\n")
    with pytest.raises(MetaAlignError, match=r"judge\.v9\.yaml:\d+: not valid YAML"):
        load_prompt(path=bad)
    bad.write_text("version: judge.v9\nsystem: ok\n")
    with pytest.raises(MetaAlignError, match="field 'user'"):
        load_prompt(path=bad)


def test_a_judge_prompt_needs_its_retry_text(tmp_path) -> None:
    bare = tmp_path / "judge.v9.yaml"
    bare.write_text("version: judge.v9\nsystem: judge\nuser: '{instruction}'\n")
    with pytest.raises(MetaAlignError, match="field 'retry'"):
        PairwiseJudge(FakeChatClient(), load_prompt(path=bare))


def test_braces_in_answers_are_kept() -> None:
    messages = load_prompt("judge").messages(
        system_info="{x}", user_info="u", instruction="{answer_a}", answer_a="{}", answer_b="b"
    )
    assert "[Instruction]\n{answer_a}" in messages[1]["content"]
