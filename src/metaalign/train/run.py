"""Python entry points: `train_sft(config) -> run_dir`, `train_dpo(config) -> run_dir`.

Owns one run from config to finished folder: a finished run is not trained again; otherwise the
trainer's `from_config` builds it, TRL trains (or resumes) it, and `final/`, the JSONL log, the
loss plot and the run manifest are saved. Configs are configs.py's, trainers sft_trainer.py's and
dpo_trainer.py's, the model policy.py's; two-stage lives in two_stage_pipeline.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError
from metaalign.train.run_log import (
    FINAL_DIR,
    LOG_NAME,
    PLOT_NAME,
    peak_rss_mib,
    plot_loss,
    read_manifest,
    write_manifest,
)

log = logging.getLogger("metaalign.train")
ConfigLike = Mapping[str, Any] | Any


def peak_cuda_gib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def finished(run_dir: Path) -> bool:
    manifest = read_manifest(run_dir)
    return bool(manifest and manifest.get("status") == "done" and (Path(run_dir) / FINAL_DIR).exists())


def fit(trainer: Any, kind: str, tokens_per_epoch: int) -> Path:
    """Train (resuming from the last checkpoint in output_dir), then save final/, log, plot, manifest."""
    from transformers.trainer_utils import get_last_checkpoint

    config = trainer.args
    run_dir = Path(config.output_dir)
    main = trainer.accelerator.is_main_process  # under `accelerate launch`, rank 0 alone writes files
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    last = get_last_checkpoint(str(run_dir)) if run_dir.exists() else None
    if last:
        log.warning("resuming from %s", last)
    started = time.time()
    result = trainer.train(resume_from_checkpoint=last)
    final = run_dir / FINAL_DIR
    trainer.save_model(str(final))  # on rank 0, with the tokenizer (gathering sharded weights first)
    if main:
        plot_loss(run_dir / LOG_NAME, run_dir / PLOT_NAME, f"{kind.upper()} {config.model}")
        write_manifest(
            run_dir,
            status="done",
            kind=kind,
            model=config.model,
            use_peft=config.use_peft,
            final=FINAL_DIR,
            resumed_from=last,
            global_step=trainer.state.global_step,
            train_runtime_s=round(time.time() - started, 2),
            tokens_per_epoch=tokens_per_epoch,
            metrics=result.metrics,
            peak_rss_mib=round(peak_rss_mib(), 1),
            peak_cuda_gib=peak_cuda_gib(),
            precision="bf16" if config.bf16 else "fp16" if config.fp16 else "fp32",
            gradient_checkpointing=config.gradient_checkpointing,
            processes=trainer.accelerator.num_processes,
            distributed=trainer.accelerator.distributed_type.value,
        )
    trainer.accelerator.wait_for_everyone()  # every rank returns once final/ and the manifest exist
    return run_dir


def trainer_class(kind: str) -> Any:
    """MetaAlignSFTTrainer ("sft") or MetaAlignDPOTrainer ("dpo"), imported on first use (TRL)."""
    if kind == "sft":
        from metaalign.train.sft_trainer import MetaAlignSFTTrainer

        return MetaAlignSFTTrainer
    from metaalign.train.dpo_trainer import MetaAlignDPOTrainer

    return MetaAlignDPOTrainer


def run_to_end(kind: str, config: Any, callbacks: list | None = None) -> Path:
    """One `kind` ("sft" or "dpo") run of a checked config: skipped when finished, else built by
    its trainer's `from_config`, trained (or resumed) and saved."""
    from metaalign.train.token_rows import trained_tokens

    if finished(Path(config.output_dir)):
        log.warning("%s is finished already; nothing to do", config.output_dir)
        return Path(config.output_dir)
    trainer = trainer_class(kind).from_config(config, callbacks)
    return fit(trainer, kind, trained_tokens(trainer.train_dataset, kind))


def train_sft(config: ConfigLike, callbacks: list | None = None) -> Path:
    """Supervised fine-tuning on MetaAlign SFT records; returns the run folder (final/ holds the model)."""
    from metaalign.train.configs import sft_config

    return run_to_end("sft", sft_config(config), callbacks)


def train_dpo(config: ConfigLike, callbacks: list | None = None) -> Path:
    """DPO on MetaAlign preference records; returns the run folder (final/ holds the model)."""
    from metaalign.train.configs import dpo_config

    return run_to_end("dpo", dpo_config(config), callbacks)


def require_finished(run_dir: Path) -> dict[str, Any]:
    manifest = read_manifest(run_dir)
    if not finished(run_dir) or manifest is None:
        raise MetaAlignError(
            f"{run_dir}: not a finished MetaAlign training run (no metaalign_run.json / final/)"
        )
    return manifest
