"""`metaalign data`: validate, summarise and import record files.

Owns the arguments and the printing; the work is `metaalign.records`', imported inside each
command. Exit status: 0 when all is well; 1 when `validate --skip-bad` found bad records (listed);
2 (set by main) when an error stopped a command, e.g. the first bad record without --skip-bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from metaalign.errors import MetaAlignError
from metaalign.models.resolver import DEFAULT_MODEL

if TYPE_CHECKING:
    from metaalign.records import LoadResult, Record

# Equal to records.schema.KINDS / SUBSETS (a test checks); importing those here would load pydantic.
KINDS = ("sft", "preference")
SUBSETS = ("priority", "helpful", "consensus", "diverse_opinion", "custom")
IMPORT_FORMATS = ("hh-rlhf", "ultrafeedback", "multifaceted", "generic")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="validate, summarise and import record files",
        description="Record files: .jsonl, .jsonl.gz, .json (an array), .parquet, or a datasets folder.",
    )
    cmds = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    v = cmds.add_parser("validate", help="check every record against the schema")
    v.add_argument("file", help="record file or datasets folder")
    v.add_argument("--kind", choices=KINDS, help="expected kind (default: from the first record)")
    v.add_argument(
        "--skip-bad",
        action="store_true",
        help="check the whole file and list bad records (exit 1) instead of stopping at the first (exit 2)",
    )
    v.add_argument("--max-errors", type=int, default=5, metavar="N", help="errors to list (default 5)")
    v.set_defaults(func=_validate)

    s = cmds.add_parser("stats", help="subsets, distinct preferences, conflicts, token lengths")
    s.add_argument("file", help="record file or datasets folder")
    s.add_argument("--json", action="store_true", help="print the statistics as JSON")
    s.add_argument(
        "--model",
        metavar="REF",
        default=DEFAULT_MODEL,
        help=f"model whose tokenizer and chat template measure token lengths (default: {DEFAULT_MODEL})",
    )
    s.add_argument("--no-tokens", action="store_true", help="skip token lengths (no tokenizer is loaded)")
    s.add_argument("--skip-bad", action="store_true", help="leave bad records out (reported on stderr)")
    s.set_defaults(func=_stats)

    i = cmds.add_parser("import", help="convert another dataset's layout into MetaAlign records")
    i.add_argument("format", choices=IMPORT_FORMATS, metavar="FORMAT", help=", ".join(IMPORT_FORMATS))
    i.add_argument(
        "src", metavar="SRC", help="source file (.jsonl, .jsonl.gz, .json, .parquet) or datasets folder"
    )
    i.add_argument("out", metavar="OUT", help="output file; its extension picks the format")
    i.add_argument(
        "--map",
        nargs="+",
        action="extend",
        metavar="FIELD=COLUMN",
        help="generic only: record field from source column, e.g. user_info=persona prompt=question",
    )
    i.add_argument("--subset", choices=SUBSETS, default="custom", help="subset of the imported records")
    i.add_argument(
        "--tier",
        choices=("system", "user"),
        help="multifaceted only: where the preference text goes (system)",
    )
    i.add_argument("--skip-bad", action="store_true", help="skip bad rows (reported) instead of stopping")
    i.add_argument("--max-errors", type=int, default=5, metavar="N", help="errors to list (default 5)")
    i.set_defaults(func=_import)


def _print_errors(result: LoadResult, stream: TextIO) -> None:
    for err in result.errors:
        print(f"  {err}", file=stream)
    if result.skipped > len(result.errors):
        print(f"  ... and {result.skipped - len(result.errors)} more", file=stream)


def _validate(args: argparse.Namespace) -> int:
    from metaalign.records import read_records

    result = read_records(args.file, args.kind, skip_bad=args.skip_bad, max_errors_shown=args.max_errors)
    if not result.skipped:
        print(f"{args.file}: {len(result.records)} records OK")
        return 0
    print(f"{args.file}: {result.skipped} bad records, {len(result.records)} OK")
    _print_errors(result, sys.stdout)
    return 1


def _token_length_fn(model_ref: str) -> Callable[[Record], int]:
    """Tokens per record as `model_ref` sees it, rendered through the one renderer."""
    from metaalign.models import load_tokenizer
    from metaalign.records.trl_format import token_length
    from metaalign.render import Renderer

    renderer = Renderer(load_tokenizer(model_ref))
    return lambda record: token_length(record, renderer)


def _stats(args: argparse.Namespace) -> int:
    from metaalign.records import compute_stats, format_stats, read_records

    result = read_records(args.file, skip_bad=args.skip_bad)
    token_length = None if args.no_tokens else _token_length_fn(args.model)
    stats = compute_stats(result.records, token_length)
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    if result.skipped:
        print(f"{args.file}: left out {result.skipped} bad records:", file=sys.stderr)
        _print_errors(result, sys.stderr)
    return 0


def _run_importer(args: argparse.Namespace) -> LoadResult:
    from metaalign.records import importers

    if args.map and args.format != "generic":
        raise MetaAlignError("--map applies to the generic format only")
    if args.tier and args.format != "multifaceted":
        raise MetaAlignError("--tier applies to the multifaceted format only")
    common = {"subset": args.subset, "skip_bad": args.skip_bad, "max_errors_shown": args.max_errors}
    if args.format == "hh-rlhf":
        return importers.import_hh_rlhf(args.src, **common)
    if args.format == "ultrafeedback":
        return importers.import_ultrafeedback(args.src, **common)
    if args.format == "multifaceted":
        return importers.import_multifaceted(args.src, tier=args.tier or "system", **common)
    if not args.map:
        raise MetaAlignError(
            "generic import needs --map FIELD=COLUMN pairs, e.g. prompt=question response=answer"
        )
    return importers.import_generic(args.src, importers.parse_mapping(args.map), **common)


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from metaalign.records import write_records

    if Path(args.src).resolve() == Path(args.out).resolve():
        raise MetaAlignError(f"{args.out}: the output would overwrite the source; choose another path")
    result = _run_importer(args)
    if not result.records:
        first = f"; first: {result.errors[0]}" if result.errors else ""
        raise MetaAlignError(f"{args.src}: none of its {result.skipped} rows could be imported{first}")
    write_records(result.records, args.out)
    kind = result.records[0].kind
    print(f"{args.src}: imported {len(result.records)} {kind} records into {args.out}")
    if result.skipped:
        print(f"{args.src}: skipped {result.skipped} bad rows:", file=sys.stderr)
        _print_errors(result, sys.stderr)
    return 0
