"""`metaalign generate`: one answer from a model for the given System Info, User Info and query.

Owns the command only; generation is the engine's (metaalign.engine.hf) and rendering the
renderer's. Greedy by default, so the same command prints the same answer.
"""

from __future__ import annotations

import argparse

from metaalign.cli.render import add_tier_args, dialogue_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate one answer under a meta-prompt",
        description="Generate one answer for System Info, User Info and a dialogue.",
    )
    add_tier_args(p)
    p.add_argument("--max-new-tokens", type=bounded(int, 1), default=128, help="at most this many tokens")
    p.add_argument("--temperature", type=bounded(float, 0.0), default=0.0, help="0 means greedy (default)")
    p.add_argument("--top-p", type=bounded(float, 0.0, 1.0), default=1.0, help="nucleus sampling, in (0, 1]")
    p.add_argument("--seed", type=int, default=None, help="seed for sampling")
    p.add_argument(
        "--threads", type=bounded(int, 1), default=None, help="torch CPU threads (default: torch's)"
    )
    p.set_defaults(func=run)


def bounded(kind: type, low: float, high: float | None = None):
    """An argparse type: `kind`, at least `low` (above it, for top-p) and at most `high`."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        too_low = value <= low if high is not None else value < low
        if too_low or (high is not None and value > high):
            span = f"in ({low}, {high}]" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"expected a value {span}, got {text}")
        return value

    return parse


def run(args: argparse.Namespace) -> int:
    from metaalign.engine import GenerationRequest
    from metaalign.engine.load import load_engine

    engine = load_engine(args.model, batch_size=1, threads=args.threads)
    request = GenerationRequest(
        args.system_info,
        args.user_info,
        tuple(dialogue_from_args(args)),
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
    )
    (completion,) = engine.generate([request])
    print(completion.text)
    return 0
