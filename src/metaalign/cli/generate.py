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
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.0, help="0 means greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from metaalign.engine import GenerationRequest
    from metaalign.engine.hf import TransformersEngine

    if args.threads:
        torch.set_num_threads(args.threads)
    engine = TransformersEngine.from_pretrained(args.model, batch_size=1)
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
