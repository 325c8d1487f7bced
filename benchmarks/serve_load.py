"""The server under load: N concurrent clients for a fixed time; errors, p50/p99 latency, throughput.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/serve_load.py [--clients 32] [--duration 60]
(add `--engine fake` to measure the HTTP layer alone).
Starts `metaalign serve` (the embedded model by default) in a subprocess, then drives it with
the openai SDK: each client loops over requests with its own User Info and its own answer
length (16 to 64 tokens, so rows end at different steps). The same load runs against the
server with static batching (a batch runs until its longest row ends: the baseline) and with
continuous batching (requests join at the next step, finished rows leave at once), both at
max_batch 16; `--one-at-a-time` adds max_batch 1. The throughput ratio is printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

KEY = "sk-load-test-user-0001"


def start_server(
    model: str, engine: str, max_batch: int, scheduling: str, folder: Path
) -> tuple[subprocess.Popen, str]:
    config = {
        "scheduling": scheduling,
        "system_info": "You are a helpful assistant of a bicycle shop. Keep answers short.",
        "keys": [{"key": KEY, "role": "user"}],
        "max_queue": 256,
        "max_batch": max_batch,
        "batch_wait_ms": 5,
    }
    path = folder / f"serve-{max_batch}-{scheduling}.yaml"
    path.write_text(yaml.safe_dump(config))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = Path(sys.executable).with_name("metaalign")
    cmd = [
        str(cli),
        "serve",
        "--model",
        model,
        "--config",
        str(path),
        "--port",
        str(port),
        "--engine",
        engine,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not start in 180 s")


async def client(sdk, index: int, until: float, latencies: list[float], errors: list[str]) -> None:
    k = 0
    while time.monotonic() < until:
        start = time.perf_counter()
        try:
            await sdk.chat.completions.create(
                model="metaalign",
                messages=[{"role": "user", "content": f"Question {k}: how do I keep my chain clean?"}],
                max_tokens=16 * (1 + index % 4),
                temperature=0,
                extra_body={"metaalign": {"user_info": f"I am rider number {index}."}},
            )
            latencies.append(time.perf_counter() - start)
        except Exception as err:  # every failure is counted and shown, never hidden
            errors.append(f"{type(err).__name__}: {err}")
        k += 1


async def drive(url: str, clients: int, duration: float) -> tuple[list[float], list[str]]:
    import openai

    sdk = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=600)
    latencies: list[float] = []
    errors: list[str] = []
    until = time.monotonic() + duration
    await asyncio.gather(*(client(sdk, i, until, latencies, errors) for i in range(clients)))
    return latencies, errors


def run(label: str, args: argparse.Namespace, max_batch: int, scheduling: str, folder: Path) -> float:
    proc, url = start_server(args.model, args.engine, max_batch, scheduling, folder)
    try:
        start = time.monotonic()
        latencies, errors = asyncio.run(drive(url, args.clients, args.duration))
        elapsed = time.monotonic() - start
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    rate = len(latencies) / elapsed
    print(
        f"{label}: {len(latencies)} requests in {elapsed:.0f} s ({rate:.2f} req/s), errors {len(errors)}, "
        f"p50 {cuts[49]:.2f} s, p99 {cuts[98]:.2f} s"
    )
    for error in errors[:5]:
        print("  error:", error)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--engine", choices=["model", "fake"], default="model")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per server")
    parser.add_argument("--one-at-a-time", action="store_true", help="also run max_batch 1")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    with tempfile.TemporaryDirectory() as folder:
        if args.one_at_a_time:
            single = run(
                f"one at a time (max_batch 1), {args.clients} clients", args, 1, "static", Path(folder)
            )
        static = run(
            f"static batching (max_batch 16), {args.clients} clients", args, 16, "static", Path(folder)
        )
        continuous = run(
            f"continuous batching (max_batch 16), {args.clients} clients",
            args,
            16,
            "continuous",
            Path(folder),
        )
    if args.one_at_a_time:
        print(f"throughput ratio, static batching vs one at a time: {static / single:.2f}x")
    print(f"throughput ratio, continuous vs static batching: {continuous / static:.2f}x")


if __name__ == "__main__":
    main()
