"""Importers on small files written here: HH-RLHF, UltraFeedback, Multifaceted, generic mapping."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from metaalign.errors import MetaAlignError, RecordError
from metaalign.records.importers import (
    check_mapping,
    hh_turns,
    import_generic,
    import_hh_rlhf,
    import_multifaceted,
    import_ultrafeedback,
    parse_mapping,
)
from metaalign.records.schema import Message

HH_PROMPT = "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Name a fruit."


def msg(role, content):
    return {"role": role, "content": content}


def import_error(function, *args, **kwargs) -> RecordError:
    with pytest.raises(RecordError) as info:
        function(*args, **kwargs)
    return info.value


# HH-RLHF


def test_hh_turns_parses_a_transcript():
    assert hh_turns("\n\nHuman: hi \n\nAssistant:  hello\nthere\n") == [
        msg("user", "hi"),
        msg("assistant", "hello\nthere"),
    ]
    assert hh_turns("Human: hi\n\nAssistant: yo") == [msg("user", "hi"), msg("assistant", "yo")]


@pytest.mark.parametrize("text", ["just text", "\n\nAssistant: hi", "preamble\n\nHuman: hi\n\nAssistant: yo"])
def test_hh_turns_rejects_malformed_transcripts(text):
    with pytest.raises(ValueError, match="transcript"):
        hh_turns(text)


def test_hh_import_splits_shared_prompt_and_final_replies(tmp_path, write_jsonl):
    rows = [
        {"chosen": HH_PROMPT + "\n\nAssistant: An apple.", "rejected": HH_PROMPT + "\n\nAssistant: No."},
        {"chosen": "\n\nHuman: 2+2?\n\nAssistant: 4", "rejected": "\n\nHuman: 2+2?\n\nAssistant: 5"},
    ]
    result = import_hh_rlhf(write_jsonl(tmp_path / "hh_train.jsonl", rows), subset="helpful")
    first, second = result.records
    assert first.id == "hh_train-1" and second.id == "hh_train-2"
    assert first.prompt == [
        Message(role="user", content="Hi there"),
        Message(role="assistant", content="Hello! How can I help?"),
        Message(role="user", content="Name a fruit."),
    ]
    assert (first.chosen, first.rejected) == ("An apple.", "No.")
    assert (first.subset, first.system_info, first.metadata.source) == ("helpful", None, "hh-rlhf")


def test_hh_import_errors_name_row_and_field(tmp_path, write_jsonl):
    rows = [
        {"chosen": "no markers at all", "rejected": "\n\nHuman: a\n\nAssistant: b"},
        {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: other\n\nAssistant: c"},
        {"chosen": "\n\nHuman: a\n\nAssistant: b"},
        {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a"},
    ]
    path = write_jsonl(tmp_path / "hh.jsonl", rows)
    result = import_hh_rlhf(path, skip_bad=True)
    assert (result.records, result.skipped) == ([], 4)
    assert [str(e) for e in result.errors] == [
        f"{path}:1: field 'chosen': a transcript of '\\n\\nHuman: ...' and '\\n\\nAssistant: ...' turns",
        f"{path}:2: field 'rejected': "
        "the same turns as 'chosen' before the final reply; they differ at turn 1",
        f"{path}:3: field 'rejected': a value in column 'rejected'; the row has: chosen",
        f"{path}:4: field 'rejected': a transcript that ends with an assistant turn",
    ]
    assert import_error(import_hh_rlhf, path).line == 1


def test_hh_identical_replies_are_caught_by_the_schema(tmp_path, write_jsonl):
    same = "\n\nHuman: a\n\nAssistant: b"
    path = write_jsonl(tmp_path / "hh.jsonl", [{"chosen": same, "rejected": same}])
    assert (
        str(import_error(import_hh_rlhf, path))
        == f"{path}:1: field 'rejected': a completion different from 'chosen'"
    )


# UltraFeedback


def uf_row(**fields):
    row = {
        "prompt": "Write a haiku.",
        "prompt_id": "abc123",
        "chosen": [msg("user", "Write a haiku."), msg("assistant", "Old pond, frog jumps in")],
        "rejected": [msg("user", "Write a haiku."), msg("assistant", "A haiku is a poem.")],
        "score_chosen": 8.5,
        "score_rejected": 3.0,
    }
    row.update(fields)
    return row


def test_ultrafeedback_import(tmp_path):
    rows = [
        uf_row(),
        uf_row(
            prompt_id=None,
            chosen=[msg("system", "Be poetic."), msg("user", "Rhyme?"), msg("assistant", "Time")],
            rejected=[msg("system", "Be poetic."), msg("user", "Rhyme?"), msg("assistant", "No")],
        ),
    ]
    path = tmp_path / "uf.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    first, second = import_ultrafeedback(path).records
    assert (first.id, first.chosen, first.rejected) == (
        "abc123",
        "Old pond, frog jumps in",
        "A haiku is a poem.",
    )
    assert first.prompt == [Message(role="user", content="Write a haiku.")]
    assert first.metadata.model_dump() == {
        "preference": None,
        "conflict": False,
        "winner": None,
        "source": "ultrafeedback",
        "score_chosen": 8.5,
        "score_rejected": 3.0,
    }
    assert (second.id, second.system_info) == ("uf-1", "Be poetic.")
    assert second.prompt == [Message(role="user", content="Rhyme?")]


def test_ultrafeedback_errors(tmp_path, write_jsonl):
    rows = [
        uf_row(chosen="just text"),
        uf_row(chosen=[msg("user", "Write a haiku."), {"role": "assistant"}]),
        uf_row(prompt_id="x", rejected=[msg("user", "Other"), msg("assistant", "A haiku is a poem.")]),
    ]
    path = write_jsonl(tmp_path / "uf.jsonl", rows)
    result = import_ultrafeedback(path, skip_bad=True)
    assert [(e.line, e.field, e.expected) for e in result.errors] == [
        (1, "chosen", "a list of messages, got str"),
        (2, "chosen[1]", "a message object with string 'role' and 'content'"),
        (3, "rejected", "the same turns as 'chosen' before the final reply; they differ at turn 1"),
    ]


# Multifaceted-Collection


def mf_row(**fields):
    row = {
        "system": "You are a concise assistant who favours practical examples.",
        "prompt": "How do I reverse a list in Python?",
        "output": "Use reversed(xs) or xs[::-1].",
        "main_source": "OpenHermesPreferences",
        "original_source": "glaive-code-assist",
        "preference_set": [{"dimension": "style", "preference": "concise"}],
    }
    row.update(fields)
    return row


@pytest.mark.parametrize(
    ("tier", "system_info", "user_info"),
    [("system", mf_row()["system"], None), ("user", None, mf_row()["system"])],
)
def test_multifaceted_puts_the_preference_in_the_chosen_tier(
    tmp_path, write_jsonl, tier, system_info, user_info
):
    path = write_jsonl(tmp_path / "mf.jsonl", [mf_row()])
    (record,) = import_multifaceted(path, tier=tier, subset="diverse_opinion").records
    assert (record.system_info, record.user_info, record.subset) == (
        system_info,
        user_info,
        "diverse_opinion",
    )
    assert record.messages == [
        Message(role="user", content="How do I reverse a list in Python?"),
        Message(role="assistant", content="Use reversed(xs) or xs[::-1]."),
    ]
    meta = record.metadata.model_dump()
    assert meta["preference"] == mf_row()["system"]
    assert meta["source"] == "OpenHermesPreferences"
    assert meta["original_source"] == "glaive-code-assist"
    assert meta["preference_set"] == [{"dimension": "style", "preference": "concise"}]


def test_multifaceted_missing_column_and_bad_tier(tmp_path, write_jsonl):
    row = mf_row()
    del row["output"]
    path = write_jsonl(tmp_path / "mf.jsonl", [mf_row(), row])
    err = import_error(import_multifaceted, path)
    assert (err.line, err.field) == (2, "output")
    assert err.expected.startswith("a value in column 'output'; the row has: main_source, original_source, ")
    with pytest.raises(MetaAlignError, match="tier: expected 'system' or 'user', got 'dialogue'"):
        import_multifaceted(path, tier="dialogue")  # type: ignore[arg-type]


# Generic mapping


def test_parse_mapping():
    assert parse_mapping(["user_info=persona", " prompt = q.text "]) == {
        "user_info": "persona",
        "prompt": "q.text",
    }
    with pytest.raises(MetaAlignError, match="expected FIELD=COLUMN"):
        parse_mapping(["user_info"])
    with pytest.raises(MetaAlignError, match="unknown field 'persona'; fields: id, subset"):
        parse_mapping(["persona=user_info"])
    with pytest.raises(MetaAlignError, match="field 'prompt' is mapped twice"):
        parse_mapping(["prompt=a", "prompt=b"])


def test_check_mapping_kinds_and_gaps():
    assert check_mapping({"prompt": "q", "chosen": "good", "rejected": "bad"}) == "preference"
    assert check_mapping({"prompt": "q", "response": "a"}) == "sft"
    assert check_mapping({"messages": "conv"}) == "sft"
    with pytest.raises(MetaAlignError, match=r"missing \['rejected'\]"):
        check_mapping({"prompt": "q", "chosen": "good"})
    with pytest.raises(MetaAlignError, match="need messages, or prompt and response"):
        check_mapping({"prompt": "q"})
    with pytest.raises(MetaAlignError, match="not both"):
        check_mapping({"messages": "m", "prompt": "q"})
    with pytest.raises(MetaAlignError, match=r"\['response'\] belong to SFT records"):
        check_mapping({"prompt": "q", "chosen": "g", "rejected": "b", "response": "r"})


def test_generic_preference_import_with_dotted_columns(tmp_path, write_jsonl):
    rows = [
        {
            "key": 17,
            "sys": "Prioritize safety.",
            "meta": {"persona": "A nurse"},
            "q": "Dose?",
            "good": "Ask a pharmacist.",
            "bad": "Double it.",
        },
    ]
    mapping = parse_mapping(
        [
            "id=key",
            "system_info=sys",
            "user_info=meta.persona",
            "prompt=q",
            "chosen=good",
            "rejected=bad",
            "preference=sys",
        ]
    )
    (record,) = import_generic(write_jsonl(tmp_path / "g.jsonl", rows), mapping, subset="priority").records
    assert (record.id, record.subset, record.system_info, record.user_info) == (
        "17",
        "priority",
        "Prioritize safety.",
        "A nurse",
    )
    assert record.prompt == [Message(role="user", content="Dose?")]
    assert (record.chosen, record.rejected) == ("Ask a pharmacist.", "Double it.")
    assert (record.metadata.preference, record.metadata.source) == ("Prioritize safety.", "generic")


def test_generic_sft_import_from_prompt_response_and_messages(tmp_path, write_jsonl):
    src = write_jsonl(tmp_path / "qa.jsonl", [{"question": "Hi?", "answer": "Hello."}])
    (record,) = import_generic(src, {"prompt": "question", "response": "answer"}).records
    assert (record.id, record.subset) == ("qa-1", "custom")
    assert record.messages == [
        Message(role="user", content="Hi?"),
        Message(role="assistant", content="Hello."),
    ]

    conv = [msg("system", "Be kind."), msg("user", "Hi"), msg("assistant", "Hello")]
    src = write_jsonl(tmp_path / "conv.jsonl", [{"conv": conv}])
    (record,) = import_generic(src, {"messages": "conv"}).records
    assert record.system_info == "Be kind."
    assert [m.role for m in record.messages] == ["user", "assistant"]


def test_generic_missing_column_names_column_mapping_and_row(tmp_path):
    rows = [{"q": "a", "good": "b", "bad": "c", "persona": "x"}, {"q": "a", "good": "b", "bad": "c"}]
    path = tmp_path / "g.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    mapping = {"user_info": "persona", "prompt": "q", "chosen": "good", "rejected": "bad"}
    err = import_error(import_generic, path, mapping)
    assert str(err) == (
        f"{path}: row 1: field 'persona': "
        "a value in column 'persona' (mapped to user_info); the row has: bad, good, q"
    )


def test_generic_message_list_completions_and_system_clash(tmp_path, write_jsonl):
    rows = [
        {"q": "Hi", "good": [msg("user", "Hi"), msg("assistant", "Hello")], "bad": "Go away"},
        {"q": [msg("system", "x"), msg("user", "Hi")], "good": "a", "bad": "b", "s": "Be kind."},
        {"q": "Hi", "good": [msg("user", "Hi")], "bad": "b"},
    ]
    path = write_jsonl(tmp_path / "g.jsonl", rows)
    result = import_generic(path, {"prompt": "q", "chosen": "good", "rejected": "bad"}, skip_bad=True)
    assert [(r.id, r.chosen) for r in result.records] == [("g-1", "Hello"), ("g-2", "a")]
    assert [(e.line, e.field) for e in result.errors] == [(3, "good")]
    result = import_generic(
        path, {"prompt": "q", "chosen": "good", "rejected": "bad", "system_info": "s"}, skip_bad=True
    )
    assert [(e.line, e.field) for e in result.errors][:2] == [(1, "s"), (2, "q")]
    assert result.errors[1].expected == "no system message, since system_info comes from 's'"


def test_importers_check_the_subset_and_skip_bad_rows(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "qa.jsonl", [{"question": "Hi?", "answer": "Hello."}, {"question": "Only"}])
    with pytest.raises(MetaAlignError, match="subset: expected one of priority, helpful"):
        import_generic(path, {"prompt": "question", "response": "answer"}, subset="safety")
    result = import_generic(path, {"prompt": "question", "response": "answer"}, skip_bad=True)
    assert (len(result.records), result.skipped, result.errors[0].line) == (1, 1, 2)
    assert json.loads(json.dumps(result.records[0].model_dump()))["messages"][1]["content"] == "Hello."
