"""Python entry points: `train_sft(config) -> run_dir`, `train_dpo(config) -> run_dir`.

Owns one run from config to finished folder: build the config (recipe defaults, then the
user's values), render the records, start or resume TRL training, and save `final/`, the
JSONL log, the loss plot and the run manifest. A finished run is not trained again.
Trainers are TRL's (sft_trainer.py, dpo_trainer.py); two-stage lives in two_stage_pipeline.py.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError
from metaalign.train.config_io import ConfigError, check_fields
from metaalign.train.distributed import is_main, shared_dataset
from metaalign.train.run_log import (
    FINAL_DIR,
    LOG_NAME,
    PLOT_NAME,
    JsonlLogCallback,
    peak_rss_mib,
    plot_loss,
    read_manifest,
    write_manifest,
)

log = logging.getLogger("metaalign.train")
ConfigLike = Mapping[str, Any] | Any


def field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def make_config(cls: type, values: ConfigLike, defaults: Mapping[str, Any], where: str = "config") -> Any:
    """`cls` from MetaAlign's defaults overlaid with `values`; a config object passes through.

    A gradient_checkpointing the user sets explicitly wins over the hardware choice.
    """
    if isinstance(values, cls):
        return values
    values = dict(values)
    check_fields(values, field_names(cls), where)
    if "gradient_checkpointing" in values:  # the deprecated alias, said explicitly: it wins
        values.setdefault("activation_checkpointing", values.pop("gradient_checkpointing"))
    try:
        config = cls(**{**defaults, **values})
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from err
    return config


def sft_config(values: ConfigLike = (), **overrides: Any) -> Any:
    """A `MetaAlignSFTConfig` with MetaAlign's SFT defaults; keyword overrides win."""
    from metaalign.train.sft_config import SFT_DEFAULTS, MetaAlignSFTConfig

    if isinstance(values, MetaAlignSFTConfig) and not overrides:
        return values
    return make_config(MetaAlignSFTConfig, {**dict(values or {}), **overrides}, SFT_DEFAULTS, "sft config")


def dpo_config(values: ConfigLike = (), **overrides: Any) -> Any:
    """A `MetaAlignDPOConfig` with MetaAlign's DPO defaults; keyword overrides win."""
    from metaalign.train.dpo_config import DPO_DEFAULTS, MetaAlignDPOConfig

    if isinstance(values, MetaAlignDPOConfig) and not overrides:
        return values
    return make_config(MetaAlignDPOConfig, {**dict(values or {}), **overrides}, DPO_DEFAULTS, "dpo config")


def peak_cuda_gib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def finished(run_dir: Path) -> bool:
    manifest = read_manifest(run_dir)
    return bool(manifest and manifest.get("status") == "done" and (Path(run_dir) / FINAL_DIR).exists())


def model_source(ref: str) -> tuple[str, dict[str, Any]]:
    """(path or hub id for from_pretrained, extra from_pretrained kwargs) for a model reference."""
    from metaalign.models import ensure_local, hub_local_files_only, resolve

    source = resolve(ref)
    if source.kind == "hub":
        return source.location, {"local_files_only": hub_local_files_only(False)}
    return str(ensure_local(ref)), {"local_files_only": True}


def load_policy(config: Any) -> Any:
    """The model to train: a path TRL loads itself, or (with `adapter`) a base with that adapter merged."""
    from metaalign.train.hardware import torch_dtype_name

    path, kwargs = model_source(config.model)
    dtype = torch_dtype_name(config) if config.use_peft else "float32"  # full FT keeps fp32 master weights
    config.model_init_kwargs = {**kwargs, "dtype": dtype, **(config.model_init_kwargs or {})}
    adapter = getattr(config, "adapter", None)
    if not adapter:
        return path
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(path, **config.model_init_kwargs)
    return PeftModel.from_pretrained(base, adapter).merge_and_unload()


def peft_config(config: Any) -> Any:
    """The LoraConfig of `config`, sized to the model when only the last layers get adapters."""
    if not config.use_peft or not config.lora_layers:
        return config.lora_config()
    from transformers import AutoConfig

    path, kwargs = model_source(config.model)
    model_config = AutoConfig.from_pretrained(path, **kwargs).get_text_config()
    return config.lora_config(model_config.num_hidden_layers)


def prepare(config: Any) -> tuple[Any, Any]:
    """Threads and the tokenizer + renderer for `config.model`."""
    import torch

    from metaalign.models import load_tokenizer
    from metaalign.render import Renderer

    if config.threads:
        torch.set_num_threads(config.threads)
    tokenizer = load_tokenizer(config.model)
    return tokenizer, Renderer(tokenizer)


def fit(trainer: Any, config: Any, kind: str, tokens_per_epoch: int) -> Path:
    """Train (resuming from the last checkpoint in output_dir), then save final/, log, plot, manifest."""
    from transformers.trainer_utils import get_last_checkpoint

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


def build_sft_trainer(config: ConfigLike, callbacks: list | None = None) -> Any:
    """The SFT trainer for `config` (data rendered, model loaded), ready for `.train()`."""
    from metaalign.train.data import load_records, sft_dataset
    from metaalign.train.sft_trainer import MetaAlignSFTTrainer

    config = sft_config(config)
    tokenizer, renderer = prepare(config)
    train = sft_dataset(
        load_records(config.train_file, "sft", config.max_records), renderer, config.max_length
    )
    evals = None
    if config.eval_file:
        evals = sft_dataset(load_records(config.eval_file, "sft"), renderer, config.max_length)
    if config.padding_free and not config.packing:
        config.max_length = None  # enforced above, per example; TRL cannot enforce it padding-free
    return MetaAlignSFTTrainer(
        model=load_policy(config),
        args=config,
        train_dataset=train,
        eval_dataset=evals,
        processing_class=tokenizer,
        peft_config=peft_config(config),
        callbacks=[JsonlLogCallback(Path(config.output_dir) / LOG_NAME), *(callbacks or [])],
    )


def build_dpo_trainer(config: ConfigLike, callbacks: list | None = None) -> Any:
    """The DPO trainer for `config` (pairs rendered, model loaded), ready for `.train()`."""
    from metaalign.train.data import dpo_dataset, load_records
    from metaalign.train.dpo_trainer import MetaAlignDPOTrainer

    config = dpo_config(config)
    tokenizer, renderer = prepare(config)
    train = dpo_dataset(load_records(config.train_file, "preference", config.max_records), renderer)
    evals = dpo_dataset(load_records(config.eval_file, "preference"), renderer) if config.eval_file else None
    if config.precompute_ref_log_probs:  # the ranks must share the file TRL caches the reference scores in
        shared = Path(config.output_dir) / "datasets"
        train = shared_dataset(train, shared)
        evals = shared_dataset(evals, shared) if evals is not None else None
    if is_main():
        Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    return MetaAlignDPOTrainer(
        model=load_policy(config),
        args=config,
        train_dataset=train,
        eval_dataset=evals,
        processing_class=tokenizer,
        peft_config=peft_config(config),
        callbacks=[JsonlLogCallback(Path(config.output_dir) / LOG_NAME), *(callbacks or [])],
        shared_prompt=config.shared_prompt,
    )


def _train(kind: str, config: ConfigLike, callbacks: list | None) -> Path:
    """One `kind` ("sft" or "dpo") run: skipped when finished, else built, trained (or resumed), saved."""
    from metaalign.train.data import trained_tokens

    make, build = (sft_config, build_sft_trainer) if kind == "sft" else (dpo_config, build_dpo_trainer)
    config = make(config)
    if finished(Path(config.output_dir)):
        log.warning("%s is finished already; nothing to do", config.output_dir)
        return Path(config.output_dir)
    trainer = build(config, callbacks)
    return fit(trainer, config, kind, trained_tokens(trainer.train_dataset, kind))


def train_sft(config: ConfigLike, callbacks: list | None = None) -> Path:
    """Supervised fine-tuning on MetaAlign SFT records; returns the run folder (final/ holds the model)."""
    return _train("sft", config, callbacks)


def train_dpo(config: ConfigLike, callbacks: list | None = None) -> Path:
    """DPO on MetaAlign preference records; returns the run folder (final/ holds the model)."""
    return _train("dpo", config, callbacks)


def require_finished(run_dir: Path) -> dict[str, Any]:
    manifest = read_manifest(run_dir)
    if not finished(run_dir) or manifest is None:
        raise MetaAlignError(
            f"{run_dir}: not a finished MetaAlign training run (no metaalign_run.json / final/)"
        )
    return manifest
