"""`metaalign serve` (OpenAI-compatible server) and `metaalign chat` (terminal chat).

Owns the two commands' arguments and start-up only: loading the engine, the config and
uvicorn. The server is metaalign.serve.router/serving; the chat loop metaalign.serve.chat.
torch, fastapi and uvicorn are imported inside the command functions only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from metaalign.models.resolver import DEFAULT_MODEL


def register(sub: argparse._SubParsersAction) -> None:
    """Adds `serve` and `chat` to `sub`."""
    p = sub.add_parser(
        "serve",
        help="OpenAI-compatible HTTP server (deployer System Info, per-user User Info)",
        description="Serve one or more models at /v1/chat/completions, /v1/models and /health, with a "
        "browser playground at /playground. API keys, roles, System Info and limits come from --config "
        "(see examples/serve.yaml).",
    )
    p.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="[NAME=]REF",
        help="a model to serve; repeat as NAME=REF to serve several, chosen by the request's `model` (a "
        f"bare REF is served as the config's served_model_name; default: the config's, else {DEFAULT_MODEL})",
    )
    p.add_argument("--config", default=None, help="serve.yaml with keys, roles, System Info and limits")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    _engine_args(p)
    p.set_defaults(func=run_serve)

    c = sub.add_parser(
        "chat",
        help="interactive terminal chat; edit System Info and User Info live",
        description="Chat with a model. Commands: /system TEXT, /user TEXT, /show, /reset, /help, /quit.",
    )
    c.add_argument("--model", default=DEFAULT_MODEL, help=f"model reference (default: {DEFAULT_MODEL})")
    c.add_argument("--system-info", default=None, help="initial System Info")
    c.add_argument("--user-info", default=None, help="initial User Info")
    c.add_argument("--max-new-tokens", type=int, default=256, help="at most this many tokens per answer")
    c.add_argument("--temperature", type=float, default=0.0, help="0 means greedy (default)")
    c.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling, in (0, 1]")
    c.add_argument("--seed", type=int, default=None, help="seed for sampling")
    _engine_args(c)
    c.set_defaults(func=run_chat)


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=["transformers", "vllm", "ctranslate2"],
        default="transformers",
        help="generation backend: transformers (continuous batching), vllm (GPU), ctranslate2 (CPU, static "
        "batches; pip install metaalign[ctranslate2])",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch (and CTranslate2) CPU threads (default: theirs)"
    )
    p.add_argument(
        "--dtype",
        choices=["fp32", "bf16", "int8"],
        default=None,
        help="weight precision (default on transformers: bf16 where the CPU has AVX512-BF16 or AMX, else "
        "fp32; see docs/serve.md); ctranslate2 maps int8 to int8_float32 and has bf16 only where the CPU "
        "does",
    )
    p.add_argument(
        "--engine", choices=["model", "fake"], default="model", help=argparse.SUPPRESS
    )  # tests only


def make_engine(args: argparse.Namespace, model: str, batch_size: int = 16) -> Any:
    """The engine the arguments ask for; `--engine fake` echoes (for tests of the commands)."""
    if args.engine == "fake":
        from metaalign.engine import FakeEngine

        return FakeEngine(
            respond=lambda r: f"[SI={r.system_info}|UI={r.user_info}] {r.dialogue[-1]['content']}"
        )
    from metaalign.engine.load import load_engine

    dtype = args.dtype
    if dtype is None and args.backend == "transformers":
        from metaalign.engine.precision import serving_dtype

        dtype = serving_dtype()
    return load_engine(model, args.backend, batch_size, args.threads, dtype)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from metaalign.serve.config import load_config, served_models
    from metaalign.serve.registry import ModelRegistry
    from metaalign.serve.router import build_app
    from metaalign.serve.serving import ChatService

    config = load_config(args.config)
    models = served_models(config, args.model, DEFAULT_MODEL)
    if not config.keys:
        print("metaalign: warning: the config names no API keys, so every request gets 401", file=sys.stderr)
    services = []
    for name, ref in models.items():  # each model: its own engine, memory and batcher
        print(f"metaalign: loading '{name}' from {ref}", file=sys.stderr)
        services.append(ChatService(make_engine(args, ref, batch_size=config.max_batch), config, name=name))
    app = build_app(ModelRegistry(services))
    names = ", ".join(f"'{n}'" for n in models)
    print(f"metaalign: serving {names} on http://{args.host}:{args.port}/v1", file=sys.stderr)
    if config.playground:
        print(f"metaalign: playground at http://{args.host}:{args.port}/playground", file=sys.stderr)
    # SIGTERM: stop accepting, give in-flight requests shutdown_timeout_s, then end them
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=config.shutdown_timeout_s,
    )
    return 0


def run_chat(args: argparse.Namespace) -> int:
    from metaalign.serve.chat import ChatSession, run_chat

    sampling = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "top_p": args.top_p}
    sampling["seed"] = args.seed
    session = ChatSession(
        make_engine(args, args.model, batch_size=1), args.system_info, args.user_info, sampling
    )
    return run_chat(session)
