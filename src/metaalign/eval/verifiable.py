"""The judge-free verifiable eval: generate each suite case through an Engine, check, report.

Owns the systems under test (a model with or without the meta-prompt), resumable generation
through any `Engine` (batched; greedy), scoring with the shared checkers of
metaalign.preferences, and the `run_verifiable` / `evaluate_systems` entry points. Metrics
live in metrics.py, the report layout in report.py.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaalign.engine import Engine, GenerationRequest
from metaalign.eval.generation_store import GenerationStore
from metaalign.eval.metrics import ScoredCase, verifiable_metrics
from metaalign.eval.report import Report, SystemResult
from metaalign.eval.suite import Suite, SuiteCase, load_suite

MAX_NEW_TOKENS = 128
BASELINES = ("base", "base-no-meta")


@dataclass(frozen=True)
class EvalSystem:
    """A model (a reference, or an Engine already built) and whether it sees the meta-prompt.

    Without the meta-prompt both tiers are left empty (the renderer writes its documented
    defaults), so the preferences are dropped from the prompt: the chance-level baseline.
    """

    name: str
    model: str | Engine
    meta_prompt: bool = True

    @property
    def model_ref(self) -> str:
        return self.model if isinstance(self.model, str) else type(self.model).__name__


def baseline_system(spec: str, base_model: str) -> EvalSystem:
    """`base` -> the base model with the meta-prompt; `base-no-meta` -> without; else a model ref."""
    if spec == "base":
        return EvalSystem("base", base_model, True)
    if spec == "base-no-meta":
        return EvalSystem("base-no-meta", base_model, False)
    return EvalSystem(model_label(spec), spec, True)


def model_label(ref: str) -> str:
    """A short display name for a model reference (its last path component)."""
    return Path(ref.rstrip("/")).name or ref


def case_request(case: SuiteCase, *, meta_prompt: bool = True, max_new_tokens: int = MAX_NEW_TOKENS):
    """The greedy generation request for one case."""
    si, ui = (case.system_info, case.user_info) if meta_prompt else (None, None)
    return GenerationRequest.for_query(si, ui, case.instruction, max_new_tokens=max_new_tokens)


def score_case(case: SuiteCase, text: str, *, truncated: bool = False) -> ScoredCase:
    """Run each of the case's checks on `text` with the shared checkers.

    `ScoredCase.passed` equals `metaalign.preferences.verify(expected_checks, text)`.
    """
    from metaalign.preferences import Check, check

    outcomes = tuple(bool(check(Check(c.id, dict(c.params)), text)) for c in case.checks)
    return ScoredCase(case, outcomes, truncated)


def generate_cases(
    engine: Engine,
    cases: Sequence[SuiteCase],
    store: GenerationStore,
    *,
    meta_prompt: bool = True,
    max_new_tokens: int = MAX_NEW_TOKENS,
    chunk: int = 16,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Generate every case not yet in `store`, `chunk` at a time, persisting each chunk at once.

    Cases go in suite order (the built-in suite is shuffled, so a stopped run has done a mixed
    sample: rerun with `--limit` = the count done to report on it), sorted by prompt length only
    within windows of 4 chunks so that batches pad little. Returns case id -> stored row.
    """
    pending = [c for c in cases if c.id not in store.done]
    window = 4 * chunk
    todo: list[SuiteCase] = []
    for offset in range(0, len(pending), window):
        todo += sorted(pending[offset : offset + window], key=lambda c: _prompt_chars(c, meta_prompt))
    start, done = time.perf_counter(), 0
    for offset in range(0, len(todo), chunk):
        batch = todo[offset : offset + chunk]
        requests = [case_request(c, meta_prompt=meta_prompt, max_new_tokens=max_new_tokens) for c in batch]
        completions = engine.generate(requests)
        store.append(
            {
                "case_id": c.id,
                "text": out.text,
                "completion_tokens": out.completion_tokens,
                "finish_reason": out.finish_reason,
            }
            for c, out in zip(batch, completions, strict=True)
        )
        done += len(batch)
        if progress:
            progress(done, len(todo), time.perf_counter() - start)
    return {c.id: store.done[c.id] for c in cases}


def _prompt_chars(case: SuiteCase, meta_prompt: bool) -> int:
    tiers = len(case.system_info or "") + len(case.user_info or "") if meta_prompt else 0
    return len(case.instruction) + tiers


def _print_progress(name: str) -> Callable[[int, int, float], None]:
    def show(done: int, total: int, seconds: float) -> None:
        rate = done / seconds if seconds > 0 else 0.0
        print(f"[{name}] {done}/{total} generated, {rate:.2f} cases/s", file=sys.stderr, flush=True)

    return show


def evaluate_system(
    system: EvalSystem,
    suite: Suite,
    out_dir: Path,
    *,
    engine: Engine,
    limit: int | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
    chunk: int | None = None,
    seed: int = 0,
    quiet: bool = False,
) -> SystemResult:
    """Generate (resuming), score and summarise one system; generations go to out_dir/generations/."""
    cases = list(suite.cases[:limit] if limit else suite.cases)
    settings = {
        "model": system.model_ref,
        "meta_prompt": system.meta_prompt,
        "max_new_tokens": max_new_tokens,
        "suite_split": suite.split,
        "decoding": "greedy",
    }
    dtype = getattr(engine, "dtype", "fp32")
    if dtype != "fp32":  # fp32 runs keep the header they always had, so they still resume
        settings["dtype"] = dtype
    store = GenerationStore(out_dir / "generations" / f"{slug(system.name)}.jsonl", settings)
    resumed = sum(c.id in store.done for c in cases)
    started = time.perf_counter()
    rows = generate_cases(
        engine,
        cases,
        store,
        meta_prompt=system.meta_prompt,
        max_new_tokens=max_new_tokens,
        chunk=chunk or getattr(engine, "batch_size", 16),
        progress=None if quiet else _print_progress(system.name),
    )
    seconds = time.perf_counter() - started
    scored = [
        score_case(c, rows[c.id]["text"], truncated=rows[c.id]["finish_reason"] == "length") for c in cases
    ]
    generated = len(cases) - resumed
    info = {
        "cases": len(cases),
        "resumed": resumed,
        "generated": generated,
        "generation_seconds": round(seconds, 2),
        "cases_per_s": round(generated / seconds, 3) if generated and seconds > 0 else None,
        "max_new_tokens": max_new_tokens,
    }
    metrics = verifiable_metrics(scored, seed=seed)
    return SystemResult(system.name, system.model_ref, metrics, system.meta_prompt, info)


def evaluate_systems(
    systems: Sequence[EvalSystem],
    suite: Suite | str | Path | None,
    out_dir: str | Path,
    *,
    engine_factory: Callable[[str], Engine] | None = None,
    limit: int | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = 16,
    seed: int = 0,
    quiet: bool = False,
) -> Report:
    """Evaluate several systems on one suite into one report (each model is loaded once).

    Model references become engines through `engine_factory` (default: the transformers
    engine with `batch_size`).
    """
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    out = Path(out_dir)
    engines: dict[str, Engine] = {}
    results = []
    for system in systems:
        if isinstance(system.model, str):
            if system.model not in engines:
                factory = engine_factory or (lambda ref: transformers_engine(ref, batch_size))
                engines[system.model] = factory(system.model)
            engine = engines[system.model]
        else:
            engine = system.model
        results.append(
            evaluate_system(
                system,
                suite,
                out,
                engine=engine,
                limit=limit,
                max_new_tokens=max_new_tokens,
                seed=seed,
                quiet=quiet,
            )
        )
    info = {"suite": suite.source, "split": suite.split, "bootstrap_seed": seed, "confidence": 0.95}
    report = Report("verifiable", results, info)
    report.save(out)
    return report


def run_verifiable(
    model: str | Engine,
    suite: Suite | str | Path | None = None,
    out_dir: str | Path = "eval-verifiable",
    limit: int | None = None,
    no_meta: bool = False,
    *,
    name: str | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = 16,
    seed: int = 0,
    quiet: bool = False,
) -> Report:
    """Evaluate one model (a reference or an Engine) on a suite (default: the built-in one).

    Writes out_dir/report.{json,md,png} and out_dir/generations/<name>.jsonl; rerunning with
    the same out_dir resumes without regenerating finished cases.
    """
    label = name or (model_label(model) if isinstance(model, str) else "model")
    if no_meta and not name:
        label += "-no-meta"
    system = EvalSystem(label, model, not no_meta)
    return evaluate_systems(
        [system],
        suite,
        out_dir,
        limit=limit,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        seed=seed,
        quiet=quiet,
    )


def transformers_engine(
    ref: str, batch_size: int = 16, dtype: str | None = None, threads: int | None = None
) -> Engine:
    """The batched transformers engine for `ref`, batching across System Infos; weights in `dtype`.

    Suite cases rarely share a System Info, and the engine batches only requests that share a
    cached prefix; with the prefix cache off every request can join a batch.
    """
    from metaalign.engine.load import load_engine

    return load_engine(ref, batch_size=batch_size, threads=threads, dtype=dtype, prefix_cache_size=0)


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def checks_summary(metrics: Mapping[str, Any]) -> str:
    """One line with the headline figures, for the CLI."""
    keys = ("adherence", "conflict", "leakage")
    return ", ".join(f"{k} {metrics[k].value:.3f}" for k in keys if k in metrics)
