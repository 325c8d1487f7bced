"""Masks on real rendered batches: the trained labels are exactly the assistant tokens + end-of-turn."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaalign.records import read_records
from metaalign.render import IGNORE_INDEX, Renderer
from metaalign.train.token_rows import dpo_row, load_records, sft_dataset, sft_row, trained_tokens

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def renderer(smollm2_tokenizer) -> Renderer:
    return Renderer(smollm2_tokenizer)


def test_sft_labels_are_the_assistant_turn_and_its_end_of_turn(renderer: Renderer, sft_file: Path) -> None:
    tok = renderer.tokenizer
    for record in read_records(sft_file, "sft").records:
        row = sft_row(record, renderer)
        trained = [t for t in row["labels"] if t != IGNORE_INDEX]
        answer = record.messages[-1].content
        assert trained == tok(answer + "<|im_end|>", add_special_tokens=False)["input_ids"]
        # the labels are one contiguous stretch at the answer, aligned with input_ids
        first = next(i for i, t in enumerate(row["labels"]) if t != IGNORE_INDEX)
        assert row["input_ids"][first : first + len(trained)] == trained
        assert tok.decode(row["input_ids"][:first]).endswith("<|im_start|>assistant\n")


def test_multi_turn_trains_every_assistant_turn(renderer: Renderer) -> None:
    records = read_records(EXAMPLES / "sft.jsonl", "sft").records
    multi = [r for r in records if len(r.messages) > 2]
    if not multi:
        pytest.skip("examples/sft.jsonl has no multi-turn record")
    tok = renderer.tokenizer
    for record in multi:
        labels = sft_row(record, renderer)["labels"]
        trained = [t for t in labels if t != IGNORE_INDEX]
        answers = [m.content for m in record.messages if m.role == "assistant"]
        expected = [t for a in answers for t in tok(a + "<|im_end|>", add_special_tokens=False)["input_ids"]]
        assert trained == expected


def test_padding_free_batch_keeps_the_masks(renderer: Renderer, sft_file: Path) -> None:
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    data = sft_dataset(read_records(sft_file, "sft").records, renderer)
    collator = DataCollatorForLanguageModeling(
        pad_token_id=renderer.tokenizer.pad_token_id, padding_free=True
    )
    batch = collator([data[i] for i in range(len(data))])
    assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch
    want = [t for i in range(len(data)) for t in data[i]["labels"]]
    assert batch["labels"][0].tolist() == want
    assert trained_tokens(data, "sft") == batch["input_ids"].shape[1]


def test_dpo_prompt_keeps_the_meta_prompt_and_completions_end_with_end_of_turn(
    renderer: Renderer, prefs_file: Path
) -> None:
    tok = renderer.tokenizer
    for record in read_records(prefs_file, "preference").records:
        row = dpo_row(record, renderer)
        prompt_text = tok.decode(row["prompt_ids"])
        assert "<System Info>\n" + record.system_info in prompt_text
        assert prompt_text.endswith("<|im_start|>assistant\n")
        assert (
            row["prompt_ids"]
            == renderer.prompt(record.system_info, record.user_info, record.prompt).input_ids
        )
        for key, text in (("chosen_ids", record.chosen), ("rejected_ids", record.rejected)):
            assert row[key] == tok(text + "<|im_end|>", add_special_tokens=False)["input_ids"]


def test_missing_train_file_is_a_clear_error() -> None:
    from metaalign.errors import MetaAlignError

    with pytest.raises(MetaAlignError, match="train_file"):
        load_records(None, "sft")
