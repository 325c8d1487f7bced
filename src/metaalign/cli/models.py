"""`metaalign models`: list the models available offline, and `metaalign models convert REF`.

Owns argument parsing and the table/JSON output only; resolution and conversion live in
`metaalign.models`. Model code (and with it torch) is imported inside the command functions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from metaalign.errors import MetaAlignError
from metaalign.models.resolver import DEFAULT_MODEL

if TYPE_CHECKING:
    from metaalign.models.resolver import ModelInfo

VERIFY_ATOL = 1e-4
_COLUMNS = ("NAME", "KIND", "STATE", "SIZE", "SOURCE")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the models available offline; convert one ahead of time",
        description=(
            "List model aliases and converted GGUF models in the cache ($METAALIGN_HOME or the user cache "
            "dir). Anywhere a model is asked for, give an alias (default smollm2-135m), a Hugging Face "
            "folder, a .gguf file (converted once to safetensors) or a hub id org/name (local HF cache "
            "only, unless --online is given and HF_HUB_OFFLINE is unset)."
        ),
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=_cmd_list)
    actions = p.add_subparsers(dest="models_command", metavar="ACTION")
    c = actions.add_parser(
        "convert",
        help="convert an alias or .gguf file to a safetensors folder now (once) and print its path",
    )
    c.add_argument(
        "ref", nargs="?", default=DEFAULT_MODEL, help=f"model reference (default: {DEFAULT_MODEL})"
    )
    c.add_argument(
        "--online",
        action="store_true",
        help="allow hub downloads for org/name ids (HF_HUB_OFFLINE still wins)",
    )
    c.add_argument(
        "--verify",
        action="store_true",
        help=f"compare the converted model's logits with the GGUF-loaded model's (atol {VERIFY_ATOL:g})",
    )
    c.set_defaults(func=_cmd_convert)


def format_size(size: int | None) -> str:
    """Bytes in decimal units, as `du --si` and file managers show them."""
    if size is None:
        return "-"
    if size < 1000:
        return f"{size} B"
    value, unit = float(size) / 1000, "kB"
    for bigger in ("MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"


def _state_text(info: ModelInfo) -> str:
    if not info.installed and info.state == "absent":
        return f"not installed ({info.install_hint})" if info.install_hint else "source missing"
    return {
        "converted": "converted",
        "stale": "stale (reconverts on next use)",
        "absent": "not converted (converts once on first use)",
    }[info.state]


def format_table(infos: Sequence[ModelInfo], home: Path) -> str:
    """The human-readable listing (pure)."""
    rows = [(i.name, i.kind, _state_text(i), format_size(i.size_bytes), i.source) for i in infos]
    widths = [max(len(str(r[k])) for r in [_COLUMNS, *rows]) for k in range(len(_COLUMNS) - 1)]
    lines = [f"cache: {home / 'models'}"]
    for row in [_COLUMNS, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    if not rows:
        lines.append("(no models)")
    lines.append("Also accepted: a Hugging Face folder, a .gguf file, or a hub id org/name (local HF cache).")
    return "\n".join(lines)


def _cmd_list(args: argparse.Namespace) -> int:
    from metaalign.models import list_models, metaalign_home

    home = metaalign_home()
    infos = list_models(home)
    if args.json:
        print(json.dumps({"home": str(home), "models": [i.to_dict() for i in infos]}, indent=2))
    else:
        print(format_table(infos, home))
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from metaalign.models import ensure_local

    path = ensure_local(args.ref, allow_download=args.online)
    if args.verify:
        _verify(args.ref, path)
    print(path)
    return 0


def _verify(ref: str, folder: Path) -> None:
    from metaalign.models import resolve
    from metaalign.models.convert import max_logit_difference

    source = resolve(ref)
    if source.gguf_file is None:
        print(f"metaalign: nothing to verify: {ref} is not converted from a GGUF file", file=sys.stderr)
        return
    diff = max_logit_difference(source.gguf_file, folder)
    if diff > VERIFY_ATOL:
        raise MetaAlignError(
            f"{folder}: logits differ from {source.gguf_file} by {diff:.3g} (more than {VERIFY_ATOL:g})"
        )
    print(f"metaalign: verified {ref}: max logit difference {diff:.3g}", file=sys.stderr)
