"""Helpers of the `accelerate launch` tests: start a launch, SIGKILL its process group, read what it left.

Owns subprocess plumbing only (a free rendezvous port per launch, offline and one-thread
environment, output to a file, killing by process group and finding stray workers).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACCELERATE = Path(sys.executable).parent / "accelerate"
AUDIT = Path(__file__).parent / "audit_writes.py"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(config: Path, args: list[str], audit: tuple[Path, Path] | None = None) -> list[str]:
    """`accelerate launch --config_file CONFIG -m metaalign.cli.main ARGS` (or through the write audit)."""
    head = [str(ACCELERATE), "launch", "--config_file", str(config), "--main_process_port", str(free_port())]
    if audit:
        return [*head, str(AUDIT), str(audit[0]), str(audit[1]), *args]
    return [*head, "-m", "metaalign.cli.main", *args]


def start(command: list[str], log: Path) -> subprocess.Popen:
    """Start `command` in its own process group (so it can be killed as one), output to `log`."""
    env = {**os.environ, **OFFLINE, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


TIMEOUT_S = 1800  # about a minute per launch on an idle 2-core machine; far more on a loaded one


def run(command: list[str], log: Path, timeout: float = TIMEOUT_S) -> int:
    process = start(command, log)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def kill_group_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = TIMEOUT_S) -> bool:
    """SIGKILL `process`'s whole group once `ready()`; False if it ended first (or timed out)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.05)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return False


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (workers that outlived a kill)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_gone(text: str, grace_s: float = 20) -> list[int]:
    """Processes mentioning `text` still alive after `grace_s` (a worker dies with its launcher)."""
    deadline = time.monotonic() + grace_s
    while (alive := processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in alive:  # clean up before failing: these are this test's own workers
        os.kill(pid, signal.SIGKILL)
    return alive


def printed_lines(output: str, line: object) -> int:
    """How many lines of `output` are exactly `line` (the run folder each rank prints at its end)."""
    return sum(part.strip() == str(line) for part in output.replace("\r", "\n").splitlines())


def failure(log: Path) -> str:
    """What a failed launch said: every rank's error lines first, then the log's tail."""
    text = log.read_text(errors="replace")
    errors = [line for line in text.splitlines() if "metaalign: error" in line or "Error:" in line]
    return "\n".join(errors[:20]) + "\n...\n" + text[-2000:]


def cli_args(values: dict) -> list[str]:
    """`--key value` pairs; strings YAML would read as something else (no, yes, on) are quoted."""
    import yaml

    def text(value: object) -> str:
        value = str(value) if isinstance(value, Path) else value
        return str(value) if yaml.safe_load(str(value)) == value else repr(str(value))

    return [part for key, value in values.items() for part in (f"--{key}", text(value))]


def log_rows(run_dir: Path) -> list[dict]:
    path = run_dir / "train_log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def losses(run_dir: Path) -> dict[int, float]:
    return {row["step"]: row["loss"] for row in log_rows(run_dir) if "loss" in row}


def audited_writes(audit_dir: Path, rank: int) -> list[dict]:
    path = audit_dir / f"rank-{rank}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
