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

DEFAULT_NAME = "quickstart"  # the packaged config's results; another config's are named by its file
SUMMARY_NAME = "quickstart.json"  # in the run's report folder, whatever the config


def markers(name: str = DEFAULT_NAME) -> tuple[str, str]:
    """The README comments that enclose the results section of the run called `name`."""
    return f"<!-- {name}-results:start -->", f"<!-- {name}-results:end -->"


START, END = markers()


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


def per_type(metrics: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Adherence per preference type (`type/<id>` metrics), keyed by the type's id."""
    return {k.split("/", 1)[1]: v["value"] for k, v in metrics.items() if k.startswith("type/")}


# the quickstart's default targets (QuickstartConfig.targets; a recipe may set stricter ones)
TARGETS = {"single_tier_adherence": 0.65, "conflict_accuracy": 0.75, "leakage_over_base": 0.02}


def targets(
    base: Mapping[str, float], trained: Mapping[str, float], goals: Mapping[str, float] = TARGETS
) -> dict[str, dict[str, Any]]:
    """Each target with its threshold and whether the MetaAligned model met it."""
    limit = base["leakage"] + goals["leakage_over_base"]
    single, conflict = goals["single_tier_adherence"], goals["conflict_accuracy"]
    rows = {
        "single_tier_adherence": (f">= {single:.2f}", trained["single_tier_adherence"] >= single),
        "conflict_accuracy": (f">= {conflict:.2f}", trained["conflict_accuracy"] >= conflict),
        "leakage": (
            f"<= {limit:.3f} (base + {goals['leakage_over_base']:.2f})",
            trained["leakage"] <= limit,
        ),
    }
    return {name: {"target": text, "met": bool(met)} for name, (text, met) in rows.items()}


def summarize(
    reports: Mapping[str, Mapping[str, Any]],
    seconds: Mapping[str, float],
    *,
    date: str,
    command: str,
    goals: Mapping[str, float] = TARGETS,
) -> dict[str, Any]:
    """reports: system name ('base', 'metaaligned') -> its metrics as saved in report.json."""
    figures = {name: headline(metrics) for name, metrics in reports.items()}
    n_cases = sum(int(reports["metaaligned"][k]["n"]) for k in ("adherence", "conflict", "leakage"))
    types = {name: per_type(metrics) for name, metrics in reports.items()}
    zeros = sorted(t for t, v in types["metaaligned"].items() if v == 0)
    return {
        "date": date,
        "command": command,
        "cases": n_cases,
        "figures": figures,
        "types": types,
        "targets": {
            **targets(figures["base"], figures["metaaligned"], goals),
            "types_at_zero": {"target": "none", "met": not zeros, "types": zeros},
        },
        "stage_seconds": dict(seconds),
        "total_minutes": round(sum(seconds.values()) / 60, 1),
    }


def readme_section(
    summary: Mapping[str, Any], plot: str = f"docs/results/{DEFAULT_NAME}.png", name: str = DEFAULT_NAME
) -> str:
    """The README's results section of run `name`, generated from the summary (never typed by hand)."""
    start, end = markers(name)
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
    zeros = summary["targets"].get("types_at_zero")
    if zeros is not None:
        met = "yes" if zeros["met"] else "**no** (" + ", ".join(zeros["types"]) + ")"
        rows.append(f"| preference types never followed | - | {len(zeros['types'])} | none | {met} |")
    if summary.get("types"):
        rows += ["", *type_rows(summary["types"])]
    times = ", ".join(f"{name} {s / 60:.1f}" for name, s in summary["stage_seconds"].items())
    return "\n".join(
        [
            start,
            f"Produced on {summary['date']} by `{summary['command']}` "
            f"({summary['total_minutes']} min in all; {summary['cases']} held-out cases).",
            "",
            *rows,
            "",
            f"Minutes per stage: {times}.",
            "",
            f"![base vs MetaAligned]({plot})",
            end,
        ]
    )


def type_rows(types: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Adherence per preference type, base beside MetaAligned (a folded Markdown table)."""
    base, trained = types.get("base", {}), types.get("metaaligned", {})
    rows = [
        "<details><summary>Adherence per preference type</summary>",
        "",
        "| type | base | MetaAligned |",
        "|---|---:|---:|",
    ]
    rows += [f"| {t} | {base.get(t, float('nan')):.2f} | {trained[t]:.2f} |" for t in sorted(trained)]
    return [*rows, "", "</details>"]


def publish(report_dir: Path, readme: Path, results_dir: Path, name: str = DEFAULT_NAME) -> None:
    """Copy the summary and plot beside the README as `name`.json/.png and replace its `name` section."""
    summary = json.loads((report_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    results_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report_dir / SUMMARY_NAME, results_dir / f"{name}.json")
    shutil.copyfile(report_dir / "report.png", results_dir / f"{name}.png")
    plot = (results_dir / f"{name}.png").resolve().relative_to(readme.resolve().parent).as_posix()
    text = readme.read_text(encoding="utf-8")
    start, end = markers(name)
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), flags=re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{readme}: no results markers ({start} ... {end}) to replace")
    readme.write_text(pattern.sub(lambda _: readme_section(summary, plot, name), text), encoding="utf-8")
