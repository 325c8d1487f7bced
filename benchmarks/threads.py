"""Torch threads per stage: 1 thread against 2 on the quickstart's kinds of work, in one run.

Stages: an SFT step (forward + backward + AdamW on a batch of 8 rendered rows of ~200 tokens, full
fine-tuning and LoRA r32), batched sampling (the engine, 32 prompts, 32 new tokens) and greedy
eval decoding (the engine, 32 suite cases, 32 new tokens). Each stage runs at 1 thread then at 2,
alternating over `--repeats`, and the median is kept. The quickstart is one process, so the
stage that is faster at 2 threads should use 2. Ratios (1-thread time / 2-thread time) print last.

    .venv/bin/python benchmarks/threads.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch


def sft_step(use_lora: bool) -> Callable[[], None]:
    from metaalign.models import load_model, load_tokenizer

    tokenizer = load_tokenizer("smollm2-135m")
    model = load_model("smollm2-135m")
    if use_lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=32, lora_alpha=64, target_modules="all-linear"))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    text = "Explain how bees make honey, step by step, for a curious child. " * 14
    ids = tokenizer([text] * 8, return_tensors="pt", truncation=True, max_length=200)["input_ids"]

    def step() -> None:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return step


def decode(greedy: bool) -> Callable[[], None]:
    from metaalign.engine import GenerationRequest
    from metaalign.engine.hf import TransformersEngine
    from metaalign.eval.suite import load_suite

    engine = TransformersEngine.from_pretrained("smollm2-135m", batch_size=32, prefix_cache_size=0)
    cases = load_suite().cases[:32]
    requests = [
        GenerationRequest.for_query(
            c.system_info, c.user_info, c.instruction, max_new_tokens=32,
            temperature=0.0 if greedy else 0.9, top_p=1.0 if greedy else 0.95, seed=i,
        )
        for i, c in enumerate(cases)
    ]  # fmt: skip
    return lambda: engine.generate(requests)


def timed(fn: Callable[[], object], threads: int) -> float:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    stages = {
        "sft step, full fine-tuning": lambda: sft_step(False),
        "sft step, LoRA r32": lambda: sft_step(True),
        "sampling, 32 x 32 tokens": lambda: decode(False),
        "greedy eval, 32 x 32 tokens": lambda: decode(True),
    }
    ratios = {}
    for name, make in stages.items():
        fn = make()
        timed(fn, 2)  # warm-up
        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.repeats):
            for threads in (1, 2):
                times[threads].append(timed(fn, threads))
        one, two = statistics.median(times[1]), statistics.median(times[2])
        ratios[name] = one / two
        print(f"{name}: 1 thread {one:.2f} s, 2 threads {two:.2f} s")
    print("ratio 1-thread/2-thread: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
