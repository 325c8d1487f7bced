"""Who writes under `accelerate launch`: the process rank, and "run this once, the others wait".

Owns reading the rank from the launcher's environment (torchrun / accelerate set RANK and
WORLD_SIZE; one process has neither), `run_once`, which lets rank 0 do a step that writes
files (export, sampling, annotation) while the other ranks wait for its output to appear, and
tying a worker's life to its launcher's. It does not train or initialise process groups; the
Trainer's accelerator owns those.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger("metaalign.train")
T = TypeVar("T")
POLL_S = 2.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def rank() -> int:
    """This process's global rank (0 without a launcher)."""
    for name in ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def world_size() -> int:
    """How many processes train together (1 without a launcher)."""
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


def is_main() -> bool:
    return rank() == 0


def run_once(step: str, work: Callable[[], T], done: Callable[[], bool], poll_s: float = POLL_S) -> T | None:
    """Rank 0 runs `work` and returns its result; the other ranks wait until `done()` is true.

    `done` must turn true only when `work`'s output is complete (written aside, then renamed),
    and stays true on a re-run, so a resumed run skips the wait. The wait polls files rather than
    holding a collective, so a step longer than the process group's timeout (sampling a large
    split) cannot time it out; the output folder must be shared by the ranks, as a run's already
    is for checkpoints. If rank 0 dies, the launcher stops the others.
    """
    if is_main():
        return work()
    waited = 0.0
    while not done():
        if waited == 0.0:
            log.warning("rank %d: waiting for rank 0 to finish %s", rank(), step)
        time.sleep(poll_s)
        waited += poll_s
    return None


def shared_dataset(dataset: Any, folder: Path) -> Any:
    """Under several processes, `dataset` saved once by rank 0 under `folder` and loaded by every rank.

    TRL caches precomputed reference log-probs in a file beside the dataset's own files, at a
    path every rank must agree on. An in-memory dataset has no files, so each rank would pick a
    random file in a temporary folder of its own and the other ranks could not read rank 0's.
    One process keeps the dataset as it is.
    """
    if world_size() == 1:
        return dataset
    from datasets import load_from_disk

    target = folder / dataset._fingerprint  # the content's hash, the same on every rank

    def save() -> None:
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        dataset.save_to_disk(str(partial))
        partial.rename(target)

    if not target.exists():
        run_once(f"saving the dataset to {target}", save, target.exists)
    return load_from_disk(str(target))


def die_with_launcher() -> bool:
    """Under torchrun / `accelerate launch` on Linux: the kernel SIGKILLs this worker if its launcher dies.

    torch's launcher starts each worker in a session of its own, so a SIGKILL to the launcher's
    process group (a scheduler's kill, a Ctrl-\\ of the launch) would leave the workers training
    on as orphans and writing beside the re-run. True when the request was made.
    """
    if "TORCHELASTIC_RUN_ID" not in os.environ or not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the launcher died before the request: follow it now
        os.kill(os.getpid(), signal.SIGKILL)
    return True
