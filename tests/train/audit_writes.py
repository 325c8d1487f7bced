"""`python audit_writes.py AUDIT_DIR WATCHED_DIR metaalign-args...`: run the metaalign CLI, noting each write.

A test helper for `accelerate launch`: every process runs the real `metaalign.cli.main` and, through
a Python audit hook, appends one JSON line per file it opens for writing, creates, renames or
removes under WATCHED_DIR to AUDIT_DIR/rank-<RANK>.jsonl (written as it happens, so a SIGKILL
keeps what came before). Writes from native code (safetensors) are not seen; Python's are.
"""

from __future__ import annotations

import json
import os
import runpy
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
EVENTS = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "shutil.rmtree", "shutil.copyfile"}


def main() -> None:
    audit_dir, watched = sys.argv[1], os.path.realpath(sys.argv[2])
    os.makedirs(audit_dir, exist_ok=True)
    rank = os.environ.get("RANK", "0")
    sink = open(os.path.join(audit_dir, f"rank-{rank}.jsonl"), "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def is_write(event: str, args: tuple) -> bool:
        if event == "open":
            mode, flags = args[1], args[2]
            writes_mode = bool(set(str(mode or "")) & set("wax+"))
            return writes_mode or bool(isinstance(flags, int) and flags & WRITE_FLAGS)
        return event in EVENTS

    def hook(event: str, args: tuple) -> None:
        if event not in EVENTS and event != "open":
            return
        paths = [os.fspath(a) for a in args[:2] if isinstance(a, str | bytes | os.PathLike)]
        paths = [p.decode() if isinstance(p, bytes) else p for p in paths]
        hits = [real for real in map(os.path.realpath, paths) if real.startswith(watched)]
        if hits and is_write(event, args):
            target = hits[-1] if event == "os.rename" else hits[0]  # os.replace: the destination counts
            sink.write(json.dumps({"event": event, "path": os.path.relpath(target, watched)}) + "\n")

    sys.addaudithook(hook)
    sys.argv = ["metaalign", *sys.argv[3:]]
    runpy.run_module("metaalign.cli.main", run_name="__main__")


if __name__ == "__main__":
    main()
