"""The quickstart's verdict: the base and MetaAligned figures against issue targets, and the README.

Owns the summary (figures, targets, stage times, date, command), its Markdown section and the
splice of that section into the README between markers. It computes no metric (eval does)
and runs no model; everything here is a pure function of saved reports.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

START, END = "<!-- quickstart-results:start -->", "<!-- quickstart-results:end -->"
PLOT_NAME = "quickstart.png"
SUMMARY_NAME = "quickstart.json"


def single_tier(metrics: Mapping[str, Mapping[str, float]]) -> float:
    """Adherence over the cases whose preference sits in one tier only (System Info or User Info)."""
    parts = [metrics[k] for k in ("adherence/system", "adherence/user") if k in metrics]
    n = sum(p["n"] for p in parts)
    return sum(p["value"] * p["n"] for p in parts) / n if n else float("nan")


def headline(metrics: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The three figures issue 7 sets targets for, plus overall adherence."""
    return {
        "single_tier_adherence": single_tier(metrics),
        "conflict_accuracy": metrics["conflict"]["value"],
        "leakage": metrics["leakage"]["value"],
        "adherence": metrics["adherence"]["value"],
    }


def targets(base: Mapping[str, float], trained: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Each target with its threshold and whether the MetaAligned model met it."""
    limit = base["leakage"] + 0.05
    rows = {
        "single_tier_adherence": (">= 0.50", trained["single_tier_adherence"] >= 0.50),
        "conflict_accuracy": (">= 0.80", trained["conflict_accuracy"] >= 0.80),
        "leakage": (f"<= {limit:.3f} (base + 0.05)", trained["leakage"] <= limit),
    }
    return {name: {"target": text, "met": bool(met)} for name, (text, met) in rows.items()}


def summarize(
    reports: Mapping[str, Mapping[str, Any]], seconds: Mapping[str, float], *, date: str, command: str
) -> dict[str, Any]:
    """reports: system name ('base', 'metaaligned') -> its metrics as saved in report.json."""
    figures = {name: headline(metrics) for name, metrics in reports.items()}
    n_cases = sum(int(reports["metaaligned"][k]["n"]) for k in ("adherence", "conflict", "leakage"))
    return {
        "date": date,
        "command": command,
        "cases": n_cases,
        "figures": figures,
        "targets": targets(figures["base"], figures["metaaligned"]),
        "stage_seconds": dict(seconds),
        "total_minutes": round(sum(seconds.values()) / 60, 1),
    }


def readme_section(summary: Mapping[str, Any], plot: str = f"docs/results/{PLOT_NAME}") -> str:
    """The README's results section, generated from the summary (never typed by hand)."""
    base, trained = summary["figures"]["base"], summary["figures"]["metaaligned"]
    labels = {
        "single_tier_adherence": "adherence, preference in one tier",
        "conflict_accuracy": "conflict resolution accuracy",
        "leakage": "leakage (lower is better)",
        "adherence": "adherence, all placements",
    }
    rows = ["| figure | base + meta-prompt | MetaAligned | target | met |", "|---|---:|---:|---|---|"]
    for key, label in labels.items():
        goal = summary["targets"].get(key) or {"target": "-"}
        met = "-" if "met" not in goal else ("yes" if goal["met"] else "**no**")
        rows.append(f"| {label} | {base[key]:.3f} | {trained[key]:.3f} | {goal['target']} | {met} |")
    times = ", ".join(f"{name} {s / 60:.1f}" for name, s in summary["stage_seconds"].items())
    return "\n".join(
        [
            START,
            f"Produced on {summary['date']} by `{summary['command']}` "
            f"({summary['total_minutes']} min in all; {summary['cases']} held-out cases).",
            "",
            *rows,
            "",
            f"Minutes per stage: {times}.",
            "",
            f"![base vs MetaAligned]({plot})",
            END,
        ]
    )


def publish(report_dir: Path, readme: Path, results_dir: Path) -> None:
    """Copy the summary and plot beside the README and replace its results section."""
    summary = json.loads((report_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    results_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report_dir / SUMMARY_NAME, results_dir / SUMMARY_NAME)
    shutil.copyfile(report_dir / "report.png", results_dir / PLOT_NAME)
    plot = (results_dir / PLOT_NAME).resolve().relative_to(readme.resolve().parent).as_posix()
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), flags=re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{readme}: no results markers ({START} ... {END}) to replace")
    readme.write_text(pattern.sub(lambda _: readme_section(summary, plot), text), encoding="utf-8")
