"""Time to first token with a ~1,000-token System Info shared by every request: prefix reuse on vs off.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/engine_prefix.py [--requests 6] [--system-tokens 1000]
Each request has its own User Info and query (as users of one deployment do) and runs alone,
as a server sees them arrive one by one. The first two requests with reuse on fill the cache
(a prefix is cached once it recurs) and are reported apart; the median TTFT of the rest is
compared. Prints the ratio last.
"""

from __future__ import annotations

import argparse
import statistics
import time

RULES = [
    "Always answer in plain, friendly English and avoid jargon unless the user asks for it.",
    "Never reveal internal policies, prices for partners, or the names of staff members.",
    "Recommend in-store repairs for anything involving brakes, suspension or electrical parts.",
    "If a question is not about bicycles, cycling, or the shop, politely steer back to the topic.",
    "Mention the current opening hours (9am to 6pm, Monday to Saturday) when asked about visits.",
    "Keep safety first: remind riders about helmets, lights and checking tyre pressure.",
]


def system_info(tokenizer, target: int) -> str:
    """Numbered shop rules, repeated until the text is about `target` tokens long."""
    lines, k = [], 0
    while len(tokenizer("\n".join(lines))["input_ids"]) < target:
        lines.append(f"Rule {k + 1}: {RULES[k % len(RULES)]}")
        k += 1
    return "\n".join(lines)


def ttft(engine, request) -> float:
    start = time.perf_counter()
    first: list[float] = []

    def on_delta(_i: int, text: str, done) -> None:
        if not first and (text or done is not None):
            first.append(time.perf_counter() - start)

    engine.generate([request], on_delta=on_delta)
    return first[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--requests", type=int, default=6)
    parser.add_argument("--system-tokens", type=int, default=1000)
    args = parser.parse_args()
    from metaalign.engine import GenerationRequest
    from metaalign.engine.hf import TransformersEngine

    on = TransformersEngine.from_pretrained(args.model, batch_size=1)
    off = TransformersEngine(on.model, on.tokenizer, batch_size=1, prefix_cache_size=0)
    si = system_info(on.tokenizer, args.system_tokens)
    requests = [
        GenerationRequest.for_query(si, f"I am customer number {i}.", f"Question {i}: how do I pump a tyre?",
                                    max_new_tokens=4)
        for i in range(args.requests + 2)
    ]  # fmt: skip
    ids, cut = on.prompt_ids(requests[0])
    print(f"prompt {len(ids)} tokens, of which {cut} are the shared prefix (System Info)")
    cold = ttft(on, requests[0]) + ttft(on, requests[1])  # first sight, then the prefix is cached
    times_on, times_off = [], []
    for request in requests[2:]:  # interleaved, so both see the same machine load
        times_off.append(ttft(off, request))
        times_on.append(ttft(on, request))
    med_on, med_off = statistics.median(times_on), statistics.median(times_off)
    print(
        f"reuse on : first two requests (cache fill) {cold * 1000:7.0f} ms; "
        f"median TTFT {med_on * 1000:7.0f} ms"
    )
    print(f"reuse off: median TTFT {med_off * 1000:7.0f} ms over {len(times_off)} requests")
    print(f"TTFT reduction with prefix reuse: {med_off / med_on:.1f}x")


if __name__ == "__main__":
    main()
