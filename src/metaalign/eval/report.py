"""Eval reports: one JSON file, one Markdown table and one PNG plot per run; `compare` joins runs.

Owns the `Report` layout on disk (report.json, report.md, report.png) and rendering. It does
not compute metrics (metrics.py) or run models. matplotlib is imported only when plotting
(Agg backend, no display needed).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError
from metaalign.eval.metrics import HEADLINE, Estimate

REPORT_JSON, REPORT_MD, REPORT_PNG = "report.json", "report.md", "report.png"
PathLike = str | os.PathLike[str]


@dataclass
class SystemResult:
    """One evaluated system: a model under one prompting mode, and its metrics."""

    name: str
    model: str
    metrics: dict[str, Estimate]
    meta_prompt: bool = True
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "meta_prompt": self.meta_prompt,
            "metrics": {k: v.to_json() for k, v in self.metrics.items()},
            "info": self.info,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SystemResult:
        metrics = {k: Estimate.from_json(v) for k, v in data["metrics"].items()}
        return cls(
            data["name"], data["model"], metrics, bool(data.get("meta_prompt", True)), data.get("info", {})
        )


@dataclass
class Report:
    """What a run measured: its kind (verifiable, judge, pairs, compare), systems and settings."""

    kind: str
    systems: list[SystemResult]
    info: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None

    def system(self, name: str) -> SystemResult:
        for s in self.systems:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "info": self.info, "systems": [s.to_json() for s in self.systems]}

    def save(self, out_dir: PathLike) -> Path:
        """Write report.json, report.md and report.png into `out_dir`; returns the folder."""
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / REPORT_JSON).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        (folder / REPORT_MD).write_text(markdown(self), encoding="utf-8")
        plot(self, folder / REPORT_PNG)
        self.out_dir = folder
        return folder

    @classmethod
    def load(cls, path: PathLike) -> Report:
        """A saved report, from its folder or its report.json."""
        file = Path(path)
        if file.is_dir():
            file = file / REPORT_JSON
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            systems = [SystemResult.from_json(s) for s in data["systems"]]
        except FileNotFoundError:
            raise MetaAlignError(f"{file}: no eval report there (run `metaalign eval ...` first)") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise MetaAlignError(f"{file}: not an eval report ({err})") from None
        return cls(data.get("kind", "?"), systems, data.get("info", {}), file.parent)


def metric_names(systems: Sequence[SystemResult]) -> list[str]:
    """Every metric any system has: headline ones in their fixed order, then the rest sorted."""
    names = {n for s in systems for n in s.metrics}
    head = [n for n in HEADLINE if n in names]
    return head + sorted(names - set(head))


def fmt(e: Estimate | None) -> str:
    if e is None or math.isnan(e.value):
        return "-"
    return f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}] (n={e.n})"


def markdown(report: Report) -> str:
    """A Markdown table, one row per metric and one column per system (value [95% CI] (n))."""
    names = metric_names(report.systems)
    header = "| metric | " + " | ".join(s.name for s in report.systems) + " |"
    rule = "|---|" + "---|" * len(report.systems)
    rows = [f"| {n} | " + " | ".join(fmt(s.metrics.get(n)) for s in report.systems) + " |" for n in names]
    lines = [f"# metaalign eval {report.kind}", ""]
    lines += [f"- {k}: {v}" for k, v in report.info.items() if not isinstance(v, dict | list)]
    lines += ["", "Each cell: value [95% bootstrap CI] (n cases).", "", header, rule, *rows, ""]
    lines += ["| system | model | meta-prompt |", "|---|---|---|"]
    lines += [f"| {s.name} | {s.model} | {'yes' if s.meta_prompt else 'no'} |" for s in report.systems]
    return "\n".join(lines) + "\n"


def plot(report: Report, path: PathLike) -> None:
    """Grouped bars with CI whiskers: headline metrics on top, per-type/other metrics below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = metric_names(report.systems)
    panels = [p for p in ([n for n in names if n in HEADLINE], [n for n in names if n not in HEADLINE]) if p]
    panels = panels or [[]]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(max(8, 0.5 * max(map(len, panels)) + 3), 4 * len(panels))
    )
    axes = [axes] if len(panels) == 1 else list(axes)
    width = 0.8 / max(1, len(report.systems))
    for ax, panel in zip(axes, panels, strict=True):
        for k, system in enumerate(report.systems):
            xs, ys, errs = _bars(system, panel)
            ax.bar([x + k * width for x in xs], ys, width, yerr=errs, capsize=2, label=system.name)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(panel))])
        ax.set_xticklabels(panel, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("share of cases (95% CI)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title(f"metaalign eval {report.kind}")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(system: SystemResult, panel: Sequence[str]) -> tuple[list[int], list[float], list[list[float]]]:
    """Positions, heights and (below, above) error lengths of one system's bars; NaN as empty."""
    xs, ys, low, high = [], [], [], []
    for i, name in enumerate(panel):
        e = system.metrics.get(name)
        if e is None or math.isnan(e.value):
            continue
        xs.append(i)
        ys.append(e.value)
        low.append(max(0.0, e.value - e.low))
        high.append(max(0.0, e.high - e.value))
    return xs, ys, [low, high]


def compare(runs: Sequence[PathLike | Report], out_dir: PathLike) -> Report:
    """Join saved runs (folders or reports) into one table and one plot written to `out_dir`.

    A system keeps its name when that is unique across runs; otherwise it becomes `run/name`.
    """
    reports = [r if isinstance(r, Report) else Report.load(r) for r in runs]
    if not reports:
        raise MetaAlignError("compare: give at least one run folder")
    counts: dict[str, int] = {}
    for r in reports:
        for s in r.systems:
            counts[s.name] = counts.get(s.name, 0) + 1
    systems: list[SystemResult] = []
    for index, r in enumerate(reports):
        run = r.out_dir.name if r.out_dir else f"run{index + 1}"
        for s in r.systems:
            name = s.name if counts[s.name] == 1 else f"{run}/{s.name}"
            systems.append(SystemResult(name, s.model, s.metrics, s.meta_prompt, {**s.info, "kind": r.kind}))
    sources = [str(r.out_dir) if r.out_dir else f"run{i + 1}" for i, r in enumerate(reports)]
    joined = Report(
        "compare", systems, {"runs": sources, "kinds": ", ".join(sorted({r.kind for r in reports}))}
    )
    joined.save(out_dir)
    return joined
