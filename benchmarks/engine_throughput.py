"""Engine throughput: our decode loop vs `transformers.generate` on the same prompts, same run.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/engine_throughput.py [--batches 1 8 32] [--new 64]
Counts generated tokens (end-of-turn excluded) per wall second, at each batch size, for a
deployer System Info shared by every request (the serving case), and prints the ratio last.
"""

from __future__ import annotations

import argparse
import time

import torch

ROOFLINE_TOKS = 130e9 / (2 * 135e6)  # DESIGN.md section 5: ~480 tok/s for SmolLM2-135M on this CPU
SYSTEM_INFO = (
    "You are the support assistant of a bicycle shop. Answer politely, stay on the topic of bicycles "
    "and cycling, never share customer data, and recommend visiting the shop for repairs."
)
QUERIES = [
    "How do I fix a flat tyre?",
    "What size frame do I need?",
    "Explain gears to a beginner.",
    "Is a helmet necessary?",
    "Write a short poem about cycling.",
    "How often should I oil the chain?",
    "What is the best bike for commuting?",
    "Give me three tips for riding in the rain.",
]


def requests(n: int, new: int, system_info: str = SYSTEM_INFO):
    from metaalign.engine import GenerationRequest

    return [
        GenerationRequest.for_query(
            system_info, f"I am customer {i}.", QUERIES[i % len(QUERIES)], max_new_tokens=new
        )
        for i in range(n)
    ]


def ours(engine, reqs) -> tuple[int, float]:
    start = time.perf_counter()
    out = engine.generate(reqs)
    return sum(c.completion_tokens for c in out), time.perf_counter() - start


@torch.inference_mode()
def baseline(engine, reqs) -> tuple[int, float]:
    """`model.generate` on the same rendered prompts, left-padded, greedy; useful tokens only."""
    start = time.perf_counter()
    prompts = [engine.renderer.prompt(r.system_info, r.user_info, r.dialogue).input_ids for r in reqs]
    width = max(map(len, prompts))
    ids = torch.tensor([[engine.pad_id] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    out = engine.model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=reqs[0].max_new_tokens,
        do_sample=False,
        pad_token_id=engine.pad_id,
    )
    tokens = 0
    for row in out[:, width:].tolist():
        cut = next((k for k, t in enumerate(row) if t in engine.end_ids), len(row))
        tokens += cut
    return tokens, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--new", type=int, default=64, help="max new tokens per request")
    parser.add_argument(
        "--system-tokens",
        type=int,
        default=0,
        help="a System Info of about this many tokens (0: a 2-line one)",
    )
    args = parser.parse_args()
    from engine_prefix import system_info

    from metaalign.engine.hf import TransformersEngine

    engine = TransformersEngine.from_pretrained(args.model, batch_size=max(args.batches))
    si = system_info(engine.tokenizer, args.system_tokens) if args.system_tokens else SYSTEM_INFO
    ids, cut = engine.prompt_ids(requests(1, 1, si)[0])
    print(f"prompts of ~{len(ids)} tokens; the shared System Info prefix is {cut} of them")
    engine.generate(requests(4, 4, si))  # warm-up (and the prefix is cached, as in a running server)
    ratios = {}
    for b in args.batches:
        reqs = requests(b, args.new, si)
        bt, bs = baseline(engine, reqs)
        ot, os_ = ours(engine, reqs)
        ratios[b] = (ot / os_) / (bt / bs)
        print(
            f"batch {b:>3}: transformers.generate {bt / bs:7.1f} tok/s ({bt} tok) | "
            f"engine {ot / os_:7.1f} tok/s ({ot} tok, {ot / os_ / ROOFLINE_TOKS:.1%} of the "
            f"~{ROOFLINE_TOKS:.0f} tok/s roofline) | ratio {ratios[b]:.2f}x"
        )
    print("speed-up vs transformers.generate: " + ", ".join(f"batch {b} {r:.2f}x" for b, r in ratios.items()))


if __name__ == "__main__":
    main()
