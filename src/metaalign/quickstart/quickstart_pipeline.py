"""The paper on one machine: the quickstart's stages and the files they hand each other.

Owns the wiring only: the work folder (`WorkFolder`), which stage reads which file, and the final
report. The stages are build (`run_build`), two-stage's own (`two_stage_stages`: sft, on-policy,
dpo), export and eval (`run_verifiable`, `compare`); each resumes its own partial work, and
metaalign.stages skips whole stages that finished and refuses those whose settings changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaalign.quickstart.quickstart_config import QuickstartConfig
from metaalign.stages import Stage, Summary


@dataclass(frozen=True)
class WorkFolder:
    """Where each stage writes, under one work folder."""

    root: Path

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def train(self) -> Path:
        return self.root / "train"

    @property
    def model(self) -> Path:
        return self.root / "model"

    def eval(self, name: str) -> Path:
        return self.root / "eval" / name

    @property
    def report(self) -> Path:
        return self.root / "report"


def train_values(config: QuickstartConfig, folders: WorkFolder) -> dict[str, Any]:
    """The two-stage training config, pointed at this run's build output and train folder."""
    train = dict(config.train)
    train["sft"] = {**train.get("sft", {}), "train_file": str(folders.build / "sft_train.jsonl")}
    train["sample"] = {**train.get("sample", {}), "prompts_file": str(folders.build / "dpo_train.jsonl")}
    return {**train, "model": config.model, "output_dir": str(folders.train), "seed": config.seed}


def _build(config: QuickstartConfig, folders: WorkFolder) -> Summary:
    from metaalign.build.build_config import BuildConfig
    from metaalign.build.pipeline import run_build

    values = {**config.build, "output_dir": str(folders.build), "seed": config.seed}
    values["policy"] = {**values.get("policy", {}), "model": config.model}
    result = run_build(BuildConfig.model_validate(values))
    return {"files": sorted(Path(p).name for p in result.paths.values()), "timings_s": result.timings}


def _export(config: QuickstartConfig, folders: WorkFolder) -> Summary:
    from metaalign.train.two_stage_pipeline import export_once

    return {"model": str(export_once(folders.train, folders.model))}


def _evaluate(config: QuickstartConfig, folders: WorkFolder, name: str, model: str) -> Summary:
    from metaalign.eval.verifiable import run_verifiable

    report = run_verifiable(model, out_dir=folders.eval(name), name=name, **config.eval.model_dump())
    metrics = report.system(name).metrics
    return {name: {k: round(v.value, 4) for k, v in metrics.items()}}


def stages(config: QuickstartConfig, workdir: Path) -> list[Stage]:
    """The pipeline in order: build, two-stage's own stages, export, eval; each a closure."""
    from metaalign.train.two_stage_pipeline import two_stage_stages

    folders = WorkFolder(workdir)

    def bind(fn: Any, *args: Any) -> Any:
        return lambda: fn(config, folders, *args)

    # what each stage's result depends on besides the stages before it (the runner chains those)
    evaluation = {"eval": config.eval.model_dump()}
    return [
        Stage("build", "build the dataset offline", bind(_build),
              {"model": config.model, "seed": config.seed, "build": config.build}),
        *two_stage_stages(train_values(config, folders)),
        Stage("export", "merge the adapters into a standalone model", bind(_export)),
        Stage("eval-base", "evaluate the base model (with the meta-prompt)",
              bind(_evaluate, "base", config.model), {"model": config.model, **evaluation}),
        Stage("eval-metaaligned", "evaluate the MetaAligned model",
              bind(_evaluate, "metaaligned", str(folders.model)), evaluation),
    ]  # fmt: skip


def stage_seconds(done: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    return {name: float(record["seconds"]) for name, record in done.items()}


def run_quickstart(config: QuickstartConfig, workdir: Path, *, command: str) -> dict[str, Any]:
    """Every stage (skipping finished ones), then the joined report and the summary in report/."""
    import datetime
    import json

    from metaalign.eval.report import Report, compare
    from metaalign.quickstart.verdict import SUMMARY_NAME, readme_section, summarize
    from metaalign.stages import run_stages

    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    folders = WorkFolder(workdir)
    done = run_stages(stages(config, workdir), workdir / "stages")
    runs = [Report.load(folders.eval(name)) for name in ("base", "metaaligned")]
    compare(runs, folders.report)
    reports = {r.systems[0].name: {k: v.to_json() for k, v in r.systems[0].metrics.items()} for r in runs}
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    goals = config.targets.model_dump()
    summary = summarize(reports, stage_seconds(done), date=today, command=command, goals=goals)
    (folders.report / SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (folders.report / "README-section.md").write_text(readme_section(summary) + "\n", encoding="utf-8")
    return summary
