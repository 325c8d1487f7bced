"""The server's tokenizing per request, on the embedded model's tokenizer: before and after issue 15.

Baseline: what a request cost before, done here with the same renderer: `prompt_tokens` (template
and encode) for the context check, then the engine's `prompt_ids` (template, encode, and encode again
with offsets). Ours: `TransformersEngine.prompt_ids` as the server now calls it once (template once,
one encoding with offsets). Same prompts, same process; the ratio is printed last.

    .venv/bin/python benchmarks/serve_tokenize.py [--requests 200] [--system-tokens 300]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--system-tokens", type=int, default=300, help="about this many System Info words")
    args = parser.parse_args()

    from metaalign.engine import GenerationRequest
    from metaalign.engine.prefix import prefix_length
    from metaalign.models import load_tokenizer
    from metaalign.render import Renderer

    tokenizer = load_tokenizer("smollm2-135m")
    renderer = Renderer(tokenizer)
    system = " ".join(["Answer politely and cite the library's rules."] * max(1, args.system_tokens // 8))
    requests = [
        GenerationRequest.for_query(system, f"I am reader {i}.", f"Where is shelf {i}?")
        for i in range(args.requests)
    ]
    boundary = f"<{renderer.layout.user_tag}>"

    def before(r: GenerationRequest) -> int:
        counted = len(renderer.prompt(r.system_info, r.user_info, r.dialogue).input_ids)
        rendered = renderer.prompt(r.system_info, r.user_info, r.dialogue)
        encoded = tokenizer(rendered.text, add_special_tokens=False, return_offsets_mapping=True)
        return counted + prefix_length(rendered.text, encoded["offset_mapping"], boundary)

    def after(r: GenerationRequest) -> int:
        rendered = renderer.prompt(r.system_info, r.user_info, r.dialogue, offsets=True)
        return len(rendered.input_ids) + prefix_length(rendered.text, rendered.offsets, boundary)

    for r in requests[:5]:  # warm both paths
        assert before(r) == after(r)
    timings = {}
    paths = [("before (2 templates, 3 encodings)", before), ("after (1 template, 1 encoding)", after)]
    for name, fn in paths:
        start = time.perf_counter()
        for r in requests:
            fn(r)
        timings[name] = (time.perf_counter() - start) / len(requests) * 1000
        print(f"{name}: {timings[name]:.2f} ms per request")
    tokens = len(renderer.prompt(system, "I am reader 0.", requests[0].dialogue).input_ids)
    print(f"{args.requests} requests, {tokens} prompt tokens each")
    slow, fast = timings.values()
    print(f"ratio: {slow / fast:.2f}x less tokenizing time per request")


if __name__ == "__main__":
    main()
