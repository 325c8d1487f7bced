"""Records -> token ids for the trainers, every string rendered by the one renderer.

Owns the tokenised example formats: SFT rows `input_ids` + `labels` (assistant tokens only, each
end-of-turn included), DPO rows `prompt_ids` / `chosen_ids` / `rejected_ids` (the prompt holds
the full meta-prompt; completions end with end-of-turn). TRL never applies a chat template itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metaalign.errors import MetaAlignError
from metaalign.records import PreferenceRecord, SFTRecord, read_records
from metaalign.render import IGNORE_INDEX, Renderer


def load_records(path: str, kind: str, max_records: int | None = None) -> list[Any]:
    """The records of `path` (all of `kind`: "sft" or "preference"), the first `max_records` of them."""
    if path is None:
        raise MetaAlignError(
            "train_file: expected a records file (set train_file in the recipe or --train_file)"
        )
    records = read_records(path, kind).records
    if not records:
        raise MetaAlignError(f"{path}: expected at least one {kind} record, found none")
    return records[:max_records] if max_records else records


def sft_row(record: SFTRecord, renderer: Renderer) -> dict[str, list[int]]:
    """One SFT example: the rendered conversation and its assistant-only labels."""
    rendered = renderer.tokenize(record.system_info, record.user_info, record.messages)
    return {"input_ids": rendered.input_ids, "labels": rendered.labels}


def completion_ids(
    renderer: Renderer, record: PreferenceRecord, prompt_ids: list[int], text: str
) -> list[int]:
    """The ids of one assistant completion after `prompt_ids`, through its end-of-turn token."""
    dialogue = [*record.prompt, {"role": "assistant", "content": text}]
    rendered = renderer.tokenize(record.system_info, record.user_info, dialogue)
    if rendered.input_ids[: len(prompt_ids)] != prompt_ids:
        raise MetaAlignError(
            f"record {record.id}: the rendered prompt is not a prefix of prompt + completion"
        )
    tail = zip(rendered.input_ids[len(prompt_ids) :], rendered.assistant_mask[len(prompt_ids) :], strict=True)
    return [token for token, trained in tail if trained]


def dpo_row(record: PreferenceRecord, renderer: Renderer) -> dict[str, list[int]]:
    """One DPO example in TRL's tokenised layout (prompt_ids, chosen_ids, rejected_ids)."""
    prompt_ids = renderer.prompt(record.system_info, record.user_info, record.prompt).input_ids
    return {
        "prompt_ids": prompt_ids,
        "chosen_ids": completion_ids(renderer, record, prompt_ids, record.chosen),
        "rejected_ids": completion_ids(renderer, record, prompt_ids, record.rejected),
    }


def sft_dataset(records: Sequence[SFTRecord], renderer: Renderer, max_length: int | None = None) -> Any:
    """A `datasets.Dataset` of SFT rows, truncated to `max_length` (rows left with no label dropped)."""
    from datasets import Dataset

    rows = [sft_row(r, renderer) for r in records]
    if max_length:
        rows = [{k: v[:max_length] for k, v in row.items()} for row in rows]
        rows = [row for row in rows if any(t != IGNORE_INDEX for t in row["labels"])]
    if not rows:
        raise MetaAlignError(f"no SFT example keeps an assistant token within max_length={max_length}")
    return Dataset.from_list(rows)


def dpo_dataset(records: Sequence[PreferenceRecord], renderer: Renderer) -> Any:
    """A `datasets.Dataset` of DPO rows."""
    from datasets import Dataset

    return Dataset.from_list([dpo_row(r, renderer) for r in records])


def trained_tokens(dataset: Any, kind: str) -> int:
    """Tokens a model processes per epoch: the whole rows (SFT) or prompt + both completions (DPO)."""
    if kind == "sft":
        return sum(len(ids) for ids in dataset["input_ids"])
    return sum(
        2 * len(p) + len(c) + len(r)
        for p, c, r in zip(dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True)
    )


def record_datasets(config: Any, kind: str, renderer: Renderer) -> tuple[Any, Any | None]:
    """The training and (with `eval_file`) evaluation datasets of a `kind` ("sft" or "dpo") config.

    Training records are cut to `max_records`; SFT rows to `max_length`.
    """
    records_kind = "sft" if kind == "sft" else "preference"

    def make(records: Sequence[Any]) -> Any:
        if kind == "sft":
            return sft_dataset(records, renderer, config.max_length)
        return dpo_dataset(records, renderer)

    train = make(load_records(config.train_file, records_kind, config.max_records))
    evals = make(load_records(config.eval_file, records_kind)) if config.eval_file else None
    return train, evals
