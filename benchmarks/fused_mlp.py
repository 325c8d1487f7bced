"""Fused gate/up MLP projections (metaalign.engine.fusion) against the unfused engine; same prompts, same run.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/fused_mlp.py [--dtypes fp32 bf16] [--batches 1 32]
     [--new 128] [--repeats 2]
Builds our engine twice per dtype (`fuse=False` and the default `fuse=True`), alternates the two
`--repeats` times at each batch size on engine_throughput.py's prompts, and keeps each one's best
tok/s (the machine is shared, so the best of a few runs is the least disturbed). Quality gate:
how many fused greedy texts equal the unfused ones. The fused/unfused ratio per dtype is last.
"""

from __future__ import annotations

import argparse

import torch
from engine_throughput import ours, requests


def main() -> None:
    from metaalign.engine.hf import TransformersEngine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--new", type=int, default=128, help="max new tokens per request")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    ratios: dict[str, list[str]] = {}
    for dtype in args.dtypes:
        engines = {
            fused: TransformersEngine.from_pretrained(
                args.model, dtype=dtype, fuse=fused, batch_size=max(args.batches)
            )
            for fused in (False, True)
        }
        for engine in engines.values():
            ours(engine, requests(4, 4))  # warm-up; caches the shared System Info prefix
        for b in args.batches:
            best, texts = {False: 0.0, True: 0.0}, {}
            for _ in range(args.repeats):
                for fused, engine in engines.items():
                    tokens, seconds, texts[fused] = ours(engine, requests(b, args.new))
                    best[fused] = max(best[fused], tokens / seconds)
            same = sum(a == c for a, c in zip(texts[True], texts[False], strict=True))
            print(
                f"{dtype} batch {b:>3} | unfused {best[False]:7.1f} tok/s | fused {best[True]:7.1f} tok/s | "
                f"greedy texts equal: {same}/{b}",
                flush=True,
            )
            ratios.setdefault(dtype, []).append(f"batch {b} {best[True] / best[False]:.2f}x")
    print("fused vs unfused: " + "; ".join(f"{d} {', '.join(r)}" for d, r in ratios.items()))


if __name__ == "__main__":
    main()
