"""`metaalign render`: print a meta-prompt exactly as the model will see it.

Owns the command-line arguments shared by every command that takes the three tiers
(--system-info, --user-info, --query / --dialogue) and the render command itself.
The rendering is the renderer's (metaalign.render); this module only parses and prints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from metaalign.errors import MetaAlignError
from metaalign.models.resolver import DEFAULT_MODEL


def add_tier_args(parser: argparse.ArgumentParser) -> None:
    """The three tiers, as flags. Empty or missing tiers get the layout's documented defaults."""
    parser.add_argument("--system-info", default=None, help="the deployer's tier (System Info)")
    parser.add_argument("--user-info", default=None, help="the end user's tier (User Info)")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--query", help="a single user message")
    group.add_argument(
        "--dialogue",
        type=Path,
        metavar="FILE",
        help='a JSON list of {"role": "user"|"assistant", "content": ...} turns',
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model reference (default: {DEFAULT_MODEL})")


def dialogue_from_args(args: argparse.Namespace) -> list[dict]:
    """The dialogue the flags give, validated (before any model is loaded)."""
    from metaalign.render import dialogue_turns

    if args.query is not None:
        return [{"role": "user", "content": args.query}]
    try:
        turns = json.loads(args.dialogue.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise MetaAlignError(f"{args.dialogue}: expected a JSON list of chat turns ({err})") from err
    if not isinstance(turns, list):
        raise MetaAlignError(
            f"{args.dialogue}: expected a JSON list of chat turns, got {type(turns).__name__}"
        )
    try:
        return dialogue_turns(turns)
    except MetaAlignError as err:
        raise MetaAlignError(f"{args.dialogue}: {err}") from err


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="print the meta-prompt as the model sees it",
        description="Render System Info, User Info and a dialogue through the model's chat template.",
    )
    add_tier_args(p)
    p.add_argument(
        "--format",
        choices=("text", "messages", "tokens"),
        default="text",
        help="text: the exact prompt string; messages: the chat messages as JSON; "
        "tokens: token ids with the assistant-only mask as JSON",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from metaalign.models import load_tokenizer
    from metaalign.render import Renderer

    dialogue = dialogue_from_args(args)
    renderer = Renderer(load_tokenizer(args.model))
    tiers = (args.system_info, args.user_info, dialogue)
    if args.format == "messages":
        print(json.dumps(renderer.messages(*tiers), indent=2, ensure_ascii=False))
    elif args.format == "tokens":
        is_answer = dialogue[-1]["role"] == "assistant"
        rendered = renderer.tokenize(*tiers) if is_answer else renderer.prompt(*tiers)
        print(json.dumps({"input_ids": rendered.input_ids, "assistant_mask": rendered.assistant_mask}))
    else:
        text = renderer.text(*tiers, add_generation_prompt=dialogue[-1]["role"] != "assistant")
        print(text, end="" if text.endswith("\n") else "\n")
    return 0
