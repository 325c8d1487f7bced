"""Stage 1 of the build: K candidate responses per instruction, from an engine or an endpoint.

Owns the work list (fixed batches with seeds derived from the build seed, so a resumed run
regenerates exactly what a kill interrupted), committing each batch or call as it completes,
and the `fake` policy used by tests. Candidates carry no meta-prompt (default tiers).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from metaalign.build.assign import derive_seed
from metaalign.build.build_config import BuildConfig
from metaalign.build.runner import progress_bar, run_calls
from metaalign.build.store import BuildStore
from metaalign.engine import Engine, FakeEngine, GenerationRequest


@dataclass(frozen=True)
class CandidateJob:
    id: str
    instruction: Any
    k: int


def candidate_id(instruction_id: str, k: int) -> str:
    return f"{instruction_id}/c{k}"


def jobs(instructions: Sequence[Any], candidates: int) -> list[CandidateJob]:
    """Every (instruction, k), candidate-major: batch b always holds the same jobs."""
    return [CandidateJob(candidate_id(i.id, k), i, k) for k in range(candidates) for i in instructions]


_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")
_NOT_A_SENTENCE = re.compile(r"(?:^|\s)\(?(?:\d+|[A-Za-z])\.$")  # "1." "(2." "a.": list markers


def sentence_ends(text: str) -> list[int]:
    """Offsets just past each real sentence end: a list marker such as "1." or "b." is not one."""
    ends = []
    for m in _SENTENCE_END.finditer(text):
        stop = m.start() + 1
        if not _NOT_A_SENTENCE.search(text[max(0, stop - 6) : stop]) and re.search(r"[A-Za-z]", text[:stop]):
            ends.append(m.end())
    return ends


def candidate_text(row: dict[str, Any]) -> str | None:
    """A stored candidate as the later stages use it, or None when it has no usable body.

    One cut off by max_new_tokens keeps only its finished sentences (it is None when it has
    none), so no target ends mid-sentence or on a bare list marker such as "1.".
    """
    text = row["text"]
    if row["finish_reason"] != "length":
        return text or None
    ends = sentence_ends(text)
    return text[: ends[-1]].rstrip() if ends else None


def request(config: BuildConfig, query: str, seed: int) -> GenerationRequest:
    p = config.policy
    return GenerationRequest.for_query(
        None,
        None,
        query,
        max_new_tokens=p.max_new_tokens,
        temperature=p.temperature,
        top_p=p.top_p,
        seed=seed,
    )


def _row(job: CandidateJob, source: str, text: str, prompt: int, completion: int, finish: str) -> dict:
    return {
        "id": job.id,
        "instruction_id": job.instruction.id,
        "k": job.k,
        "split": job.instruction.split,
        "source": source,
        "text": text.strip(),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "finish_reason": finish,
    }


def sample_with_engine(
    config: BuildConfig, work: list[CandidateJob], store: BuildStore, engine: Engine, source: str
) -> None:
    """Generate the pending batches; each batch is committed in one transaction when it completes.

    Each request has its own seed (derived from the build seed and its id) and batch b always
    holds the same jobs, so a resumed run regenerates an interrupted batch exactly.
    """
    size = config.policy.batch_size
    done = store.ids("candidates")
    batches = [work[b : b + size] for b in range(0, len(work), size)]
    pending = [(b, batch) for b, batch in enumerate(batches) if any(j.id not in done for j in batch)]
    with progress_bar(
        config, len(work), "sample", initial=len(work) - sum(len(x) for _, x in pending)
    ) as bar:
        for _, batch in pending:
            requests = [
                request(config, j.instruction.text, derive_seed(config.seed, "sample", j.id)) for j in batch
            ]
            completions = engine.generate(requests)
            rows = [
                _row(j, source, c.text, c.prompt_tokens, c.completion_tokens, c.finish_reason)
                for j, c in zip(batch, completions, strict=True)
            ]
            store.put_many("candidates", rows)
            bar.update(len(batch))


def sample_with_endpoint(
    config: BuildConfig, work: list[CandidateJob], store: BuildStore, client: Any
) -> None:
    """One endpoint call per pending candidate, concurrently; each result is committed as it lands."""
    from metaalign.render import chat_messages

    done = store.ids("candidates")
    pending = [j for j in work if j.id not in done]

    async def call(job: CandidateJob) -> dict:
        dialogue = [{"role": "user", "content": job.instruction.text}]
        if config.endpoint.tiers == "metaalign":  # `metaalign serve` renders the (empty: default) tiers
            messages, extra = dialogue, {"metaalign": {"system_info": "", "user_info": ""}}
        else:
            messages, extra = chat_messages(None, None, dialogue), None
        result = await client.complete(
            messages,
            extra_body=extra,
            temperature=config.policy.temperature,
            max_tokens=config.policy.max_new_tokens,
            seed=derive_seed(config.seed, "sample", job.id),
            idempotency_key=f"candidates:{job.id}",
        )
        return _row(job, "endpoint", result.text, result.prompt_tokens, result.completion_tokens, "stop")

    run_calls(config, store, "candidates", pending, call, total=len(work), client=client)


_TEXT = (
    "the idea is simple and practical. start with the basics and build up step by step. "
    "many people find that a short plan helps. consider the costs and the benefits first. "
    "a good example makes the point clear. check the details before you decide. "
    "there are several ways to approach this question. practice makes the process easier. "
    "keep notes so you can compare results later. ask an expert when the stakes are high."
)
_WORDS = _TEXT.split()


def fake_answer(request: GenerationRequest) -> str:
    """A deterministic stand-in answer: 12 to 70 words chosen by a hash of the query and the seed."""
    query = request.dialogue[-1]["content"]
    digest = hashlib.sha256(f"{request.seed}|{query}".encode()).digest()
    n = 12 + digest[0] % 59
    start = digest[1] % len(_WORDS)
    words = [_WORDS[(start + 3 * i) % len(_WORDS)] for i in range(n)]
    topic = " ".join(query.split()[:6]).rstrip("?.!")
    return f"About {topic}: " + " ".join(words).capitalize()


def fake_engine(config: BuildConfig) -> FakeEngine:
    """The `fake` policy: `fake_answer`, after `policy.fake_delay` seconds per request."""
    delay = config.policy.fake_delay

    def respond(request: GenerationRequest) -> str:
        if delay:
            time.sleep(delay)
        return fake_answer(request)

    return FakeEngine(respond=respond)
