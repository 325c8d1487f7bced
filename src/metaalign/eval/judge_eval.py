"""Pairwise LLM-judge win rate of a model against a baseline under test-split meta-prompts.

Owns the prompts taken from a records file (SFT or preference records), resumable answer
generation for both systems, resumable verdicts (one line per judged prompt, kept by
metaalign.appendlog) and the win/tie/loss metrics. The verdict rules (position swap, ties) are
metaalign.judge's; HTTP is metaalign.endpoints'.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaalign.appendlog import AppendLog
from metaalign.engine import Engine, GenerationRequest
from metaalign.errors import MetaAlignError
from metaalign.eval.generation_store import GenerationStore
from metaalign.eval.metrics import proportion
from metaalign.eval.report import Report, SystemResult
from metaalign.eval.verifiable import MAX_NEW_TOKENS, EvalSystem, slug
from metaalign.records import PreferenceRecord, read_records


@dataclass(frozen=True)
class JudgePrompt:
    """One test prompt: the two tiers and a dialogue ending with a user turn."""

    id: str
    system_info: str | None
    user_info: str | None
    dialogue: tuple[dict[str, str], ...]

    @property
    def instruction(self) -> str:
        """The dialogue as the judge sees it: the last user turn, prefixed by earlier turns if any."""
        if len(self.dialogue) == 1:
            return self.dialogue[0]["content"]
        return "\n\n".join(f"{t['role']}: {t['content']}" for t in self.dialogue)


def load_prompts(path: str | Path, limit: int | None = None) -> list[JudgePrompt]:
    """Prompts from a records file (SFT or preference records).

    A preference record gives its prompt; an SFT record its dialogue up to the last user turn.
    """
    prompts = []
    for record in read_records(path).records:
        if isinstance(record, PreferenceRecord):
            turns = [m.model_dump() for m in record.prompt]
        else:
            turns = [m.model_dump() for m in record.messages]
            while turns and turns[-1]["role"] != "user":
                turns.pop()
        dialogue = tuple({"role": t["role"], "content": t["content"]} for t in turns)
        prompts.append(JudgePrompt(record.id, record.system_info, record.user_info, dialogue))
    return prompts[:limit] if limit else prompts


def generate_answers(
    engine: Engine, system: EvalSystem, prompts: Sequence[JudgePrompt], out_dir: Path, max_new_tokens: int
) -> dict[str, str]:
    """Answers of one system (resumable: out_dir/generations/<name>.jsonl)."""
    settings = {
        "model": system.model_ref,
        "meta_prompt": system.meta_prompt,
        "max_new_tokens": max_new_tokens,
    }
    store = GenerationStore(out_dir / "generations" / f"{slug(system.name)}.jsonl", settings)
    todo = [p for p in prompts if p.id not in store.done]
    size = getattr(engine, "batch_size", 16)
    for start in range(0, len(todo), size):
        chunk = todo[start : start + size]
        requests = [
            GenerationRequest(
                p.system_info if system.meta_prompt else None,
                p.user_info if system.meta_prompt else None,
                p.dialogue,
                max_new_tokens=max_new_tokens,
            )
            for p in chunk
        ]
        outs = engine.generate(requests)
        store.append(
            {"case_id": p.id, "text": o.text, "finish_reason": o.finish_reason}
            for p, o in zip(chunk, outs, strict=True)
        )
    return {p.id: store.done[p.id]["text"] for p in prompts}


async def judge_all(
    judge: Any, prompts: Sequence[JudgePrompt], answers: tuple[dict[str, str], dict[str, str]], path: Path
) -> dict[str, dict[str, Any]]:
    """Verdicts for every prompt not yet in `path` (A = the model, B = the baseline).

    Each verdict is appended to `path` as it arrives, so a killed run resumes.
    """
    log = AppendLog(path)
    done: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(log.rows("a verdict line; use another --out"), start=1):
        if "id" not in row:
            raise MetaAlignError(f"{path}:{number}: not a verdict line; use another --out")
        done[row["id"]] = row
    model, baseline = answers

    async def one(p: JudgePrompt) -> dict[str, Any]:
        v = await judge.judge(
            system_info=p.system_info,
            user_info=p.user_info,
            instruction=p.instruction,
            answer_a=model[p.id],
            answer_b=baseline[p.id],
            key=p.id,
        )
        return {
            "id": p.id,
            "winner": v.winner,
            "first": v.first,
            "second": v.second,
            "agree": v.agree,
            "prompt_version": v.prompt_version,
        }

    todo = [p for p in prompts if p.id not in done]
    for next_row in asyncio.as_completed([one(p) for p in todo]):
        row = await next_row
        log.append([row])
        done[row["id"]] = row
    return {p.id: done[p.id] for p in prompts}


def judge_metrics(verdicts: Sequence[dict[str, Any]], *, seed: int = 0) -> tuple[dict, dict[str, Any]]:
    """win-rate = (wins + ties / 2) / judged; win, tie, loss shares; agreement of the two orders.

    Unparsable verdicts are left out of every share and counted in the info.
    """
    judged = [v for v in verdicts if v["winner"] != "unparsable"]
    score = [1.0 if v["winner"] == "A" else 0.5 if v["winner"] == "tie" else 0.0 for v in judged]
    metrics = {"win-rate": _mean_estimate(score, seed)}
    for key, label in (("win", "A"), ("tie", "tie"), ("loss", "B")):
        metrics[key] = proportion([v["winner"] == label for v in judged], seed=seed)
    metrics["order-agreement"] = proportion([bool(v["agree"]) for v in judged], seed=seed)
    info = {"prompts": len(verdicts), "judged": len(judged), "unparsable": len(verdicts) - len(judged)}
    return metrics, info


def _mean_estimate(values: Sequence[float], seed: int):
    import math

    from metaalign.eval.metrics import Estimate, bootstrap_ci

    if not values:
        return Estimate(math.nan, math.nan, math.nan, 0)
    low, high = bootstrap_ci(values, seed=seed)
    return Estimate(sum(values) / len(values), low, high, len(values))


def run_judge(
    model: EvalSystem,
    baseline: EvalSystem,
    test_split: str | Path,
    out_dir: str | Path,
    *,
    judge: Any,
    engine_factory: Callable[[str], Engine],
    limit: int | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
    seed: int = 0,
) -> Report:
    """Generate both systems' answers, judge each prompt in both orders, and save the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prompts = load_prompts(test_split, limit)
    engines: dict[str, Engine] = {}
    answers = []
    for system in (model, baseline):
        if isinstance(system.model, str):
            engine = engines.get(system.model) or engines.setdefault(
                system.model, engine_factory(system.model)
            )
        else:
            engine = system.model
        answers.append(generate_answers(engine, system, prompts, out, max_new_tokens))
    verdicts = asyncio.run(_judge_and_close(judge, prompts, (answers[0], answers[1]), out / "verdicts.jsonl"))
    metrics, info = judge_metrics(list(verdicts.values()), seed=seed)
    info.update(baseline=baseline.name, judge_prompt=judge.version)
    result = SystemResult(
        f"{model.name} vs {baseline.name}", model.model_ref, metrics, model.meta_prompt, info
    )
    report_info = {
        "test_split": str(test_split),
        "baseline": baseline.model_ref,
        "judge_prompt": judge.version,
        "judge_model": getattr(judge.client, "model", "?"),
        "bootstrap_seed": seed,
    }
    report = Report("judge", [result], report_info)
    report.save(out)
    return report


async def _judge_and_close(judge: Any, prompts, answers, path: Path) -> dict[str, dict[str, Any]]:
    try:
        return await judge_all(judge, prompts, answers, path)
    finally:
        close = getattr(judge.client, "aclose", None)
        if close is not None:
            await close()
