"""Stages 3 and 4 of the build: responses that satisfy each meta-prompt, and their annotation.

Owns the offline constructive path (`satisfy` makes a candidate meet the expected checks; for a
conflict, also the version that follows the LOSING tier), the LLM rewrite path, verifier
annotation (stored with each response) and judge annotation for non-verifiable preferences.
It does not sample candidates nor build records (export_records.py does).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from metaalign.build.assign import UNCHECKED_KINDS, MetaPrompt, derive_seed
from metaalign.build.build_config import BuildConfig
from metaalign.build.runner import progress_bar, run_calls
from metaalign.build.store import BuildStore

REFUSALS = "refusals.v1.yaml"
JUDGED_KINDS = ("open", "safety")  # non-verifiable: the judge compares the rewrite with the raw candidate


def expected_for(mp: MetaPrompt) -> list[Any]:
    """What a response must (and, for the losing side of a conflict, must not) satisfy."""
    from metaalign.preferences import expected_checks

    if mp.system is None and mp.user is None:
        return []
    return list(expected_checks(mp.system, mp.user))


def loser_expected(mp: MetaPrompt) -> list[Any]:
    """For a conflict: the losing tier's check as the one thing to satisfy (the wrong priority)."""
    from metaalign.preferences import ExpectedCheck

    loser, tier = (mp.user, "user") if mp.winner == "system" else (mp.system, "system")
    return [ExpectedCheck(loser.check, True, tier)]


def satisfied(expected: Sequence[Any], text: str) -> tuple[str, bool]:
    """`satisfy(expected, text)` and whether the result verifies."""
    from metaalign.preferences import satisfy, verify

    made = satisfy(expected, text)
    return made, bool(verify(expected, made))


def response_id(mp_id: str, k: int, role: str) -> str:
    return f"{mp_id}/c{k}/{role}"


def _verify(expected: Sequence[Any], text: str) -> bool:
    from metaalign.preferences import verify

    return bool(verify(expected, text))


def _response(mp: MetaPrompt, k: int, role: str, path: str, text: str, verified: bool | None,
              data: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {"id": response_id(mp.id, k, role), "assignment_id": mp.id, "k": k, "role": role, "path": path,
            "text": text, "verified": verified, "data": data}  # fmt: skip


@cache
def _refusals() -> tuple[tuple[str, ...], re.Pattern[str]]:
    data = yaml.safe_load((Path(__file__).parent / REFUSALS).read_text(encoding="utf-8"))
    return tuple(data["refusals"]), re.compile(data["already_refuses"], re.IGNORECASE)


def refusal(mp_id: str, k: int) -> str:
    """The refusal (from refusals.v1.yaml) chosen for candidate k of a `safety` meta-prompt."""
    texts, _ = _refusals()
    return texts[derive_seed(0, "refusal", mp_id, k) % len(texts)]


def already_refuses(text: str) -> bool:
    return _refusals()[1].search(text) is not None


def offline_rows(mp: MetaPrompt, k: int, raw: str, *, chosen: bool) -> list[dict[str, Any]]:
    """Responses of the offline path for candidate k: the chosen one (if `chosen`) and, for a
    conflict of checks, the version that follows the losing tier."""
    rows = []
    expected = expected_for(mp)
    if chosen and mp.kind in UNCHECKED_KINDS:
        rows.append(_response(mp, k, "chosen", "raw", raw, None, {"raw_passes": True}))
    elif chosen and mp.kind == "safety":
        text = refusal(mp.id, k)
        rows.append(_response(mp, k, "chosen", "refusal", text, None, {"raw_passes": already_refuses(raw)}))
    elif chosen:
        text, ok = satisfied(expected, raw)
        rows.append(_response(mp, k, "chosen", "offline", text, ok, {"raw_passes": _verify(expected, raw)}))
    if mp.kind == "conflict":
        text, _ = satisfied(loser_expected(mp), raw)
        rows.append(_response(mp, k, "loser", "offline", text, _verify(expected, text), {}))
    return rows


@dataclass(frozen=True)
class Item:
    """One (meta-prompt, candidate) unit of work for the endpoint stages; `raw` is the text it starts from."""

    id: str
    mp: MetaPrompt
    k: int
    instruction: str
    raw: str


def uses_rewrite(config: BuildConfig, mp: MetaPrompt) -> bool:
    return mp.kind == "open" or (config.response_path == "rewrite" and mp.kind not in UNCHECKED_KINDS)


def respond_offline(
    config: BuildConfig, plan: Sequence[MetaPrompt], raw: dict[str, str], store: BuildStore
) -> None:
    """Offline responses for every meta-prompt not done yet, one transaction per meta-prompt."""
    done = store.ids("responses")
    todo = [mp for mp in plan if _offline_ids(config, mp, raw) - done]
    with progress_bar(config, len(plan), "respond (offline)", initial=len(plan) - len(todo)) as bar:
        for mp in todo:
            rows = []
            for k in range(config.candidates):
                text = raw.get(f"{mp.instruction_id}/c{k}")
                if text is not None:  # None: a candidate with no finished sentence, dropped
                    rows += offline_rows(mp, k, text, chosen=not uses_rewrite(config, mp))
            store.put_many("responses", rows)
            bar.update(1)


def _offline_ids(config: BuildConfig, mp: MetaPrompt, raw: dict[str, str]) -> set[str]:
    ids = set()
    for k in range(config.candidates):
        if f"{mp.instruction_id}/c{k}" not in raw:
            continue
        if not uses_rewrite(config, mp):
            ids.add(response_id(mp.id, k, "chosen"))
        if mp.kind == "conflict":
            ids.add(response_id(mp.id, k, "loser"))
    return ids


def rewrite_items(
    config: BuildConfig, plan: Sequence[MetaPrompt], queries: dict[str, str], raw: dict[str, str]
) -> list[Item]:
    return [
        Item(
            response_id(mp.id, k, "chosen"),
            mp,
            k,
            queries[mp.instruction_id],
            raw[f"{mp.instruction_id}/c{k}"],
        )
        for mp in plan
        if uses_rewrite(config, mp)
        for k in range(config.candidates)
        if f"{mp.instruction_id}/c{k}" in raw
    ]


def respond_rewrite(config: BuildConfig, items: list[Item], store: BuildStore, client: Any) -> int:
    """The LLM rewrite path; a rewrite that misses a verifiable check is then transformed to meet it."""
    from metaalign.judge import Rewriter

    rewriter = Rewriter(client, max_tokens=config.endpoint.max_tokens)
    done = store.ids("responses")
    pending = [item for item in items if item.id not in done]

    async def call(item: Item) -> dict[str, Any]:
        mp = item.mp
        text = await rewriter.rewrite(
            system_info=mp.system_info,
            user_info=mp.user_info,
            instruction=item.instruction,
            draft=item.raw,
            priority=mp.winner or "none",
            key=f"responses:{item.id}",
            seed=derive_seed(config.seed, item.id),
        )
        expected, path, verified = expected_for(mp), "rewrite", None
        if expected:
            verified = _verify(expected, text)
            if not verified:
                text, verified = satisfied(expected, text)
                path = "rewrite+transform"
        data = {"raw_passes": _verify(expected, item.raw) if expected else None, "prompt": rewriter.version}
        return {
            "id": item.id,
            "assignment_id": mp.id,
            "k": item.k,
            "role": "chosen",
            "path": path,
            "text": text,
            "verified": verified,
            "data": data,
        }

    return run_calls(config, store, "responses", pending, call, total=len(items), client=client)


def judge_items(
    config: BuildConfig,
    plan: Sequence[MetaPrompt],
    queries: dict[str, str],
    raw: dict[str, str],
    store: BuildStore,
) -> list[Item]:
    """Items to judge: non-verifiable meta-prompts whose rewrite exists (rewrite = answer A)."""
    if not config.judge:
        return []
    chosen = {r["id"]: r["text"] for r in store.rows("responses") if r["role"] == "chosen"}
    items = []
    for mp in plan:
        if mp.kind not in JUDGED_KINDS:
            continue
        for k in range(config.candidates):
            rewritten = chosen.get(response_id(mp.id, k, "chosen"))
            if rewritten is not None:
                items.append(Item(f"{mp.id}/c{k}/judge", mp, k, queries[mp.instruction_id], rewritten))
    return items


def annotate_judge(
    config: BuildConfig, items: list[Item], raw: dict[str, str], store: BuildStore, client: Any
) -> int:
    """Judge rewrite (A) against the raw candidate (B) in both orders; each verdict is committed."""
    from metaalign.judge import PairwiseJudge

    e = config.endpoint
    judge = PairwiseJudge(client, parse_retries=e.judge_parse_retries, max_tokens=e.judge_max_tokens)
    done = store.ids("judgments")
    pending = [item for item in items if item.id not in done]

    async def call(item: Item) -> dict[str, Any]:
        mp = item.mp
        verdict = await judge.judge(
            system_info=mp.system_info,
            user_info=mp.user_info,
            instruction=item.instruction,
            answer_a=item.raw,
            answer_b=raw[f"{mp.instruction_id}/c{item.k}"],
            key=f"judgments:{item.id}",
        )
        return {
            "id": item.id,
            "assignment_id": mp.id,
            "k": item.k,
            "winner": verdict.winner,
            "first": verdict.first,
            "second": verdict.second,
            "agree": verdict.agree,
            "attempts": verdict.attempts,
            "prompt_version": verdict.prompt_version,
            "replies": list(verdict.replies),
        }

    return run_calls(config, store, "judgments", pending, call, total=len(items), client=client)
