"""The quality gate of the engine's weight precisions: each --dtype on the same verifiable slice.

Every dtype answers the same first --limit cases of the built-in suite, greedy, through the
transformers engine (the eval's own path). Prints adherence and conflict accuracy with their 95%
intervals, whether each lies inside fp32's interval (issue 13's gate), how many greedy texts
equal fp32's, and the speed ratio against fp32 LAST. Reruns with the same --out resume.

    .venv/bin/python benchmarks/dtype_quality.py --model runs/quickstart/model --limit 200
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HEADLINE = ("adherence", "conflict")


def generations(out: Path, name: str) -> dict[str, str]:
    """case id -> text of one dtype's finished run."""
    rows = (json.loads(line) for line in (out / "generations" / f"{name}.jsonl").open(encoding="utf-8"))
    return {r["case_id"]: r["text"] for r in rows if "case_id" in r}


def run_dtype(args: argparse.Namespace, dtype: str) -> tuple[dict, dict[str, str], float]:
    """(metrics, texts, cases per second) of one dtype."""
    from metaalign.eval.verifiable import run_verifiable, transformers_engine

    out = args.out / dtype
    engine = transformers_engine(args.model, batch_size=args.batch_size, dtype=dtype, threads=args.threads)
    start = time.perf_counter()
    report = run_verifiable(
        engine, out_dir=out, limit=args.limit, name=dtype, max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size, quiet=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    texts = generations(out, dtype)
    return report.system(dtype).metrics, texts, len(texts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--dtypes", nargs="+", default=["bf16", "int8"], choices=["bf16", "int8"])
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/dtype-quality"))
    args = parser.parse_args()
    base, base_texts, base_speed = run_dtype(args, "fp32")
    for m in HEADLINE:
        print(f"fp32: {m} {base[m].value:.3f} [{base[m].low:.3f}, {base[m].high:.3f}] (the gate)")
    ratios = []
    for dtype in args.dtypes:
        metrics, texts, speed = run_dtype(args, dtype)
        same = sum(texts[k] == base_texts.get(k) for k in texts)
        for m in HEADLINE:
            inside = base[m].low <= metrics[m].value <= base[m].high
            print(
                f"{dtype}: {m} {metrics[m].value:.3f} [{metrics[m].low:.3f}, {metrics[m].high:.3f}] "
                f"{'inside' if inside else 'OUTSIDE'} fp32's interval"
            )
        print(f"{dtype}: greedy texts equal to fp32: {same}/{len(texts)}")
        ratios.append(f"{dtype} {speed / base_speed:.2f}x")
    print(f"cases/s vs fp32 (shared-machine timings are noisy): {', '.join(ratios)}")


if __name__ == "__main__":
    main()
