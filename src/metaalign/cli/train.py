"""`metaalign train sft|dpo|two-stage` and `metaalign export`.

Owns the command lines only: a recipe (--config) plus overrides of any config field
(`--learning_rate 1e-4`, `--sft.max_steps 10` for two-stage sections; the syntax and its parser
are metaalign.overrides', shared by every command that takes a config). Training, two-stage
and export live in metaalign.train and are imported inside the command functions.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

COMMANDS = {
    "sft": "supervised fine-tuning on SFT records",
    "dpo": "DPO on preference records",
    "two-stage": "SFT, then on-policy sampling, annotation and DPO",
}
EPILOG = (
    "Any config field can be overridden after the recipe: --learning_rate 1e-4 --max_steps 20 "
    "(two-stage: --sft.max_steps 20 --sample.k 4); `--set field=value` still works but is deprecated. "
    "Re-running the same command resumes from the last checkpoint and skips finished stages."
)


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train", help="train a MetaAligned model (sft, dpo, two-stage)", description="Train with TRL + PEFT."
    )
    stages = train.add_subparsers(dest="stage", metavar="STAGE", required=True)
    for name, summary in COMMANDS.items():
        p = stages.add_parser(name, help=summary, description=summary + ".", epilog=EPILOG)
        p.add_argument("--config", type=Path, default=None, metavar="YAML", help="recipe file (see recipes/)")
        p.set_defaults(func=run_train, overrides=[])
    export = sub.add_parser(
        "export",
        help="merge a LoRA run into a standalone model folder, or write a GGUF file",
        description="Merge the adapter of a finished run (or the DPO stage of a two-stage run) into its "
        "base model and save weights, tokenizer and chat template, loadable by transformers and vLLM. "
        "With --format gguf, write one GGUF file (llama.cpp, Ollama, LM Studio) from a run, a merged "
        "model folder or any model reference, with the tokenizer and a chat template that places the "
        "meta-prompt as `metaalign render` does.",
    )
    export.add_argument(
        "run_dir",
        type=Path,
        metavar="SOURCE",
        help="a finished run folder (holds metaalign_run.json); with --format gguf also a merged "
        "model folder or a model reference",
    )
    export.add_argument("--out", type=Path, required=True, help="new folder (hf) or file name (gguf)")
    export.add_argument(
        "--format", choices=("hf", "gguf"), default="hf", help="hf: a model folder (default); gguf: one file"
    )
    export.add_argument(
        "--dtype",
        choices=("f32", "f16", "q8_0"),
        default=None,
        help="GGUF weight type (default f16; norms stay f32)",
    )
    export.add_argument("--force", action="store_true", help="replace an existing GGUF file")
    export.set_defaults(func=run_export)


def _logging() -> None:
    logging.basicConfig(format="metaalign: %(message)s")
    logging.getLogger("metaalign.train").setLevel(logging.INFO)


def entry_point(stage: str) -> Callable[[dict[str, Any]], Path]:
    """The Python function `metaalign train STAGE` runs: train_sft, train_dpo or two_stage."""
    if stage == "two-stage":
        from metaalign.train.two_stage_pipeline import two_stage

        return two_stage
    from metaalign.train.run import train_dpo, train_sft

    return {"sft": train_sft, "dpo": train_dpo}[stage]


def run_train(args: argparse.Namespace) -> int:
    from metaalign.train.config_io import ConfigError, load, locate
    from metaalign.train.distributed import die_with_launcher

    _logging()
    die_with_launcher()  # under `accelerate launch`: a killed launcher takes this worker with it
    entry = entry_point(args.stage)
    config = load(args.config, args.overrides)
    try:  # the configs check fields and sections, as they do for the Python API
        run_dir = entry(config)
    except ConfigError as err:  # name the recipe's file and line when the bad field came from it
        raise locate(err, args.config) from err
    print(run_dir)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from metaalign.errors import MetaAlignError

    _logging()
    if args.format == "gguf":
        from metaalign.train.merge_export import export_gguf

        logging.getLogger("metaalign.export").setLevel(logging.INFO)
        print(export_gguf(str(args.run_dir), args.out, dtype=args.dtype or "f16", force=args.force))
        return 0
    if args.force or args.dtype is not None:
        raise MetaAlignError("--dtype and --force apply to --format gguf only")
    from metaalign.train import export_model

    print(export_model(args.run_dir, args.out))
    return 0
