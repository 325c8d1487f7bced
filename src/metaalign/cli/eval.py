"""`metaalign eval verifiable|judge|pairs|compare`: measure preference alignment and join reports.

Owns the commands' flags only; the work is metaalign.eval's. Heavy imports (torch, matplotlib,
numpy, httpx) happen inside the command functions so `metaalign --help` stays light.
"""

from __future__ import annotations

import argparse
import sys

from metaalign.cli.generate import bounded

DEFAULT_BASE = "smollm2-135m"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="measure preference alignment: verifiable suite, LLM judge, pair accuracy, compare",
        description="Measure how well a model follows System Info / User Info preferences.",
    )
    cmds = p.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND", required=True)
    _verifiable(cmds)
    _judge(cmds)
    _pairs(cmds)
    c = cmds.add_parser("compare", help="join saved eval runs into one table and one plot")
    c.add_argument("runs", nargs="+", metavar="RUN", help="run folders (each holding report.json)")
    c.add_argument("--out", required=True, help="folder for report.json, report.md and report.png")
    c.set_defaults(func=run_compare)


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model reference (alias, folder, .gguf file or hub id)")
    p.add_argument("--out", required=True, help="output folder (rerunning with it resumes)")
    p.add_argument("--limit", type=bounded(int, 1), default=None, help="only the first N cases / prompts")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap confidence intervals")
    p.add_argument("--threads", type=bounded(int, 1), default=None, help="torch CPU threads")


def _generation_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--base-model", default=DEFAULT_BASE, help=f"what `base` baselines mean (default {DEFAULT_BASE})"
    )
    p.add_argument("--max-new-tokens", type=bounded(int, 1), default=128, help="answer length cap (greedy)")
    p.add_argument("--batch-size", type=bounded(int, 1), default=16, help="generation batch size")
    p.add_argument(
        "--dtype",
        choices=["fp32", "bf16", "int8"],
        default=None,
        help="weight precision of the transformers engine (default: the engine's, see docs/serve.md)",
    )


def _verifiable(cmds: argparse._SubParsersAction) -> None:
    p = cmds.add_parser(
        "verifiable",
        help="judge-free suite: adherence per type and placement, conflicts, leakage (95%% CIs)",
        description="Run a verifiable suite (default: the built-in verifiable.v2) on a model and baselines.",
    )
    _model_args(p)
    _generation_args(p)
    p.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="B",
        help="also evaluate B: `base` (base model with the meta-prompt), `base-no-meta` (base model, "
        "preferences dropped from the prompt) or any model reference; repeatable",
    )
    p.add_argument("--suite", default=None, help="suite JSONL file (default: the built-in verifiable.v2)")
    p.add_argument(
        "--no-meta-prompt", action="store_true", help="drop the preferences from --model's prompts"
    )
    p.add_argument("--name", default=None, help="display name of --model in the report")
    p.set_defaults(func=run_verifiable_cmd)


def _judge(cmds: argparse._SubParsersAction) -> None:
    p = cmds.add_parser(
        "judge",
        help="pairwise LLM-judge win rate against a baseline (position swap, ties)",
        description="Win rate of --model against --baseline under test-split meta-prompts, judged by any "
        "OpenAI-compatible endpoint.",
    )
    _model_args(p)
    _generation_args(p)
    p.add_argument("--baseline", required=True, help="`base`, `base-no-meta` or a model reference")
    p.add_argument(
        "--test-split", required=True, help="records file (SFT or preference) with the test prompts"
    )
    p.add_argument("--judge-url", required=True, help="base URL of the judge endpoint (ending in /v1)")
    p.add_argument("--judge-model", required=True, help="model name the judge endpoint serves")
    p.add_argument("--judge-api-key-env", default="OPENAI_API_KEY", help="environment variable with the key")
    p.add_argument("--concurrency", type=bounded(int, 1), default=8, help="judge requests in flight")
    p.set_defaults(func=run_judge_cmd)


def _pairs(cmds: argparse._SubParsersAction) -> None:
    p = cmds.add_parser(
        "pairs",
        help="accuracy on held-out chosen/rejected pairs by the DPO implicit reward",
        description="Share of pairs where log pi(chosen) - log pi_ref(chosen) > the same for rejected.",
    )
    _model_args(p)
    p.add_argument("--reference", default=DEFAULT_BASE, help=f"reference model (default {DEFAULT_BASE})")
    p.add_argument("--data", required=True, help="preference records file (jsonl, json, parquet, datasets)")
    p.add_argument("--batch-size", type=bounded(int, 1), default=4, help="sequences per forward pass")
    p.set_defaults(func=run_pairs_cmd)


def _threads(args: argparse.Namespace) -> None:
    """torch's CPU threads for `eval pairs`, which scores with a model and builds no engine."""
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def _engine_factory(args: argparse.Namespace):
    """Model reference -> engine, with the command's batch size, precision and threads."""
    from metaalign.eval.verifiable import transformers_engine

    return lambda ref: transformers_engine(ref, args.batch_size, args.dtype, args.threads)


def run_verifiable_cmd(args: argparse.Namespace) -> int:
    from metaalign.eval.verifiable import EvalSystem, baseline_system, evaluate_systems, model_label

    name = args.name or model_label(args.model) + ("-no-meta" if args.no_meta_prompt else "")
    systems = [EvalSystem(name, args.model, not args.no_meta_prompt)]
    systems += [baseline_system(b, args.base_model) for b in args.baseline]
    report = evaluate_systems(
        systems,
        args.suite,
        args.out,
        engine_factory=_engine_factory(args),
        limit=args.limit,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
    )
    return _done(report)


def run_judge_cmd(args: argparse.Namespace) -> int:
    import os

    from metaalign.endpoints import OpenAIChatClient
    from metaalign.eval.judge_eval import run_judge
    from metaalign.eval.verifiable import EvalSystem, baseline_system, model_label
    from metaalign.judge import PairwiseJudge

    client = OpenAIChatClient(
        base_url=args.judge_url,
        model=args.judge_model,
        api_key=os.environ.get(args.judge_api_key_env),
        concurrency=args.concurrency,
    )
    report = run_judge(
        EvalSystem(model_label(args.model), args.model),
        baseline_system(args.baseline, args.base_model),
        args.test_split,
        args.out,
        judge=PairwiseJudge(client),
        engine_factory=_engine_factory(args),
        limit=args.limit,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
    )
    return _done(report)


def run_pairs_cmd(args: argparse.Namespace) -> int:
    from metaalign.eval.pairs import run_pairs

    _threads(args)
    report = run_pairs(
        args.model,
        args.data,
        args.out,
        reference=args.reference,
        limit=args.limit,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    return _done(report)


def run_compare(args: argparse.Namespace) -> int:
    from metaalign.eval.report import compare

    return _done(compare(args.runs, args.out))


def _done(report) -> int:
    from metaalign.eval.report import REPORT_MD

    assert report.out_dir is not None
    sys.stdout.write((report.out_dir / REPORT_MD).read_text(encoding="utf-8"))
    print(f"\nwrote {report.out_dir}/report.json, report.md, report.png")
    return 0
