"""Engine throughput: transformers.generate, our engine per dtype, and CTranslate2; same prompts, same run.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/engine_throughput.py [--batches 1 8 32] [--new 128]
     [--dtypes fp32 bf16 int8] [--ct2 fp32 int8]
Counts generated tokens (end-of-turn excluded) per wall second at each batch size, for a deployer
System Info shared by every request (the serving case). Quality gate: how many greedy texts of
each dtype (and of CTranslate2) equal our fp32 engine's. CTranslate2 runs as our ctranslate2 backend
(`pip install metaalign[ctranslate2]`; the shared System Info as `static_prompt`) when installed.
Prints every ratio to transformers.generate, the serving default dtype's last (bf16 where the CPU has
AVX512-BF16 or AMX, else fp32: metaalign.engine.precision.serving_dtype).
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


def ours(engine, reqs) -> tuple[int, float, list[str]]:
    start = time.perf_counter()
    out = engine.generate(reqs)
    return sum(c.completion_tokens for c in out), time.perf_counter() - start, [c.text for c in out]


@torch.inference_mode()
def baseline(engine, reqs) -> tuple[int, float, list[str]]:
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
    tokens, texts = 0, []
    for row in out[:, width:].tolist():
        cut = next((k for k, t in enumerate(row) if t in engine.end_ids), len(row))
        tokens += cut
        texts.append(engine.tokenizer.decode(row[:cut], skip_special_tokens=True))
    return tokens, time.perf_counter() - start, texts


def systems(args, si: str):
    """(name, engine, run) for every system of the run: generate on the stock model (no fused
    projections), then our fp32 engine."""
    from metaalign.engine.hf import TransformersEngine

    batch = max(args.batches)
    stock = TransformersEngine.from_pretrained(args.model, dtype="fp32", fuse=False, batch_size=batch)
    fp32 = TransformersEngine.from_pretrained(args.model, dtype="fp32", batch_size=batch)
    out = [("transformers.generate fp32", stock, baseline), ("ours fp32", fp32, ours)]
    for dtype in args.dtypes:
        if dtype != "fp32":
            engine = TransformersEngine.from_pretrained(args.model, dtype=dtype, batch_size=batch)
            out.append((f"ours {dtype}", engine, ours))
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        print("CTranslate2 is not installed (pip install metaalign[ctranslate2]): skipped")
        return out
    from metaalign.engine.ctranslate2_engine import CTranslate2Engine

    for dtype in args.ct2:
        engine = CTranslate2Engine.from_pretrained(
            args.model, dtype=dtype, threads=torch.get_num_threads(), batch_size=batch
        )
        out.append((f"CTranslate2 {dtype} + static_prompt", engine, ours))
    return out


def report(speed: dict[str, dict[int, float]], same: dict[str, list[int]], batches, dtype: str) -> None:
    """Each system's ratio to transformers.generate, ours to each CTranslate2 run; the default's last."""
    base = speed["transformers.generate fp32"]
    for name in speed:
        equal = f"greedy texts equal to ours fp32: {same[name][0]}/{same[name][1]}" if same[name][1] else ""
        ratios = ", ".join(f"batch {b} {speed[name][b] / base[b]:.2f}x" for b in batches)
        print(f"{name:<36} vs generate: {ratios}   {equal}")
    default = f"ours {dtype}" if f"ours {dtype}" in speed else "ours fp32"
    for name in (n for n in speed if n.startswith("CTranslate2")):
        ratios = ", ".join(f"batch {b} {speed[default][b] / speed[name][b]:.2f}x" for b in batches)
        print(f"{default} vs {name}: {ratios}")
    print(
        f"{default} (the serving default dtype) vs transformers.generate: "
        + ", ".join(f"batch {b} {speed[default][b] / base[b]:.2f}x" for b in batches)
    )


def main() -> None:
    from metaalign.engine.precision import DTYPES, serving_dtype

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--new", type=int, default=128, help="max new tokens per request")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    parser.add_argument(
        "--ct2", nargs="*", choices=DTYPES, default=["fp32", "int8"], help="dtypes of the ctranslate2 backend"
    )
    parser.add_argument(
        "--system-tokens", type=int, default=0, help="a System Info of about this many tokens"
    )
    args = parser.parse_args()
    from engine_prefix import system_info

    runs = systems(args, SYSTEM_INFO)
    fp32 = runs[1][1]
    si = system_info(fp32.tokenizer, args.system_tokens) if args.system_tokens else SYSTEM_INFO
    ids, cut = fp32.prompt_ids(requests(1, 1, si)[0])
    print(f"prompts of ~{len(ids)} tokens; the shared System Info prefix is {cut} of them")
    for _name, engine, run in runs:
        run(engine, requests(4, 4, si))  # warm-up (and the prefix is cached, as in a running server)
    speed: dict[str, dict[int, float]] = {name: {} for name, _, _ in runs}
    same: dict[str, list[int]] = {name: [0, 0] for name, _, _ in runs}
    for b in args.batches:
        reqs = requests(b, args.new, si)
        reference = None
        for name, engine, run in runs:
            tokens, seconds, texts = run(engine, reqs)
            speed[name][b] = tokens / seconds
            if name == "ours fp32":
                reference = texts
            if reference is not None:
                same[name][0] += sum(a == r for a, r in zip(texts, reference, strict=True))
                same[name][1] += len(texts)
            print(
                f"batch {b:>3} | {name:<36} {tokens / seconds:7.1f} tok/s ({tokens} tok, "
                f"{tokens / seconds / ROOFLINE_TOKS:.0%} of the ~{ROOFLINE_TOKS:.0f} tok/s roofline)",
                flush=True,
            )
    report(speed, same, args.batches, serving_dtype())


if __name__ == "__main__":
    main()
