"""The recipe search: short proxy runs of quickstart-like variants, one table row each.

Owns the search file's shape (shared build/eval settings, a base training section, named
variants that override it), running a variant (build once per distinct build section, SFT,
optionally on-policy DPO, export, a fixed eval slice; `train: null` evaluates the base model)
with resume, and the Markdown table.
Training, eval and build are their own modules'; this only wires them per variant.

    python -m metaalign.quickstart.search recipes/search/proxy.yaml [--only NAME ...] [--table FILE]

`--only` with no names runs nothing and only rewrites the table from the finished variants.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from metaalign.yamlio import read_yaml_mapping

RESULT_NAME = "result.json"


def merged(base: Mapping[str, Any], over: Mapping[str, Any] | None) -> dict[str, Any]:
    """`base` with `over` laid on top, mapping by mapping; a None value removes the key."""
    out = dict(base)
    for key, value in (over or {}).items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def variant_settings(search: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The full settings of one variant: the search's shared sections overlaid by the variant's."""
    variants = search.get("variants") or {}
    if name not in variants:
        raise KeyError(f"unknown variant {name!r}; the search defines: {', '.join(variants)}")
    shared = {k: search[k] for k in ("model", "seed", "threads", "build", "train", "eval") if k in search}
    return merged(shared, variants[name] or {})


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _build(settings: Mapping[str, Any], root: Path) -> Path:
    """The variant's build folder, shared by every variant with the same build settings."""
    from metaalign.build.build_config import BuildConfig
    from metaalign.build.pipeline import run_build

    values = {**settings.get("build", {}), "seed": settings.get("seed", 0)}
    values["policy"] = {**values.get("policy", {}), "model": settings.get("model", "smollm2-135m")}
    out = root / "builds" / _fingerprint(values)
    if not (out / "stats.json").exists():
        run_build(BuildConfig.model_validate({**values, "output_dir": str(out), "progress": False}))
    return out


def _train(settings: Mapping[str, Any], build: Path, out: Path) -> Path:
    """SFT, then two-stage DPO when `train.dpo` is set; returns the exported model folder.

    The SFT run is shared by every variant with the same SFT data and settings (root/sft/<hash>),
    so DPO variants of one SFT model train it once, also over builds that differ only in DPO pairs.
    """
    from metaalign.train.run import train_sft
    from metaalign.train.two_stage_pipeline import export_once, two_stage

    train = dict(settings.get("train", {}))
    shared = {k: settings[k] for k in ("model", "seed", "threads") if k in settings}
    sft = {**train.get("sft", {}), "train_file": str(build / "sft_train.jsonl")}
    data = hashlib.sha256((build / "sft_train.jsonl").read_bytes()).hexdigest()  # not its path
    sft_dir = out.parent / "sft" / _fingerprint({**shared, **sft, "train_file": data})
    sft_run = train_sft({**shared, **sft, "output_dir": str(sft_dir)})
    if not train.get("dpo"):
        return export_once(sft_run, out / "model")
    merged = export_once(sft_run, sft_dir.with_name(sft_dir.name + "-merged"))
    run_dir = out / "train"
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, target in (("sft", sft_run), ("sft-merged", merged)):  # two_stage finds them done
        if not (run_dir / name).exists():
            (run_dir / name).symlink_to(target.resolve(), target_is_directory=True)
    sample = {**train.get("sample", {}), "prompts_file": str(build / "dpo_train.jsonl")}
    run = two_stage({**train, **shared, "sft": sft, "sample": sample, "output_dir": str(run_dir)})
    return export_once(run, out / "model")


def run_variant(search: Mapping[str, Any], name: str, root: Path) -> dict[str, Any]:
    """Build (shared), train, evaluate one variant; a finished variant's result is returned as is."""
    from metaalign.eval.verifiable import run_verifiable
    from metaalign.quickstart.verdict import headline, per_type

    out = root / name
    result_path = out / RESULT_NAME
    settings = variant_settings(search, name)
    if result_path.exists():
        result = json.loads(result_path.read_text(encoding="utf-8"))
        if result.get("fingerprint") == _fingerprint(settings):
            return result
        raise ValueError(
            f"{result_path}: variant '{name}' changed since it ran; delete {out} to run it again"
        )
    if settings.get("threads"):
        import torch

        torch.set_num_threads(int(settings["threads"]))
    minutes: dict[str, float] = {}
    start = time.perf_counter()
    model = settings.get("model", "smollm2-135m")  # `train: null`: the base model, for reference
    if settings.get("train"):
        build = _build(settings, root)
        minutes["build"], start = (time.perf_counter() - start) / 60, time.perf_counter()
        model = str(_train(settings, build, out))
    minutes["train"], start = (time.perf_counter() - start) / 60, time.perf_counter()
    report = run_verifiable(model, out_dir=out / "eval", name=name, quiet=True, **settings.get("eval", {}))
    minutes["eval"] = (time.perf_counter() - start) / 60
    metrics = {k: v.to_json() for k, v in report.system(name).metrics.items()}
    result = {
        "name": name,
        "fingerprint": _fingerprint(settings),
        "settings": settings,
        "figures": headline(metrics),
        "types": per_type(metrics),
        "minutes": {k: round(v, 1) for k, v in minutes.items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _describe(settings: Mapping[str, Any], base: Mapping[str, Any], prefix: str = "") -> list[str]:
    """What a variant changes from the search's shared settings: `a.b=v`, or `a.b removed` once
    for a whole section the variant drops."""
    changes = []
    for key in sorted(set(settings) | set(base), key=str):
        name, mine, theirs = f"{prefix}{key}", settings.get(key), base.get(key)
        if key not in settings:
            changes.append(f"{name} removed")
        elif isinstance(mine, Mapping) and isinstance(theirs, Mapping):
            changes += _describe(mine, theirs, f"{name}.")
        elif mine != theirs:
            changes.append(f"{name}={mine}")
    return changes


def table(results: Sequence[Mapping[str, Any]], search: Mapping[str, Any], command: str) -> str:
    """One Markdown row per variant: the headline figures, its changes and the command that reruns it."""
    base = variant_settings({**search, "variants": {"_": {}}}, "_")
    lines = [
        "| variant | single-tier | conflict | leakage | types at 0 | train min | changes | command |",
        "|---|---:|---:|---:|---|---:|---|---|",
    ]
    for r in results:
        f = r["figures"]
        zeros = ", ".join(t for t, v in sorted(r["types"].items()) if v == 0) or "-"
        rerun = f"`{command} --only {r['name']}`"
        lines.append(
            f"| {r['name']} | {f['single_tier_adherence']:.3f} | {f['conflict_accuracy']:.3f} | "
            f"{f['leakage']:.3f} | {zeros} | {r['minutes']['train']:.1f} | "
            f"{', '.join(_describe(r['settings'], base)) or '(the shared settings)'} | {rerun} |"
        )
    return "\n".join(lines) + "\n"


TABLE_START, TABLE_END = "<!-- search-table:start -->", "<!-- search-table:end -->"


def _row_name(line: str) -> str:
    return line.split("|")[1].strip()


def write_table(path: Path, text: str, order: Sequence[str] = ()) -> None:
    """The table into `path`: between its table markers when it has them, else as the whole file.

    Rows already there for variants `text` lacks (runs made elsewhere, whose results are not in
    this workdir) are kept; rows are then sorted by `order` (the search's variant order).
    """
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if TABLE_START not in old or TABLE_END not in old:
        path.write_text(text, encoding="utf-8")
        return
    head, rest = old.split(TABLE_START, 1)
    inside, tail = rest.split(TABLE_END, 1)
    header, rows = text.splitlines()[:2], text.splitlines()[2:]
    names = {_row_name(r) for r in rows}
    earlier = [r for r in inside.strip().splitlines()[2:] if r.startswith("|") and _row_name(r) not in names]
    rank = {name: i for i, name in enumerate(order)}
    rows = sorted(earlier + rows, key=lambda r: rank.get(_row_name(r), len(rank)))
    body = "\n".join(header + rows) + "\n"
    path.write_text(f"{head}{TABLE_START}\n{body}{TABLE_END}{tail}", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run recipe-search variants and tabulate them.")
    parser.add_argument("search", type=Path, help="a search file, e.g. recipes/search/proxy.yaml")
    parser.add_argument(
        "--only", nargs="*", default=None, help="variant names (default: all; none: only write the table)"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="default: runs/search/<file stem>")
    parser.add_argument("--table", type=Path, default=None, help="write the Markdown table here")
    args = parser.parse_args(argv)
    search, _ = read_yaml_mapping(args.search, "search settings")
    root = args.workdir or Path("runs/search") / args.search.stem
    names = args.only if args.only is not None else list(search.get("variants") or {})
    results = []
    for name in names:
        print(f"search: {name} ...", flush=True)
        result = run_variant(search, name, root)
        results.append(result)
        print(f"search: {name}: {json.dumps(result['figures'])}", flush=True)
    if args.table:
        done = [json.loads(p.read_text()) for p in sorted(root.glob(f"*/{RESULT_NAME}"))]
        order = list(search.get("variants") or {})
        done.sort(key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
        command = f"python -m metaalign.quickstart.search {args.search}"
        write_table(args.table, table(done, search, command), order)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
