"""Verifiable-suite generation speed: the batched engine vs a one-at-a-time transformers.generate loop.

Both run the same suite cases (the first --sample of the built-in suite), greedy, the same
max_new_tokens, on the same loaded model. Prints cases/s for each, the projected time of the
full suite, how often the two answers are identical, and the speed ratio LAST.

    .venv/bin/python benchmarks/eval_speed.py --sample 16 --batch-size 16 --max-new-tokens 128
"""

from __future__ import annotations

import argparse
import time

import torch


def one_at_a_time(model, tokenizer, renderer, cases, max_new_tokens: int) -> list[str]:
    """The baseline: render each case and call model.generate on it alone (batch 1)."""
    texts = []
    for case in cases:
        ids = renderer.prompt(
            case.system_info, case.user_info, [{"role": "user", "content": case.instruction}]
        )
        input_ids = torch.tensor([ids.input_ids])
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        texts.append(tokenizer.decode(out[0, input_ids.shape[1] :], skip_special_tokens=True))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--sample", type=int, default=32, help="suite cases timed by both paths")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="1 holds up best on a shared CPU")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from metaalign.eval.suite import load_suite
    from metaalign.eval.verifiable import case_request, transformers_engine

    suite = load_suite()
    cases = list(suite.cases[: args.sample])
    engine = transformers_engine(args.model, args.batch_size)  # what `metaalign eval verifiable` uses
    print(
        f"model {args.model}, {len(cases)} cases, max_new_tokens {args.max_new_tokens}, "
        f"batch {args.batch_size}, torch threads {torch.get_num_threads()}"
    )

    started = time.perf_counter()
    loop_texts = one_at_a_time(engine.model, engine.tokenizer, engine.renderer, cases, args.max_new_tokens)
    loop_s = time.perf_counter() - started
    print(f"one-at-a-time generate: {len(cases) / loop_s:.3f} cases/s ({loop_s:.1f} s)")

    requests = [case_request(c, max_new_tokens=args.max_new_tokens) for c in cases]
    started = time.perf_counter()
    completions = engine.generate(requests)
    batched_s = time.perf_counter() - started
    tokens = sum(c.completion_tokens for c in completions)
    rate = tokens / batched_s
    print(f"batched engine:        {len(cases) / batched_s:.3f} cases/s ({batched_s:.1f}s, {rate:.1f} tok/s)")
    same = sum(a.strip() == b.text.strip() for a, b in zip(loop_texts, completions, strict=True))
    print(f"identical answers: {same}/{len(cases)}")
    per_case = len(suite) / len(cases) / 60
    print(
        f"projected full suite ({len(suite)} cases): batched {batched_s * per_case:.1f} min, "
        f"one-at-a-time {loop_s * per_case:.1f} min"
    )
    print(f"speed ratio (batched / one-at-a-time cases/s): {loop_s / batched_s:.2f}x")


if __name__ == "__main__":
    main()
