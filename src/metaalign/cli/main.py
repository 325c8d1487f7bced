"""Entry point of the `metaalign` console script.

Owns the top-level parser and dispatch only. Each command group lives in its own module
with a `register(subparsers)` function; heavy imports (torch, transformers) happen inside
the command functions, so `metaalign --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from metaalign import __version__
from metaalign.cli import build as build_cmd
from metaalign.cli import data as data_cmd
from metaalign.cli import eval as eval_cmd
from metaalign.cli import generate as generate_cmd
from metaalign.cli import models as models_cmd
from metaalign.cli import quickstart as quickstart_cmd
from metaalign.cli import render as render_cmd
from metaalign.cli import serve as serve_cmd
from metaalign.cli import train as train_cmd
from metaalign.errors import MetaAlignError
from metaalign.overrides import OverridesParser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metaalign",
        description="Align LLMs with System Info / User Info preferences given at inference time.",
    )
    parser.add_argument("--version", action="version", version=f"metaalign {__version__}")
    # a command that takes a config collects `--field value` overrides (metaalign.overrides)
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=OverridesParser
    )
    for module in (
        render_cmd,
        generate_cmd,
        data_cmd,
        models_cmd,
        build_cmd,
        train_cmd,
        eval_cmd,
        serve_cmd,
        quickstart_cmd,
    ):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MetaAlignError as err:
        print(f"metaalign: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a path that is missing, a folder, or not writable: say which
        where = f"{err.filename}: " if err.filename else ""
        print(f"metaalign: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("metaalign: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
