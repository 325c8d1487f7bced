"""Importers: other datasets' public layouts turned into MetaAlign records.

Owns the conversion of HH-RLHF transcripts, UltraFeedback-binarized rows, Multifaceted-Collection
rows and generically mapped columns, read as raw rows by `io.read_rows`; each importer returns a
`LoadResult`. Records get subset "custom" unless told otherwise, and id `<file stem>-<row number>`
when the source has none. Writing is `io.write_records`' job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from metaalign.errors import MetaAlignError
from metaalign.records.io import LoadResult, PathLike, RawRow, collect, read_rows, validate_row
from metaalign.records.schema import SUBSETS, Kind, Record, detect_kind

Tier = Literal["system", "user"]
_MISSING = object()
_HH_TURN = re.compile(r"\n\n(Human|Assistant): ?")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}
_TYPE_NAMES = {str: "a string", list: "a list of messages", int: "an integer"}

GENERIC_FIELDS = (
    "id", "subset", "system_info", "user_info", "preference",
    "prompt", "response", "messages", "chosen", "rejected",
)  # fmt: skip


def _stem(path: Path) -> str:
    name = path.name
    return name[: -len(".jsonl.gz")] if name.lower().endswith(".jsonl.gz") else Path(name).stem


def _lookup(data: Mapping[str, Any], column: str) -> Any:
    """A column's value: the exact key first, then a dotted path into nested objects."""
    if column in data:
        return data[column]
    value: Any = data
    for part in column.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _column(
    row: RawRow, column: str, expect: type | tuple[type, ...] = str, mapped_to: str | None = None
) -> Any:
    """The value of a required column, of the expected type, or a RecordError at the row."""
    assert row.data is not None
    value = _lookup(row.data, column)
    if value is _MISSING or value is None:
        mapped = f" (mapped to {mapped_to})" if mapped_to else ""
        raise row.fail(
            column, f"a value in column '{column}'{mapped}; the row has: {', '.join(sorted(row.data))}"
        )
    if not isinstance(value, expect):
        wanted = " or ".join(_TYPE_NAMES[t] for t in (expect if isinstance(expect, tuple) else (expect,)))
        raise row.fail(column, f"{wanted}, got {type(value).__name__}")
    return value


def _messages(row: RawRow, column: str, value: list[Any]) -> list[dict[str, str]]:
    """A list of {role, content} objects from a source column, checked item by item."""
    messages = []
    for i, item in enumerate(value):
        ok = isinstance(item, Mapping) and all(isinstance(item.get(k), str) for k in ("role", "content"))
        if not ok:
            raise row.fail(f"{column}[{i}]", "a message object with string 'role' and 'content'")
        messages.append({"role": item["role"], "content": item["content"]})
    return messages


def _split_system(messages: list[dict[str, str]]) -> tuple[str | None, list[dict[str, str]]]:
    """A leading system message becomes System Info; the rest is the dialogue."""
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], messages[1:]
    return None, messages


def _first_difference(a: list[Any], b: list[Any]) -> int:
    return next((i for i in range(max(len(a), len(b))) if a[i : i + 1] != b[i : i + 1]), 0)


def _shared_prompt(
    row: RawRow, chosen: list[dict[str, str]], rejected: list[dict[str, str]], what: str
) -> None:
    """Both conversations must end with an assistant turn and agree on everything before it."""
    for column, turns in (("chosen", chosen), ("rejected", rejected)):
        if not turns or turns[-1]["role"] != "assistant":
            raise row.fail(column, f"{what} that ends with an assistant turn")
    if chosen[:-1] != rejected[:-1]:
        turn = _first_difference(chosen[:-1], rejected[:-1]) + 1
        raise row.fail(
            "rejected", f"the same turns as 'chosen' before the final reply; they differ at turn {turn}"
        )


def _import(
    src: PathLike,
    convert: Callable[[RawRow], dict[str, Any]],
    *,
    subset: str,
    skip_bad: bool,
    max_errors_shown: int,
) -> LoadResult:
    """Read `src`, convert each row to record fields, fill id and subset, validate, collect."""
    if subset not in SUBSETS:
        raise MetaAlignError(f"subset: expected one of {', '.join(SUBSETS)}, got {subset!r}")
    stem = _stem(Path(src))

    def build(row: RawRow) -> Record:
        data = {"id": f"{stem}-{row.index}", "subset": subset, **convert(row)}
        return validate_row(replace(row, data=data), detect_kind(data))

    return collect(read_rows(src), build, skip_bad=skip_bad, max_errors_shown=max_errors_shown)


def hh_turns(text: str) -> list[dict[str, str]]:
    """'\\n\\nHuman: hi\\n\\nAssistant: hello' as messages. Raises ValueError saying what was expected."""
    if text.startswith(("Human:", "Assistant:")):
        text = "\n\n" + text
    parts = _HH_TURN.split(text)
    if parts[0].strip() or len(parts) < 3:
        raise ValueError("a transcript of '\\n\\nHuman: ...' and '\\n\\nAssistant: ...' turns")
    turns = [
        {"role": _HH_ROLES[name], "content": body.strip()}
        for name, body in zip(parts[1::2], parts[2::2], strict=True)
    ]
    if turns[0]["role"] != "user":
        raise ValueError("a transcript that starts with a 'Human:' turn")
    return turns


def _convert_hh(row: RawRow) -> dict[str, Any]:
    conversations = {}
    for column in ("chosen", "rejected"):
        try:
            conversations[column] = hh_turns(_column(row, column))
        except ValueError as err:
            raise row.fail(column, str(err)) from None
    chosen, rejected = conversations["chosen"], conversations["rejected"]
    _shared_prompt(row, chosen, rejected, "a transcript")
    return {
        "prompt": chosen[:-1],
        "chosen": chosen[-1]["content"],
        "rejected": rejected[-1]["content"],
        "metadata": {"source": "hh-rlhf"},
    }


def import_hh_rlhf(
    src: PathLike, *, subset: str = "custom", skip_bad: bool = False, max_errors_shown: int = 5
) -> LoadResult:
    """HH-RLHF rows (`chosen` and `rejected` transcripts) as preference records.

    The turns both transcripts share become the prompt; their final Assistant turns become the
    completions. Turn texts are stripped of surrounding whitespace.
    """
    return _import(src, _convert_hh, subset=subset, skip_bad=skip_bad, max_errors_shown=max_errors_shown)


def _convert_ultrafeedback(row: RawRow) -> dict[str, Any]:
    assert row.data is not None
    chosen = _messages(row, "chosen", _column(row, "chosen", list))
    rejected = _messages(row, "rejected", _column(row, "rejected", list))
    _shared_prompt(row, chosen, rejected, "a conversation")
    system_info, prompt = _split_system(chosen[:-1])
    if not prompt and isinstance(row.data.get("prompt"), str):
        prompt = [{"role": "user", "content": row.data["prompt"]}]
    scores = {k: row.data[k] for k in ("score_chosen", "score_rejected") if k in row.data}
    data: dict[str, Any] = {
        "system_info": system_info,
        "prompt": prompt,
        "chosen": chosen[-1]["content"],
        "rejected": rejected[-1]["content"],
        "metadata": {"source": "ultrafeedback", **scores},
    }
    if isinstance(row.data.get("prompt_id"), str):
        data["id"] = row.data["prompt_id"]
    return data


def import_ultrafeedback(
    src: PathLike, *, subset: str = "custom", skip_bad: bool = False, max_errors_shown: int = 5
) -> LoadResult:
    """UltraFeedback-binarized rows (`chosen`/`rejected` message lists) as preference records.

    The messages before the final assistant turn are the prompt (a leading system message becomes
    System Info); `prompt_id` becomes the id (two rows with one prompt_id are duplicate ids)
    and the scores go into metadata.
    """
    return _import(
        src, _convert_ultrafeedback, subset=subset, skip_bad=skip_bad, max_errors_shown=max_errors_shown
    )


def import_multifaceted(
    src: PathLike,
    *,
    tier: Tier = "system",
    subset: str = "custom",
    skip_bad: bool = False,
    max_errors_shown: int = 5,
) -> LoadResult:
    """Multifaceted-Collection rows (`system`, `prompt`, `output`) as SFT records.

    The `system` text is a preference description written as a system message ("You are an
    assistant who..."), so by default it becomes System Info; `tier="user"` puts it in User Info
    instead, as an end user's stated preference. Either way it is also `metadata.preference`.
    """
    if tier not in ("system", "user"):
        raise MetaAlignError(f"tier: expected 'system' or 'user', got {tier!r}")

    def convert(row: RawRow) -> dict[str, Any]:
        assert row.data is not None
        preference = _column(row, "system")
        extra = {k: row.data[k] for k in ("original_source", "preference_set") if k in row.data}
        return {
            f"{tier}_info": preference,
            "messages": [
                {"role": "user", "content": _column(row, "prompt")},
                {"role": "assistant", "content": _column(row, "output")},
            ],
            "metadata": {
                "preference": preference,
                "source": row.data.get("main_source", "multifaceted"),
                **extra,
            },
        }

    return _import(src, convert, subset=subset, skip_bad=skip_bad, max_errors_shown=max_errors_shown)


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """['user_info=persona', ...] -> {'user_info': 'persona', ...}, checked against GENERIC_FIELDS."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = (part.strip() for part in pair.partition("="))
        if not sep or not field or not column:
            raise MetaAlignError(f"map {pair!r}: expected FIELD=COLUMN, e.g. user_info=persona")
        if field not in GENERIC_FIELDS:
            raise MetaAlignError(
                f"map {pair!r}: unknown field {field!r}; fields: {', '.join(GENERIC_FIELDS)}"
            )
        if field in mapping:
            raise MetaAlignError(f"map: field {field!r} is mapped twice")
        mapping[field] = column
    return mapping


def check_mapping(mapping: Mapping[str, str]) -> Kind:
    """The kind a generic mapping produces; raises MetaAlignError when fields are missing or mixed."""
    fields = set(mapping)
    if unknown := fields - set(GENERIC_FIELDS):
        raise MetaAlignError(f"map: unknown fields {sorted(unknown)}; fields: {', '.join(GENERIC_FIELDS)}")
    if fields & {"chosen", "rejected"}:
        if missing := {"prompt", "chosen", "rejected"} - fields:
            raise MetaAlignError(
                f"map: preference records need prompt, chosen and rejected; missing {sorted(missing)}"
            )
        if mixed := fields & {"response", "messages"}:
            raise MetaAlignError(f"map: {sorted(mixed)} belong to SFT records, not with chosen/rejected")
        return "preference"
    if "messages" in fields and fields & {"prompt", "response"}:
        raise MetaAlignError("map: SFT records take messages, or prompt and response, not both")
    if "messages" not in fields and not {"prompt", "response"} <= fields:
        raise MetaAlignError("map: SFT records need messages, or prompt and response")
    return "sft"


def _dialogue(row: RawRow, column: str, field: str) -> tuple[str | None, list[dict[str, str]]]:
    """A text column as one user turn, or a message-list column (a leading system turn split off)."""
    value = _column(row, column, (str, list), field)
    if isinstance(value, str):
        return None, [{"role": "user", "content": value}]
    return _split_system(_messages(row, column, value))


def _completion(row: RawRow, column: str, field: str) -> str:
    """A text column, or the final assistant turn of a message-list column."""
    value = _column(row, column, (str, list), field)
    if isinstance(value, str):
        return value
    messages = _messages(row, column, value)
    if not messages or messages[-1]["role"] != "assistant":
        raise row.fail(column, "a string, or a list of messages that ends with an assistant turn")
    return messages[-1]["content"]


def _convert_generic(mapping: Mapping[str, str], row: RawRow) -> dict[str, Any]:
    data: dict[str, Any] = {"metadata": {"source": "generic"}}
    if "id" in mapping:
        data["id"] = str(_column(row, mapping["id"], (str, int), "id"))
    for field in ("subset", "system_info", "user_info"):
        if field in mapping:
            data[field] = _column(row, mapping[field], str, field)
    if "preference" in mapping:
        data["metadata"]["preference"] = _column(row, mapping["preference"], str, "preference")
    field = "messages" if "messages" in mapping else "prompt"
    system, dialogue = _dialogue(row, mapping[field], field)
    if system is not None and "system_info" in data:
        raise row.fail(
            mapping[field], f"no system message, since system_info comes from '{mapping['system_info']}'"
        )
    if system is not None:
        data["system_info"] = system
    if "response" in mapping:
        dialogue.append({"role": "assistant", "content": _column(row, mapping["response"], str, "response")})
    if "chosen" in mapping:
        data["prompt"] = dialogue
        data["chosen"] = _completion(row, mapping["chosen"], "chosen")
        data["rejected"] = _completion(row, mapping["rejected"], "rejected")
    else:
        data["messages"] = dialogue
    return data


def import_generic(
    src: PathLike,
    mapping: Mapping[str, str],
    *,
    subset: str = "custom",
    skip_bad: bool = False,
    max_errors_shown: int = 5,
) -> LoadResult:
    """Rows whose columns are named by `mapping` (record field -> source column) as records.

    Fields: id, subset, system_info, user_info, preference (to metadata), and either prompt +
    chosen + rejected (preference records), or messages, or prompt + response (SFT records).
    A prompt or messages column holds text (one user turn) or a list of {role, content}; a
    chosen/rejected column holds text or messages ending with the assistant's reply. Columns
    may be dotted paths into nested objects (`meta.persona`). Every mapped column is required.
    """
    check_mapping(mapping)
    return _import(
        src,
        lambda row: _convert_generic(mapping, row),
        subset=subset,
        skip_bad=skip_bad,
        max_errors_shown=max_errors_shown,
    )
