"""What a run leaves behind besides weights: a JSONL training log, a loss plot, a run manifest.

Owns `JsonlLogCallback` (one JSON object per Trainer log event, appended through
metaalign.appendlog; a resumed run continues the file from its checkpoint's step), `plot_loss`
(matplotlib, Agg backend) and the `metaalign_run.json` manifest (written atomically) that export
and two-stage read. It does not train.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from metaalign.appendlog import AppendLog
from metaalign.records.writing import atomic_write_text

LOG_NAME = "train_log.jsonl"
PLOT_NAME = "loss.png"
MANIFEST_NAME = "metaalign_run.json"
FINAL_DIR = "final"


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class JsonlLogCallback(TrainerCallback):
    """Appends every log event (loss, learning rate, ...) with step, epoch, time and peak memory.

    At the start of training the file is cut back to the steps the run starts from: rows logged
    after the checkpoint a resumed run restarts from (and a torn last line) are dropped, since those
    steps are trained and logged again; a run started afresh starts an empty log.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.path.exists():
            keep = [row for row in read_log(self.path) if row.get("step", 0) <= state.global_step]
            atomic_write_text(self.path, "".join(json.dumps(row) + "\n" for row in keep))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}
        row["peak_rss_mib"] = round(peak_rss_mib(), 1)
        AppendLog(self.path).append([row])  # written and fsynced before training goes on


def read_log(path: Path) -> list[dict[str, Any]]:
    """The rows of a training log; a torn last line (a kill mid-write) is left out."""
    if not Path(path).exists():
        return []
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def plot_loss(log_path: Path, out: Path, title: str) -> Path | None:
    """Training loss against step as a PNG; None when matplotlib is missing or nothing was logged."""
    rows = [r for r in read_log(log_path) if "loss" in r]
    if not rows:  # fewer steps than logging_steps: plot the run's mean loss as one point
        rows = [{**r, "loss": r["train_loss"]} for r in read_log(log_path) if "train_loss" in r]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], marker=".", label="train loss")
    evals = [r for r in read_log(log_path) if "eval_loss" in r]
    if evals:
        ax.plot([r["step"] for r in evals], [r["eval_loss"] for r in evals], marker="o", label="eval loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def write_manifest(run_dir: Path, **fields: Any) -> Path:
    """Write the run manifest atomically: a kill mid-write leaves the old manifest, never broken JSON."""
    return atomic_write_text(Path(run_dir) / MANIFEST_NAME, json.dumps(fields, indent=2, default=str) + "\n")


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / MANIFEST_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
