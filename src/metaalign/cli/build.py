"""`metaalign build`: build (or resume) a MetaAlign dataset from a recipe YAML plus overrides.

Owns the command line only (overrides are `--key value`, metaalign.overrides' syntax); the
pipeline is metaalign.build.run_build. Imports of the
pipeline (and so of torch, when the local model is used) happen inside the command.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="build SFT / DPO / test datasets under diverse meta-prompts",
        description=(
            "Sample candidates, assign meta-prompts, make and annotate responses, export SFT, DPO and "
            "held-out test splits with stats. Re-running the same command resumes from the store."
        ),
        epilog="Any recipe setting can be overridden after the recipe: --instructions_train 50 "
        "--policy.batch_size 8 (the syntax of every command that takes a config). "
        "`--set key=value` still works but is deprecated.",
    )
    p.add_argument("--config", metavar="YAML", help="a build recipe, e.g. recipes/build/smollm2-135m.yaml")
    p.add_argument("--output-dir", help="where the store, records and stats go (recipe: output_dir)")
    p.add_argument("--seed", type=int, help="build seed (recipe: seed)")
    p.add_argument("--instructions", metavar="JSONL", help="your own instruction file")
    p.add_argument("--library", metavar="YAML", help="your own preference library")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--fresh", action="store_true", help="delete the output folder's store and start over")
    p.set_defaults(func=run, overrides=[])


def run(args: argparse.Namespace) -> int:
    from metaalign.build import load_config, run_build
    from metaalign.build.pipeline import STORE_NAME, load_inputs

    values = {
        key: value
        for key, value in (
            ("output_dir", args.output_dir),
            ("seed", args.seed),
            ("instructions", args.instructions),
            ("library", args.library),
        )
        if value is not None
    }
    if args.no_progress:
        values["progress"] = False
    config = load_config(args.config, args.overrides, values)
    load_inputs(config)  # bad instruction or library files fail here, before anything is touched
    if args.fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(config.output_dir, STORE_NAME + suffix).unlink(missing_ok=True)
        shutil.rmtree(Path(config.output_dir, "hf"), ignore_errors=True)
    result = run_build(config)
    files = result.stats["files"]
    for name, stats in files.items():
        print(f"{name}: {stats['total']} records ({stats['conflicts']} conflicts)")
    for path in result.paths.values():
        print(f"wrote {path}")
    print(f"done in {result.timings.get('total', 0.0):.1f} s", file=sys.stderr)
    return 0
