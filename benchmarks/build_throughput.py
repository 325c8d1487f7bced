"""Annotation throughput and resume of `metaalign build` against a fake OpenAI-compatible server.

Part 1 (throughput): the build's own runner and pairwise judge make 2,000 judge calls (1,000
verdicts, both orders) at concurrency 32 against a fake server on 127.0.0.1 that takes 50 ms
per call (in its own process, as an endpoint would be); each verdict is committed to a build
store as it completes. Baseline: the ideal
time 2000 x 0.05 / 32 s. Part 2 (resume): a real `metaalign build` (fake policy, LLM rewrite
and judge through the endpoint) is SIGKILLed once 150 replies are committed, then re-run; the
server's request log shows how many calls that had completed (committed) were issued again.
Prints the throughput ratio elapsed / ideal LAST (target <= 1.3).

    .venv/bin/python benchmarks/build_throughput.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaalign.build.build_config import BuildConfig
from metaalign.build.runner import run_calls
from metaalign.build.store import BuildStore
from metaalign.endpoints import FakeOpenAIServer, OpenAIChatClient
from metaalign.judge import PairwiseJudge

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Pair:
    id: str


def judge_reply(messages) -> str:
    return "Answer A follows the System Info.\nVerdict: A"


def _serve(conn: Any, latency: float) -> None:
    """The fake server in its own process (as a real endpoint would be): port out, call count at the end."""
    with FakeOpenAIServer(reply=judge_reply, latency=latency) as server:
        conn.send(server.port)
        conn.recv()
        conn.send((server.calls, time.process_time()))


def throughput(calls: int, concurrency: int, latency: float, workdir: Path) -> tuple[float, float]:
    """Seconds for `calls` judge calls through the build's runner, and the ideal seconds."""
    config = BuildConfig(progress=False)
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(theirs, latency), daemon=True)
    server.start()
    port = ours.recv()
    client = OpenAIChatClient(base_url=f"http://127.0.0.1:{port}/v1", model="judge", concurrency=concurrency)
    judge = PairwiseJudge(client)
    pairs = [Pair(f"pair-{i:05d}") for i in range(calls // 2)]

    async def call(pair: Pair) -> dict:
        verdict = await judge.judge(
            system_info="Answer in capitals.",
            user_info="I like detail.",
            instruction=f"question {pair.id}",
            answer_a="A FULL ANSWER.",
            answer_b="a full answer.",
            key=pair.id,
        )
        return {"id": pair.id, "assignment_id": pair.id, "k": 0, "winner": verdict.winner,
                "first": verdict.first, "second": verdict.second, "agree": verdict.agree,
                "attempts": verdict.attempts, "prompt_version": verdict.prompt_version,
                "replies": list(verdict.replies)}  # fmt: skip

    with BuildStore(workdir / "throughput.sqlite", "bench") as store:
        start, cpu = time.perf_counter(), time.process_time()
        failed = run_calls(config, store, "judgments", pairs, call, client=client)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert failed == 0 and store.count("judgments") == len(pairs)
    ours.send("stop")
    received, server_cpu = ours.recv()
    server.join()
    assert received == calls, received
    print(f"throughput: client process CPU {cpu:.2f} s ({cpu / calls * 1000:.2f} ms per call)")
    print(f"throughput: server process CPU {server_cpu:.2f} s, including its start-up")
    return elapsed, calls * latency / concurrency


def _recipe(workdir: Path, base_url: str) -> Path:
    recipe = workdir / "resume.yaml"
    recipe.write_text(
        f"output_dir: {workdir / 'resume'}\ninstructions_train: 60\ninstructions_test: 0\n"
        "candidates: 2\nmeta_prompts: 4\nresponse_path: rewrite\njudge: true\nprogress: false\n"
        "policy: {backend: fake}\n"
        f"endpoint: {{base_url: '{base_url}', model: fake, api_key_env: null, concurrency: 4}}\n"
    )
    return recipe


def _committed(store_path: Path) -> set[str]:
    """Idempotency keys of the calls whose replies the store holds (0 rows if it is not there yet)."""
    if not store_path.exists():
        return set()
    try:
        db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=0.1)
        try:
            return {key for (key,) in db.execute("SELECT id FROM calls")}
        finally:
            db.close()
    except sqlite3.Error:
        return set()


def resume_check(workdir: Path, kill_at: int) -> dict:
    """SIGKILL a build once `kill_at` replies are committed, resume it; count completed calls re-sent."""

    def reply(messages) -> str:
        return "Verdict: A" if "[Answer A]" in messages[-1]["content"] else "A rewritten answer."

    with FakeOpenAIServer(reply=reply, latency=0.02) as server:
        recipe = _recipe(workdir, server.base_url)
        store = workdir / "resume" / "store.sqlite"
        command = [sys.executable, "-m", "metaalign.cli.main", "build", "--config", str(recipe)]
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while first.poll() is None and len(_committed(store)) < kill_at:
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        killed = first.wait() == -signal.SIGKILL
        committed = _committed(store)
        before = len(server.log)
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        second = [r.key for r in server.log[before:]]
        total = len(_committed(store))
    return {
        "killed_mid_run": killed,
        "calls_before_kill": before,
        "committed_before_kill": len(committed),
        "lost_in_flight": before - len(committed),
        "calls_after_resume": len(second),
        "committed_total": total,
        "reissued_completed": sum(1 for key in second if key in committed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--kill-at", type=int, default=150, help="committed replies before the SIGKILL")
    parser.add_argument("--skip-resume", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.skip_resume:
            result = resume_check(workdir, args.kill_at)
            print(f"resume: {json.dumps(result)}")
            print(
                f"resume: completed calls re-issued after the kill: {result['reissued_completed']} (target 0)"
            )
        elapsed, ideal = throughput(args.calls, args.concurrency, args.latency, workdir)
    ms = args.latency * 1000
    print(f"throughput: {args.calls} judge calls, concurrency {args.concurrency}, {ms:.0f} ms each")
    print(f"throughput: elapsed {elapsed:.2f} s, ideal {ideal:.2f} s, {args.calls / elapsed:.0f} calls/s")
    print(f"throughput: load average while measuring {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"elapsed / ideal: {elapsed / ideal:.3f}")


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
