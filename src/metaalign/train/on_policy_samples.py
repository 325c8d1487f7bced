"""Stage 2 of two-stage: K sampled answers per DPO prompt from the SFT model, kept on disk.

Owns the resumable sample file (one JSON line per prompt: id and its K texts, appended chunk by
chunk to a metaalign.appendlog log, a torn last line dropped), so a killed run re-samples nothing it
finished. Generation is the engine's (any `Engine`; two_stage_pipeline.py passes TransformersEngine).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from metaalign.appendlog import AppendLog
from metaalign.engine import GenerationRequest
from metaalign.errors import MetaAlignError
from metaalign.records import PreferenceRecord

log = logging.getLogger("metaalign.train")


@dataclass(frozen=True)
class SampleSettings:
    """How to sample: K answers per prompt, each with its own seed (seed + k)."""

    k: int = 4
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 128
    seed: int = 0
    chunk: int = 32  # prompts per flush to disk

    def __post_init__(self) -> None:
        if self.k < 2:
            raise ValueError(f"sample.k: expected at least 2 samples per prompt, got {self.k}")


def read_samples(path: Path) -> dict[str, list[str]]:
    """The finished prompts of a sample file (a torn last line is cut off it); a bad line is an error."""
    done: dict[str, list[str]] = {}
    for number, row in enumerate(AppendLog(path).rows("a sample line"), start=1):
        if not isinstance(row.get("id"), str) or not isinstance(row.get("samples"), list):
            raise MetaAlignError(f"{path}:{number}: not a sample line (expected id and samples)")
        done[row["id"]] = row["samples"]
    return done


def requests_for(records: Sequence[PreferenceRecord], settings: SampleSettings) -> list[GenerationRequest]:
    """K requests per record, record-major: index i * k + j is record i, sample j."""
    return [
        GenerationRequest(
            r.system_info,
            r.user_info,
            tuple(m.model_dump() for m in r.prompt),
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            seed=settings.seed + j,
        )
        for r in records
        for j in range(settings.k)
    ]


def sample_all(
    engine, records: Sequence[PreferenceRecord], settings: SampleSettings, path: Path
) -> dict[str, list[str]]:
    """Samples for every record, generating only those not already in `path`."""
    done = read_samples(path)  # cuts a torn last line, so appending starts on a fresh line
    todo = [r for r in records if r.id not in done]
    if done:
        log.warning("sampling: %d prompts already sampled, %d to go", len(done), len(todo))
    out = AppendLog(path)
    with tqdm(total=len(todo), desc="sampling", unit="prompt") as bar:
        for start in range(0, len(todo), settings.chunk):
            chunk = todo[start : start + settings.chunk]
            completions = engine.generate(requests_for(chunk, settings))
            rows = []
            for i, record in enumerate(chunk):
                texts = [c.text for c in completions[i * settings.k : (i + 1) * settings.k]]
                done[record.id] = texts
                rows.append({"id": record.id, "samples": texts})
            out.append(rows)
            bar.update(len(chunk))
    return done
