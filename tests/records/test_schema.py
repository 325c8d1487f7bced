"""The record models: what they accept, what they reject, and how a rejection is explained."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from metaalign.records.schema import (
    PreferenceRecord,
    RecordMeta,
    SFTRecord,
    detect_kind,
    explain,
    field_path,
    record_to_row,
)


def problem(model, row):
    """The (field path, expectation) that validating `row` with `model` reports."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(row)
    return explain(info.value, model)


def test_valid_sft_record_keeps_every_field(sft_row):
    record = SFTRecord.model_validate(sft_row())
    assert record.kind == "sft"
    assert record.subset == "helpful"
    assert record.system_info == "You are a cooking assistant."
    assert [m.role for m in record.messages] == ["user", "assistant"]
    assert record.metadata.preference == "Bullet lists"


def test_optional_fields_default(sft_row):
    row = sft_row()
    for key in ("subset", "system_info", "user_info", "metadata"):
        del row[key]
    record = SFTRecord.model_validate(row)
    assert (record.subset, record.system_info, record.user_info) == ("custom", None, None)
    assert record.metadata == RecordMeta()


def test_row_round_trips_exactly_with_extra_metadata(pref_row):
    row = pref_row(metadata={"conflict": False, "judge": {"model": "x", "score": [1, 2.5]}, "lang": "en"})
    record = PreferenceRecord.model_validate(row)
    again = PreferenceRecord.model_validate(record_to_row(record))
    assert again == record
    assert record_to_row(record)["metadata"]["judge"] == {"model": "x", "score": [1, 2.5]}


def test_unknown_field_is_named_with_a_suggestion(sft_row):
    row = sft_row()
    row["system_inf"] = row.pop("system_info")
    path, expected = problem(SFTRecord, row)
    assert path == "system_inf"
    assert expected.startswith("no such field; did you mean 'system_info'? (known fields: id, subset, ")


def test_unknown_field_inside_a_message_lists_message_fields(sft_row):
    row = sft_row()
    row["messages"][0]["text"] = "hi"
    assert problem(SFTRecord, row) == (
        "messages[0].text",
        "no such field; (known fields: role, content)",
    )


def test_system_message_in_dialogue_points_to_system_info(sft_row):
    row = sft_row()
    row["messages"].insert(1, {"role": "system", "content": "Be brief."})
    path, expected = problem(SFTRecord, row)
    assert path == "messages[1].role"
    assert expected == "no 'system' turn; put deployer instructions in system_info"


def test_sft_dialogue_must_end_with_the_assistant(sft_row):
    row = sft_row()
    row["messages"].append({"role": "user", "content": "And?"})
    assert problem(SFTRecord, row) == (
        "messages[2].role",
        "the last message to have role 'assistant', got 'user'",
    )


def test_dialogue_must_start_with_the_user(sft_row):
    row = sft_row(messages=[{"role": "assistant", "content": "Hello"}])
    assert problem(SFTRecord, row) == (
        "messages[0].role",
        "'user' (turns alternate user/assistant, starting with user), got 'assistant'",
    )


def test_empty_dialogue_is_rejected(sft_row):
    assert problem(SFTRecord, sft_row(messages=[])) == ("messages", "at least one user message, got none")


def test_turns_must_alternate(sft_row):
    row = sft_row()
    row["messages"][1:1] = [{"role": "user", "content": "Also this."}]
    assert problem(SFTRecord, row) == (
        "messages[1].role",
        "'assistant' (turns alternate user/assistant, starting with user), got 'user'",
    )


def test_unknown_role_lists_the_roles(sft_row):
    row = sft_row()
    row["messages"][1]["role"] = "bot"
    assert problem(SFTRecord, row) == ("messages[1].role", "'system', 'user' or 'assistant', got 'bot'")


def test_types_are_strict(sft_row):
    row = sft_row()
    row["messages"][1]["content"] = 3
    assert problem(SFTRecord, row) == ("messages[1].content", "a valid string, got int 3")
    row = sft_row(metadata={"conflict": "yes", "winner": "system"})
    assert problem(SFTRecord, row) == ("metadata.conflict", "a valid boolean, got 'yes'")


def test_missing_and_empty_id(sft_row):
    row = sft_row()
    del row["id"]
    assert problem(SFTRecord, row) == ("id", "a value (this field is required)")
    assert problem(SFTRecord, sft_row(id="")) == ("id", "a non-empty string")


def test_unknown_subset_lists_the_subsets(sft_row):
    path, expected = problem(SFTRecord, sft_row(subset="safety"))
    assert path == "subset"
    assert expected == "'priority', 'helpful', 'consensus', 'diverse_opinion' or 'custom', got 'safety'"


def test_conflict_requires_a_winner(sft_row):
    row = sft_row(metadata={"conflict": True})
    assert problem(SFTRecord, row) == (
        "metadata.winner",
        "'system' or 'user' (required because 'conflict' is true)",
    )


def test_winner_without_conflict_is_rejected(sft_row):
    row = sft_row(metadata={"winner": "user"})
    assert problem(SFTRecord, row) == (
        "metadata.winner",
        "no winner (null or absent) because 'conflict' is false",
    )


def test_conflict_with_winner_is_accepted(sft_row):
    record = SFTRecord.model_validate(sft_row(metadata={"conflict": True, "winner": "user"}))
    assert (record.metadata.conflict, record.metadata.winner) == (True, "user")


def test_preference_prompt_must_end_with_the_user(pref_row):
    row = pref_row()
    row["prompt"].append({"role": "assistant", "content": "Why?"})
    assert problem(PreferenceRecord, row) == (
        "prompt[1].role",
        "the last message to have role 'user', got 'assistant'",
    )


def test_system_message_in_prompt_is_located_in_the_prompt(pref_row):
    row = pref_row()
    row["prompt"].insert(0, {"role": "system", "content": "x"})
    assert problem(PreferenceRecord, row) == (
        "prompt[0].role",
        "no 'system' turn; put deployer instructions in system_info",
    )


def test_chosen_and_rejected_must_differ(pref_row):
    row = pref_row(rejected="I can't help with entering someone else's home.")
    assert problem(PreferenceRecord, row) == ("rejected", "a completion different from 'chosen'")


def test_empty_completion_is_rejected(pref_row):
    assert problem(PreferenceRecord, pref_row(chosen="")) == ("chosen", "a non-empty string")


def test_further_problems_are_counted(sft_row):
    row = sft_row(id=7, subset="nope")
    path, expected = problem(SFTRecord, row)
    assert path == "id"
    assert expected == "a valid string, got int 7 (and 1 more problem in this record)"


def test_preference_record_kind(pref_row):
    record = PreferenceRecord.model_validate(pref_row())
    assert record.kind == "preference"
    assert [m.role for m in record.prompt] == ["user"]


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("id",), "id"),
        (("messages", 2, "role"), "messages[2].role"),
        (("metadata", "winner"), "metadata.winner"),
    ],
)
def test_field_path(loc, path):
    assert field_path(loc) == path


def test_detect_kind_by_chosen_key(sft_row, pref_row):
    assert detect_kind(sft_row()) == "sft"
    assert detect_kind(pref_row()) == "preference"
    assert detect_kind({"chosen": None}) == "preference"


def test_empty_turns_are_rejected(sft_row):
    row = sft_row()
    row["messages"][1]["content"] = ""
    assert problem(SFTRecord, row) == ("messages[1].content", "a non-empty string")
