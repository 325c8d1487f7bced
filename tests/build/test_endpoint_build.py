"""The LLM paths of the build: rewrite and judge through a fake client or the fake HTTP server."""

from __future__ import annotations

from pathlib import Path

import pytest
from build_toy import toy_values

from metaalign.build import BuildIncomplete, load_config, run_build
from metaalign.build.store import BuildStore
from metaalign.endpoints import FakeChatClient, FakeOpenAIServer, OpenAIChatClient
from metaalign.records import read_records

ENDPOINT = {
    "response_path": "rewrite",
    "judge": True,
    "endpoint.base_url": "http://unused/v1",
    "endpoint.model": "m",
}


def smart_reply(messages) -> str:
    """A consistent fake LLM: rewrites say REWRITTEN; the judge prefers the answer that says it."""
    text = messages[1]["content"] if len(messages) > 1 else messages[-1]["content"]
    if "[Answer A]" in text:
        a = text.split("[Answer A]")[1].split("[End of Answer A]")[0]
        return "Verdict: A" if "REWRITTEN" in a else "Verdict: B"
    if "[Draft answer]" in text:
        return "REWRITTEN following the meta-prompt: " + text.split("[Draft answer]\n")[1].split("\n")[0]
    return "An endpoint candidate answer."


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.jsonl"))} | {
        "stats": (out / "stats.json").read_bytes()
    }


def test_rewrite_and_judge_paths_with_a_fake_client(tmp_path: Path) -> None:
    # a heavy `safety` weight so that the harmful probe surely gets its Priority meta-prompts
    config = load_config(None, values=toy_values(tmp_path / "out", **ENDPOINT, **{"mix.safety": 50.0}))
    client = FakeChatClient(reply=smart_reply)
    result = run_build(config, client=client)
    judge = result.stats["store"]["judge"]
    assert judge["judgments"] > 0 and judge["agreement"] == 1.0 and judge["unparsable"] == 0
    assert judge["winners"] == {"A": judge["judgments"]}  # the rewrite (A) wins in both orders
    dpo = read_records(tmp_path / "out" / "dpo_train.jsonl").records
    judged = [r for r in dpo if r.metadata.model_extra["rejected_kind"] == "judge"]
    assert judged and all(r.chosen.startswith("REWRITTEN") for r in judged)
    assert {r.metadata.model_extra["kind"] for r in judged} <= {"open", "safety"}
    probes = [
        r
        for r in dpo + read_records(tmp_path / "out" / "sft_train.jsonl").records
        if r.metadata.model_extra["instruction_category"] == "harmful_probe"
        and r.metadata.model_extra["kind"] == "safety"
    ]
    assert probes  # a deployer safety rule against a user's claim: System Info wins
    assert all(
        r.subset == "priority" and r.metadata.conflict and r.metadata.winner == "system" for r in probes
    )
    paths = result.stats["store"]["verifier"]["paths"]
    assert paths.get("rewrite+transform", 0) > 0  # rewrites missing a verifiable check get transformed
    keys = [key for _, key in client.calls]
    assert len(keys) == len(set(keys))  # every call has its own idempotency key


def test_unparsable_judge_replies_are_retried_then_counted(tmp_path: Path) -> None:
    def reply(messages) -> str:
        return "I cannot decide." if "[Answer A]" in messages[1]["content"] else smart_reply(messages)

    config = load_config(
        None, values=toy_values(tmp_path / "out", **ENDPOINT, **{"endpoint.judge_parse_retries": 1})
    )
    client = FakeChatClient(reply=reply)
    judge = run_build(config, client=client).stats["store"]["judge"]
    assert judge["judgments"] > 0 and judge["unparsable"] == judge["judgments"]
    judge_calls = [m for m, _ in client.calls if "[Answer A]" in m[1]["content"]]
    assert len(judge_calls) == judge["judgments"] * 2 * 2  # two orders, each asked twice
    dpo = read_records(tmp_path / "out" / "dpo_train.jsonl").records
    assert not [r for r in dpo if r.metadata.model_extra["rejected_kind"] == "judge"]


def test_chaos_server_every_item_completes_with_the_same_export(tmp_path: Path) -> None:
    values = {**ENDPOINT, "policy.backend": "endpoint", "endpoint.concurrency": 8}
    with FakeOpenAIServer(reply=smart_reply) as calm:
        clean = load_config(None, values=toy_values(tmp_path / "clean", **values))
        run_build(clean, client=OpenAIChatClient(base_url=calm.base_url, model="m", concurrency=8))
    with FakeOpenAIServer(
        reply=smart_reply, fail_500=0.1, fail_429=0.1, hang=0.05, hang_seconds=3, seed=7
    ) as chaos:
        config = load_config(None, values=toy_values(tmp_path / "chaos", **values))
        client = OpenAIChatClient(
            base_url=chaos.base_url, model="m", concurrency=8, timeout=0.5, backoff=0.01, max_retries=12
        )
        run_build(config, client=client)
        statuses = [r.status for r in chaos.log]
    assert {500, 429, 0} <= set(statuses)
    # every injected failure was retried (a slow answer on a busy machine may time out and add more)
    assert client.usage.failures == 0 and client.usage.retries >= sum(s != 200 for s in statuses)
    assert _files(tmp_path / "chaos") == _files(tmp_path / "clean")


def test_items_whose_retries_are_spent_stay_pending_and_resume(tmp_path: Path) -> None:
    config = load_config(None, values=toy_values(tmp_path / "out", **ENDPOINT))
    with FakeOpenAIServer(reply=smart_reply, fail_500=1.0) as down:
        client = OpenAIChatClient(base_url=down.base_url, model="m", backoff=0.001, max_retries=1)
        with pytest.raises(BuildIncomplete, match=r"item\(s\) still pending.*re-run the same command"):
            run_build(config, client=client)
    with BuildStore(tmp_path / "out" / "store.sqlite", config.fingerprint()) as store:
        pending = store.count("failures")
    assert pending > 0 and not (tmp_path / "out" / "sft_train.jsonl").exists()
    client = FakeChatClient(reply=smart_reply)
    run_build(config, client=client)
    with BuildStore(tmp_path / "out" / "store.sqlite", config.fingerprint()) as store:
        assert store.count("failures") == 0
    assert (tmp_path / "out" / "sft_train.jsonl").exists()


@pytest.mark.parametrize("tiers", ["messages", "metaalign"])
def test_endpoint_sampling_sends_the_default_tiers(tmp_path: Path, tiers: str) -> None:
    values = {"policy.backend": "endpoint", "endpoint.base_url": "http://unused/v1", "endpoint.model": "m"}
    config = load_config(
        None, values=toy_values(tmp_path / "out", instructions_test=0, **values, **{"endpoint.tiers": tiers})
    )
    with FakeOpenAIServer(reply=smart_reply) as server:
        run_build(config, client=OpenAIChatClient(base_url=server.base_url, model="m"))
        bodies = [r.body for r in server.log if r.key and r.key.startswith("candidates:")]
    assert len(bodies) == 13 * 2
    for body in bodies:
        if tiers == "metaalign":  # `metaalign serve` renders the tiers itself
            assert [m["role"] for m in body["messages"]] == ["user"]
            assert body["metaalign"] == {"system_info": "", "user_info": ""}
        else:
            assert [m["role"] for m in body["messages"]] == ["system", "user"] and "metaalign" not in body
            assert body["messages"][0]["content"].startswith("<System Info>")
