"""`metaalign quickstart`: the paper end to end on the embedded model, offline, on a CPU.

Owns the command line only: which config (with `--key value` overrides, metaalign.overrides'
syntax), which work folder, and what to print at the end.
The stages are metaalign.quickstart's; re-running the same command skips finished stages.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quickstart",
        help="build data, train SFT then DPO, evaluate and export a MetaAligned model",
        description=(
            "Build a dataset offline, train SFT then DPO on on-policy pairs, evaluate the base and "
            "the MetaAligned model on held-out verifiable preferences, export the model and write a "
            "report. Re-running the same command resumes and skips finished stages."
        ),
        epilog="Any setting can be overridden after the options: --eval.limit 40 "
        "--train.sft.max_steps 10 (the syntax of every command that takes a config). A finished "
        "stage whose settings changed is refused: use another --workdir.",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="quickstart YAML (default: recipes/quickstart/smollm2-135m.yaml, or fast.yaml with --fast)",
    )
    p.add_argument("--fast", action="store_true", help="the same stages at toy size (minutes; for CI)")
    p.add_argument("--workdir", type=Path, default=None, help="default: runs/quickstart[-fast]")
    p.add_argument(
        "--publish",
        type=Path,
        metavar="README",
        default=None,
        help="also copy the plot and summary to docs/results/ beside README and rewrite its results section "
        "(the packaged config's is `quickstart`; another config's is named by its file, e.g. `full`)",
    )
    p.set_defaults(func=run, overrides=[])


def run(args: argparse.Namespace) -> int:
    from metaalign.quickstart.quickstart_config import DEFAULT_CONFIG, FAST_CONFIG, load_quickstart_config
    from metaalign.quickstart.quickstart_pipeline import WorkFolder, run_quickstart
    from metaalign.quickstart.verdict import DEFAULT_NAME, publish

    config_path = args.config or (FAST_CONFIG if args.fast else DEFAULT_CONFIG)
    workdir = args.workdir or Path("runs/quickstart-fast" if args.fast else "runs/quickstart")
    command = "metaalign quickstart" + (" --fast" if args.fast else "")
    if args.config:
        command += f" --config {shlex.quote(str(args.config))}"
    if args.overrides:
        command += " " + shlex.join(args.overrides)
    config = load_quickstart_config(config_path, args.overrides)
    summary = run_quickstart(config, workdir, command=command)
    folders = WorkFolder(workdir)
    print((folders.report / "README-section.md").read_text(encoding="utf-8"))
    missed = [name for name, t in summary["targets"].items() if not t["met"]]
    if missed:
        print(f"targets missed: {', '.join(missed)} (see {folders.report / 'report.md'})", file=sys.stderr)
    if args.publish:
        name = args.config.stem if args.config else DEFAULT_NAME
        publish(folders.report, args.publish, args.publish.parent / "docs" / "results", name)
        print(f"updated {args.publish}")
    print(f"report: {folders.report / 'report.md'}\nmodel: {folders.model}\nnext:")
    print(f'  metaalign chat --model {folders.model} --system-info "Answer in all capital letters."')
    print(f"  metaalign serve --model {folders.model} --config examples/serve.yaml --port 8000")
    return 0
