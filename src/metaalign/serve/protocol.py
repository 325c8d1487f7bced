"""The wire format of the OpenAI-compatible server: pydantic request and response models.

Owns the shapes only, following the OpenAI chat completions spec, plus the one MetaAlign
extension (`metaalign`, outside the OpenAI spec) and the list of known-but-ignored OpenAI
fields, so unknown fields can be reported. Logic lives in serving.py; routes in router.py.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# OpenAI request fields this server accepts but does not act on; they are reported as ignored.
IGNORED_OPENAI_FIELDS = frozenset(
    {
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
        "service_tier",
        "store",
        "metadata",
        "modalities",
        "reasoning_effort",
        "prediction",
        "audio",
        "web_search_options",
        "verbosity",
        "prompt_cache_key",
        "safety_identifier",
    }
)


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str = Field(max_length=200_000)


class ChatMessage(BaseModel):
    """One OpenAI chat message. `system`/`developer` are deployer-only (see trust.py)."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "developer", "user", "assistant"]
    content: Annotated[str, Field(max_length=200_000)] | Annotated[list[TextPart], Field(max_length=64)]
    name: str | None = Field(default=None, max_length=256)

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class MetaAlignExtension(BaseModel):
    """NOT part of the OpenAI spec: MetaAlign's per-request tiers.

    `user_info`: this request's User Info (any key). `system_info`: deployer keys only; from a
    user key it is refused with 403 (or demoted into User Info, as the server is configured).
    """

    model_config = ConfigDict(extra="forbid")
    user_info: str | None = Field(default=None, max_length=200_000)
    system_info: str | None = Field(default=None, max_length=200_000)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """POST /v1/chat/completions. Unknown fields are kept here and reported (or refused if strict)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1024)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = Field(default=None, ge=-(2**63), lt=2**63)
    stop: (
        Annotated[str, Field(max_length=256)]
        | Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=4)]
        | None
    ) = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=128, description="only 1 is supported")
    user: str | None = Field(default=None, max_length=256)
    metaalign: MetaAlignExtension | None = Field(
        default=None, description="MetaAlign extension, outside the OpenAI spec: per-request User Info"
    )

    def extra_fields(self) -> list[str]:
        return sorted(self.model_extra or {})


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MetaAlignInfo(BaseModel):
    """NOT part of the OpenAI spec: what the server did with the request's tiers and fields."""

    warnings: list[str] = Field(default_factory=list)
    system_info_source: Literal["config", "deployer", "default"] = "config"
    demoted_system_messages: int = 0


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=completion_id)
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage
    metaalign: MetaAlignInfo | None = None


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    metaalign: MetaAlignInfo | None = Field(
        default=None, description="MetaAlign extension, outside the OpenAI spec: in the first chunk only"
    )


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "metaalign"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_payload(
    message: str, kind: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return ErrorResponse(error=ErrorBody(message=message, type=kind, param=param, code=code)).model_dump()


class RenderResponse(BaseModel):
    """NOT part of the OpenAI spec: POST /v1/metaalign/render, the prompt exactly as the model sees it.

    The body is a chat completions request; its tiers are resolved under the key's role (a user
    key's System Info is refused with 403, as for a completion) and rendered by the model's renderer,
    the one `metaalign render` uses. A user key never sees the deployer's System Info text.
    """

    object: Literal["metaalign.render"] = "metaalign.render"
    model: str
    prompt: str = Field(description="the exact text the model is given, generation header included")
    prompt_tokens: int
    system_info_source: Literal["config", "deployer", "default"]
    system_info_hidden: bool = Field(
        default=False,
        description="true for a user key: the deployer's System Info text is replaced by a marked "
        "placeholder in `prompt` (`prompt_tokens` still counts the real prompt)",
    )
    context_window: int | None = None


class ServerInfo(BaseModel):
    """NOT part of the OpenAI spec: GET /v1/metaalign/info, what the playground needs for a key."""

    object: Literal["metaalign.info"] = "metaalign.info"
    role: Literal["deployer", "user"] = Field(
        description="the key's role: only 'deployer' may set System Info"
    )
    key_name: str
    system_info: str | None = Field(
        description="the deployer's System Info from the config, for a deployer key only (None: the "
        "default, or hidden from this key)"
    )
    system_info_hidden: bool = Field(
        default=False, description="true when the config sets a System Info that this (user) key may not read"
    )
    default_system_info: str = Field(description="what an empty System Info renders as")
    system_message_policy: Literal["reject", "demote"]
    models: list[str]
    default_max_tokens: int
    max_tokens_limit: int
