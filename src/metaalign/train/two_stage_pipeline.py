"""`two_stage(config) -> run_dir`: SFT, then on-policy sampling, annotation and DPO.

Owns the stages and what each leaves in the run folder (sft/, sft-merged/, samples.jsonl,
pairs.jsonl, annotation.json, dpo/, metaalign_run.json, stages/). They run through
metaalign.stages, whose markers skip finished stages, so re-running the command resumes where it
stopped; quickstart runs the same stages. Training is run.py's, labelling annotate.py's,
sampling on_policy_samples.py's.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metaalign.stages import Stage, Summary
from metaalign.train.config_io import ConfigError, check_fields, in_section
from metaalign.train.run_log import write_manifest

log = logging.getLogger("metaalign.train")
STAGES_DIR = "stages"  # the stage runner's markers, in the run folder
SECTIONS = ("sft", "dpo", "sample", "judge")
SHARED = ("model", "output_dir", "threads", "seed")  # copied into each training stage
SAMPLE_KEYS = ("prompts_file", "max_prompts", "kind_weights", "k", "temperature", "top_p", "max_new_tokens",
               "seed", "chunk", "batch_size", "build_pairs", "on_policy")  # fmt: skip


def split_config(config: Mapping[str, Any]) -> tuple[dict, dict, dict, dict | None]:
    """(sft values, dpo values, sample values, judge values or None) of a two-stage config."""
    check_fields(config, (*SECTIONS, *SHARED), "two-stage config")
    if "output_dir" not in config:
        raise ConfigError("two-stage config: output_dir is required")
    out = Path(config["output_dir"]).resolve()
    shared = {k: config[k] for k in ("model", "threads", "seed") if k in config}
    sample = dict(config.get("sample") or {})
    check_fields(sample, SAMPLE_KEYS, "two-stage config: sample", section="sample")
    if "prompts_file" not in sample:
        raise ConfigError(
            "two-stage config: sample.prompts_file (the DPO prompts, preference records) is required"
        )
    sft = {**shared, **(config.get("sft") or {}), "output_dir": str(out / "sft")}
    dpo = {**{k: v for k, v in shared.items() if k != "model"}, **(config.get("dpo") or {})}
    dpo.update(
        output_dir=str(out / "dpo"), train_file=str(out / "pairs.jsonl"), model=str(out / "sft-merged")
    )
    return sft, dpo, sample, config.get("judge")


def export_once(run_dir: Path, target: Path) -> Path:
    """The model of `run_dir` with its adapter merged, exported once (written aside, then renamed).

    A finished `target` is kept, so a kill after the rename and before the caller notes it is harmless.
    """
    from metaalign.train.merge_export import export_model

    if (target / "config.json").exists():
        return target
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    export_model(run_dir, tmp)
    tmp.rename(target)
    return target


def unique_prompts(records: list[Any]) -> list[Any]:
    """One record per (System Info, User Info, prompt): a build writes several pairs per prompt."""
    seen: dict[tuple, Any] = {}
    for r in records:
        key = (r.system_info, r.user_info, tuple((m.role, m.content) for m in r.prompt))
        seen.setdefault(key, r)
    return list(seen.values())


def make_judge(values: Mapping[str, Any] | None) -> Any | None:
    """A PairwiseJudge over an OpenAI-compatible endpoint, or None when no judge is configured."""
    if not values:
        return None
    import os

    from metaalign.endpoints.client import OpenAIChatClient
    from metaalign.judge import PairwiseJudge

    values = dict(values)
    key_env = values.pop("api_key_env", None)
    api_key = os.environ.get(key_env) if key_env else values.pop("api_key", None)
    return PairwiseJudge(OpenAIChatClient(api_key=api_key, **values))


def annotate_stage(out: Path, sample: dict, judge_values: Mapping[str, Any] | None, merged: Path) -> Path:
    """samples.jsonl (resumable) then pairs.jsonl + annotation.json (written once).

    With `sample.on_policy: false` nothing is sampled: the chosen prompts keep the build's own
    pairs (offline DPO on a stratified choice of them), counted as `from_build`.
    """
    from metaalign.records import read_records, write_records
    from metaalign.train.annotate import record_kind, stratified

    pairs_path = out / "pairs.jsonl"
    if pairs_path.exists() and (out / "annotation.json").exists():
        return pairs_path
    prompts = unique_prompts(read_records(sample.pop("prompts_file"), "preference").records)
    weights, kinds = sample.pop("kind_weights", None), {record_kind(r) for r in prompts}
    prompts = stratified(
        prompts, sample.pop("max_prompts", None) or None, int(sample.get("seed", 0)), weights
    )
    for name in sorted(set(weights or {}) - kinds):  # stratified() refused weights that are no mapping
        log.warning(
            "sample.kind_weights.%s: no DPO prompt has this kind (they have %s)",
            name,
            sorted(map(str, kinds)),
        )
    if sample.pop("on_policy", True):
        pairs, stats = _on_policy_pairs(out, prompts, sample, judge_values, merged)
    else:
        pairs, stats = _build_pairs(prompts)
    for reason, count in stats.skipped.items():
        log.warning("annotation: skipped %d prompts: %s", count, reason)
    if not pairs:
        raise ConfigError(f"annotation produced no pairs from {len(prompts)} prompts: {stats.skipped}")
    write_records(pairs, pairs_path)
    (out / "annotation.json").write_text(json.dumps({"prompts": len(prompts), **stats.as_dict()}, indent=2))
    log.warning("annotation: %d pairs (%s)", len(pairs), stats.as_dict())
    return pairs_path


def _on_policy_pairs(
    out: Path, prompts: list[Any], sample: dict, judge_values: Mapping[str, Any] | None, merged: Path
) -> tuple[list[Any], Any]:
    """K samples per prompt from the merged SFT model, labelled by the verifiers (or a judge)."""
    from metaalign.engine.load import load_engine
    from metaalign.train.annotate import annotate
    from metaalign.train.on_policy_samples import SampleSettings, sample_all

    batch_size = int(sample.pop("batch_size", 16))
    build_pairs = bool(sample.pop("build_pairs", False))
    engine = load_engine(str(merged), batch_size=batch_size)  # threads: the run's, set for training
    samples = sample_all(engine, prompts, SampleSettings(**sample), out / "samples.jsonl")
    return annotate(prompts, samples, make_judge(judge_values), build_pairs=build_pairs)


def _build_pairs(prompts: list[Any]) -> tuple[list[Any], Any]:
    """The prompts' own (build) pairs as they are, less those whose chosen equals the rejected."""
    from metaalign.train.annotate import AnnotationStats

    pairs = [r for r in prompts if r.chosen != r.rejected]
    stats = AnnotationStats(from_build=len(pairs))
    if len(pairs) < len(prompts):
        stats.skipped["chosen equals rejected"] = len(prompts) - len(pairs)
    return pairs, stats


NOT_SETTINGS = ("output_dir", "threads", "train_file", "prompts_file", "api_key")  # not results


def _settings(config: Mapping[str, Any], section: str) -> dict[str, Any]:
    """What a stage's result depends on in a config section as written: its values less paths
    (input files count by their bytes), thread counts and secrets."""
    return {k: v for k, v in (config.get(section) or {}).items() if k not in NOT_SETTINGS}


def two_stage_stages(config: Mapping[str, Any]) -> list[Stage]:
    """The recipe as stages for metaalign.stages: sft, on-policy (export, sample, annotate), dpo.

    Each stage resumes its own partial work (checkpoints, the sample log); the runner skips a
    finished one and refuses one whose settings or input files changed. Under `accelerate
    launch`, training stages run on every rank and on-policy on rank 0 alone (the others wait).
    """
    sft, dpo, sample, judge_values = split_config(config)
    out = Path(config["output_dir"])
    merged = out / "sft-merged"
    shared = {k: config[k] for k in ("model", "seed") if k in config}

    def train_sft_stage() -> Summary:
        from metaalign.train.run import train_sft

        with in_section("sft"):
            return {"run": str(train_sft(sft))}

    def on_policy() -> Summary:
        export_once(Path(sft["output_dir"]), merged)
        pairs = annotate_stage(out, dict(sample), judge_values, merged)
        return {"pairs": str(pairs), **json.loads((out / "annotation.json").read_text())}

    def train_dpo_stage() -> Summary:
        from metaalign.train.distributed import is_main
        from metaalign.train.run import train_dpo

        with in_section("dpo"):
            dpo_dir = train_dpo(dpo)
        if is_main():
            mark_done(out, Path(sft["output_dir"]), dpo_dir)
        return {"run": str(dpo_dir)}

    tuned = {**shared, "sft": _settings(config, "sft")}
    labelled = {"sample": _settings(config, "sample"), "judge": _settings(config, "judge")}
    data = (sft["train_file"],) if "train_file" in sft else ()  # else train_sft says it is missing
    return [
        Stage("sft", "train SFT", train_sft_stage, tuned, data),
        Stage("on-policy", "sample from the SFT model and annotate pairs" if sample.get("on_policy", True)
              else "take the build's own pairs", on_policy, labelled,
              (sample["prompts_file"],), main_only=True),
        Stage("dpo", "train DPO on the pairs", train_dpo_stage, {"dpo": _settings(config, "dpo")}),
    ]  # fmt: skip


def two_stage(config: Mapping[str, Any]) -> Path:
    """Run (or resume) SFT -> sample -> annotate -> DPO through the stage runner; returns the run folder."""
    from metaalign.stages import run_stages
    from metaalign.train.distributed import is_main

    stages = two_stage_stages(config)
    out = Path(config["output_dir"])
    if is_main():
        out.mkdir(parents=True, exist_ok=True)
    run_stages(stages, out / STAGES_DIR, log=log.warning)
    return out


def mark_done(out: Path, sft_dir: Path, dpo_dir: Path) -> None:
    """The run folder's manifest: finished, with the stage `metaalign export` merges (the DPO one)."""
    write_manifest(out, status="done", kind="two-stage", final_run=dpo_dir.name, sft_run=sft_dir.name)
