"""The typed MetaAlign records: SFT and preference samples with their three tiers.

Owns the pydantic models, the rules a record must satisfy, and the translation of a pydantic
error into a field path plus an expectation. Does not own files or formats (see `io`) nor how
the tiers are rendered into model input (see `metaalign.render`).
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from metaalign.render.renderer import dialogue_problem

Role = Literal["system", "user", "assistant"]
Subset = Literal["priority", "helpful", "consensus", "diverse_opinion", "custom"]
Winner = Literal["system", "user"]
Kind = Literal["sft", "preference"]

SUBSETS: tuple[str, ...] = get_args(Subset)
KINDS: tuple[str, ...] = get_args(Kind)

# strict: a number where text belongs, or "yes" for a bool, is a mistake worth reporting.
_FIXED = ConfigDict(extra="forbid", strict=True)


class Message(BaseModel):
    """One dialogue turn."""

    model_config = _FIXED

    role: Role
    content: str = Field(min_length=1)


class RecordMeta(BaseModel):
    """Metadata of a record. Keys beyond the named ones are kept as they are (user metadata).

    Rule: `winner` names the tier that wins when `conflict` is true and is required then;
    it must be absent (None) when there is no conflict.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    preference: str | None = None
    conflict: bool = False
    winner: Winner | None = Field(default=None, validate_default=True)
    source: str | None = None

    @field_validator("winner")
    @classmethod
    def _winner_matches_conflict(cls, winner: Winner | None, info: ValidationInfo) -> Winner | None:
        if "conflict" not in info.data:  # 'conflict' itself was invalid: that is the error to report
            return winner
        conflict = info.data["conflict"]
        if conflict and winner is None:
            raise PydanticCustomError(
                "winner_required", "'system' or 'user' (required because 'conflict' is true)"
            )
        if not conflict and winner is not None:
            raise PydanticCustomError(
                "winner_without_conflict", "no winner (null or absent) because 'conflict' is false"
            )
        return winner


def _check_dialogue(messages: list[Message], last_role: Role) -> list[Message]:
    """The renderer's dialogue rules (`dialogue_problem`), plus which role the list must end with."""
    problem = dialogue_problem([m.role for m in messages])
    if problem is not None:
        index, expected = problem
        at = "" if index is None else f"[{index}].role"
        raise PydanticCustomError("dialogue_roles", "{expected}", {"expected": expected, "at": at})
    if messages[-1].role != last_role:
        raise PydanticCustomError(
            "dialogue_end",
            "the last message to have role '{want}', got '{got}'",
            {"want": last_role, "got": messages[-1].role, "at": f"[{len(messages) - 1}].role"},
        )
    return messages


class _RecordBase(BaseModel):
    model_config = _FIXED
    kind: ClassVar[Kind]

    id: str = Field(min_length=1)
    subset: Subset = "custom"
    system_info: str | None = None
    user_info: str | None = None
    # each kind declares `metadata` after its own fields, so that files list it last


class SFTRecord(_RecordBase):
    """A supervised sample: the meta-prompt tiers plus a dialogue that ends with the assistant."""

    kind: ClassVar[Kind] = "sft"

    messages: list[Message]
    metadata: RecordMeta = Field(default_factory=RecordMeta)

    @field_validator("messages")
    @classmethod
    def _dialogue_rules(cls, messages: list[Message]) -> list[Message]:
        return _check_dialogue(messages, "assistant")


class PreferenceRecord(_RecordBase):
    """A preference pair: the meta-prompt tiers, a prompt ending with the user, two completions."""

    kind: ClassVar[Kind] = "preference"

    prompt: list[Message]
    chosen: str = Field(min_length=1)
    rejected: str = Field(min_length=1)
    metadata: RecordMeta = Field(default_factory=RecordMeta)

    @field_validator("prompt")
    @classmethod
    def _prompt_rules(cls, prompt: list[Message]) -> list[Message]:
        return _check_dialogue(prompt, "user")

    @field_validator("rejected")
    @classmethod
    def _differs_from_chosen(cls, rejected: str, info: ValidationInfo) -> str:
        if rejected == info.data.get("chosen"):
            raise PydanticCustomError("same_completion", "a completion different from 'chosen'")
        return rejected


Record = SFTRecord | PreferenceRecord
MODELS: dict[str, type[SFTRecord] | type[PreferenceRecord]] = {
    "sft": SFTRecord,
    "preference": PreferenceRecord,
}


def detect_kind(row: Mapping[str, Any]) -> Kind:
    """A row with a `chosen` key is a preference record; anything else is SFT."""
    return "preference" if "chosen" in row else "sft"


def record_to_row(record: Record) -> dict[str, Any]:
    """The record as plain JSON-ready data; `MODELS[kind].model_validate` reverses it exactly."""
    return record.model_dump(mode="json")


def field_path(loc: tuple[str | int, ...]) -> str:
    """('messages', 2, 'role') -> 'messages[2].role'."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _describe(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{type(value).__name__} {text}" if not isinstance(value, str) else text


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel]:
    """The model that owns the last part of `loc` (walks nested models and lists of them)."""
    owner = model
    for part in loc[:-1]:
        if isinstance(part, str) and part in owner.model_fields:
            annotation = owner.model_fields[part].annotation
            owner = getattr(annotation, "__args__", (annotation,))[0]
    return owner


def _expectation(error: Mapping[str, Any], model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "missing":
        return "a value (this field is required)"
    if kind == "string_too_short":
        return "a non-empty string"
    if kind == "extra_forbidden":
        known = list(_model_at(model, loc).model_fields)
        close = get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return f"no such field; {hint}(known fields: {', '.join(known)})"
    if msg.startswith("Input should be "):
        return f"{msg[len('Input should be ') :]}, got {_describe(error.get('input'))}"
    return msg


def explain(err: ValidationError, model: type[BaseModel]) -> tuple[str | None, str]:
    """The first problem of a validation error as (field path or None, what was expected).

    Further problems in the same record are counted in the expectation text.
    """
    errors = err.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    path = field_path(loc) + str(first.get("ctx", {}).get("at", "")) if loc else None
    expected = _expectation(first, model, loc)
    if len(errors) > 1:
        more = len(errors) - 1
        expected += f" (and {more} more problem{'s' if more > 1 else ''} in this record)"
    return path, expected
