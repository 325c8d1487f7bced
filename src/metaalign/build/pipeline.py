"""`run_build(config)`: the whole dataset build, stage after stage, resumable from its store.

Owns the order of the stages, loading inputs before any work (so bad files fail first), making
the engine and endpoint client only when a stage still needs them, and the output folder:
store.sqlite, <split> record files, stats.json / stats.md (deterministic) and run.json (timings).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metaalign.build import candidates, export_records, respond
from metaalign.build.assign import MetaPrompt, Pools, assign, select_instructions
from metaalign.build.build_config import BuildConfig
from metaalign.build.build_stats import records_stats, store_stats, to_markdown
from metaalign.build.runner import RecordedClient
from metaalign.build.store import BuildStore
from metaalign.errors import MetaAlignError
from metaalign.records.writing import atomic_write_text

STORE_NAME = "store.sqlite"
log = logging.getLogger("metaalign.build")


class BuildIncomplete(MetaAlignError):
    """Some items are still pending after their retries; re-running the same command resumes them."""


@dataclass
class BuildResult:
    """What a build produced: file paths by name (e.g. "sft_train.jsonl"), its stats, and run facts."""

    paths: dict[str, str]
    stats: dict[str, Any]
    usage: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Inputs:
    instructions: list[Any]
    library: Any


def load_inputs(config: BuildConfig) -> Inputs:
    """Instructions and library, validated (file:line errors) before any work starts."""
    from metaalign.preferences import load_instructions, load_library

    return Inputs(list(load_instructions(config.instructions)), load_library(config.library))


def plan_build(config: BuildConfig, inputs: Inputs) -> tuple[list[Any], list[MetaPrompt]]:
    """The instructions (train, then held-out) and every meta-prompt assigned to them."""
    judged = config.judge
    selected: list[Any] = []
    plan: list[MetaPrompt] = []
    for split, n in (("train", config.instructions_train), (config.held_out_split, config.instructions_test)):
        if split != "train" and n == 0:
            continue
        chosen = select_instructions(inputs.instructions, split, n, config.seed)
        library = inputs.library
        if split == "train" and config.paraphrases:
            from metaalign.preferences.paraphrase import with_paraphrases

            library = with_paraphrases(library, config.paraphrases, config.seed)
        pools = Pools(library, split, config.types, config.conflict_user_share, config.conflict_rules)
        selected += chosen
        plan += [mp for i in chosen for mp in assign(i, pools, config, judged)]
    return selected, plan


def make_client(config: BuildConfig) -> Any:
    from metaalign.endpoints import OpenAIChatClient

    e = config.endpoint
    return OpenAIChatClient(
        base_url=e.base_url or "",
        model=e.model or "",
        api_key=config.api_key(),
        concurrency=e.concurrency,
        max_retries=e.max_retries,
        timeout=e.timeout,
        backoff=e.backoff,
        price_prompt=e.price_prompt,
        price_completion=e.price_completion,
    )


def make_engine(config: BuildConfig) -> Any:
    if config.policy.backend == "fake":
        return candidates.fake_engine(config)
    from metaalign.engine.load import load_engine

    policy = config.policy
    return load_engine(policy.model, batch_size=policy.batch_size, threads=policy.threads)


def _run_stages(
    config: BuildConfig,
    store: BuildStore,
    inputs: Inputs,
    engine: Any,
    client: Any,
    timings: dict[str, float],
) -> list[MetaPrompt]:
    selected, plan = plan_build(config, inputs)
    if client is not None:
        client = RecordedClient(client, store)
    store.put_many("assignments", [mp.row() for mp in plan])
    work = candidates.jobs(selected, config.candidates)
    start = time.perf_counter()
    if config.policy.backend == "endpoint":
        candidates.sample_with_endpoint(config, work, store, client)
    elif store.ids("candidates") >= {j.id for j in work} and work:
        pass  # every candidate is stored: no engine needed
    else:
        engine = engine or make_engine(config)
        candidates.sample_with_engine(config, work, store, engine, config.policy.backend)
    timings["sample"] = time.perf_counter() - start
    stored = store.rows("candidates")
    missing = {j.id for j in work} - {r["id"] for r in stored}
    if missing:
        return plan  # candidates still pending: reported by the caller
    raw = {r["id"]: text for r in stored if (text := candidates.candidate_text(r)) is not None}
    if len(raw) < len(stored):
        log.warning("build: %d of %d candidates had no finished sentence; dropped", len(stored) - len(raw),
                    len(stored))  # fmt: skip
    queries = {i.id: i.text for i in selected}
    start = time.perf_counter()
    respond.respond_offline(config, plan, raw, store)
    items = respond.rewrite_items(config, plan, queries, raw)
    if items:
        respond.respond_rewrite(config, items, store, client)
    timings["respond"] = time.perf_counter() - start
    start = time.perf_counter()
    judged = respond.judge_items(config, plan, queries, raw, store)
    if judged:
        respond.annotate_judge(config, judged, raw, store, client)
    timings["annotate"] = time.perf_counter() - start
    return plan


def run_build(config: BuildConfig, *, engine: Any = None, client: Any = None) -> BuildResult:
    """Build (or resume) the dataset described by `config`; returns the written paths and stats.

    `engine` (an `Engine`) replaces the configured local/fake policy; `client` (a `ChatClient`)
    replaces the configured endpoint. Raises `BuildIncomplete` when items are still pending.
    """
    inputs = load_inputs(config)
    if client is None and config.needs_endpoint:
        client = make_client(config)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    begin = time.perf_counter()
    with BuildStore(out / STORE_NAME, config.fingerprint()) as store:
        plan = _run_stages(config, store, inputs, engine, client, timings)
        failures = store.rows("failures")
        if failures or store.count("candidates") == 0:
            first = failures[0]["error"] if failures else "no candidates were produced"
            raise BuildIncomplete(
                f"{len(failures)} item(s) still pending after their retries (first: {first}); "
                f"the finished work is saved in {out / STORE_NAME}: re-run the same command to resume"
            )
        start = time.perf_counter()
        paths, stats = _export(config, store, inputs, plan)
        timings["export"] = time.perf_counter() - start
    timings["total"] = time.perf_counter() - begin
    usage = client.usage.as_dict() if client is not None and hasattr(client, "usage") else {}
    run = {"timings_s": {k: round(v, 3) for k, v in timings.items()}, "endpoint_usage": usage}
    atomic_write_text(out / "run.json", json.dumps(run, indent=2) + "\n")
    paths["run.json"] = str(out / "run.json")
    return BuildResult(paths, stats, usage, timings)


def _export(
    config: BuildConfig, store: BuildStore, inputs: Inputs, plan: list[MetaPrompt]
) -> tuple[dict[str, str], dict[str, Any]]:
    instructions = {i.id: i for i in inputs.instructions}
    data = export_records.Collected(store)
    paths: dict[str, str] = {}
    files: dict[str, Any] = {}
    for split, label in (("train", "train"), (config.held_out_split, "test")):
        part = [mp for mp in plan if mp.split == split]
        sft = export_records.sft_records(part, instructions, data)
        dpo = export_records.dpo_records(
            part, instructions, data, config.pairs_per_meta_prompt, leakage=config.leakage_pairs
        )
        for name, records in ((f"sft_{label}", sft), (f"dpo_{label}", dpo)):
            for fmt, path in export_records.write_split(config, name, records).items():
                paths[f"{name}.{fmt}"] = path
            if records:
                files[name] = records_stats(records)
    rows = {t: store.rows(t) for t in ("candidates", "responses", "judgments")}
    stats = {
        "fingerprint": config.fingerprint(),
        "seed": config.seed,
        "files": files,
        "store": store_stats(rows, {mp.id: mp.split for mp in plan}),
    }
    out = Path(config.output_dir)
    atomic_write_text(out / "stats.json", json.dumps(stats, indent=2, sort_keys=True) + "\n")
    atomic_write_text(out / "stats.md", to_markdown(stats))
    paths["stats.json"], paths["stats.md"] = str(out / "stats.json"), str(out / "stats.md")
    return paths, stats
