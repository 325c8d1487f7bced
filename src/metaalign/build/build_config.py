"""`BuildConfig`: every knob of `metaalign build`, loaded from a recipe YAML plus CLI overrides.

Owns the schema, defaults and file:line errors for bad recipes; reading the recipe and the
`--key value` overrides are metaalign.overrides' (the syntax every command shares).
It does not load instructions or the preference library (metaalign.preferences does) nor run
anything. A recipe is data: every field below may appear in it, nothing else may.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from metaalign.errors import MetaAlignError
from metaalign.overrides import load_settings, parse_overrides
from metaalign.stages import fingerprint
from metaalign.yamlio import expectation, validation_error

_STRICT = ConfigDict(extra="forbid", validate_assignment=True)


class PolicyConfig(BaseModel):
    """Where candidate responses come from: `local` (transformers), `endpoint`, or `fake` (tests)."""

    model_config = _STRICT

    backend: Literal["local", "endpoint", "fake"] = "local"
    model: str = "smollm2-135m"
    batch_size: int = Field(16, ge=1)
    max_new_tokens: int = Field(96, ge=1)
    temperature: float = Field(0.8, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    threads: int | None = Field(None, ge=1)
    fake_delay: float = Field(0.0, ge=0.0)  # seconds per request, `fake` backend only


class EndpointConfig(BaseModel):
    """An OpenAI-compatible endpoint for sampling, rewriting and judging. The key is read from an env var."""

    model_config = _STRICT

    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = Field(16, ge=1)
    max_retries: int = Field(6, ge=0)
    timeout: float = Field(60.0, gt=0.0)
    backoff: float = Field(0.5, ge=0.0)
    price_prompt: float = Field(0.0, ge=0.0)  # per million tokens
    price_completion: float = Field(0.0, ge=0.0)
    # how sampled candidates carry their (default) tiers: `messages` = one system message with the
    # rendered meta-prompt block (vLLM, hosted APIs); `metaalign` = the `metaalign` request field of
    # `metaalign serve` (needs a deployer key)
    tiers: Literal["messages", "metaalign"] = "messages"
    max_tokens: int = Field(384, ge=1)  # rewrite replies
    judge_max_tokens: int = Field(256, ge=1)
    judge_parse_retries: int = Field(2, ge=0)


class MixConfig(BaseModel):
    """Relative weights of the meta-prompt kinds assigned to each instruction.

    conflict: System and User Info conflict (the priority matrix picks the winner);
    agree: both tiers set compatible verifiable preferences; system_only / user_only: one tier;
    background: an implicit User Info background beside a verifiable System Info rule;
    neutral: that background alone (nothing verifiable asked: the raw answer is the target);
    none: no preference at all; open: a non-verifiable preference (needs the endpoint judge);
    safety: for harmful-request probes only, a deployer safety rule against a user's claim.
    """

    model_config = _STRICT

    conflict: float = Field(3.0, ge=0.0)
    agree: float = Field(2.0, ge=0.0)
    system_only: float = Field(1.5, ge=0.0)
    user_only: float = Field(1.5, ge=0.0)
    background: float = Field(1.5, ge=0.0)
    neutral: float = Field(0.0, ge=0.0)
    none: float = Field(0.5, ge=0.0)
    open: float = Field(1.0, ge=0.0)
    safety: float = Field(3.0, ge=0.0)


def _weights(value: dict[str, float], known: list[str], what: str, unit: str) -> dict[str, float]:
    """`value` (name -> weight) if every name is in `known` and no weight is negative."""
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; known: {', '.join(known)}")
    if any(w < 0 for w in value.values()):
        raise ValueError(f"{unit} weights must be >= 0")
    return value


class BuildConfig(BaseModel):
    """The whole build. Sizes: `instructions_train` x `meta_prompts` SFT records (about), K candidates."""

    model_config = _STRICT

    output_dir: str = "runs/build"
    seed: int = 0
    instructions: str | None = None  # a JSONL file; None: the packaged seed instructions
    library: str | None = None  # a YAML preference library; None: the packaged one
    instructions_train: int = Field(300, ge=0)  # 0: every train instruction
    instructions_test: int = Field(40, ge=0)  # held-out instructions for the test split (0: none)
    held_out_split: str = "test"
    candidates: int = Field(2, ge=1)  # K per instruction
    meta_prompts: int = Field(8, ge=1)  # per instruction
    pairs_per_meta_prompt: int = Field(2, ge=1)
    response_path: Literal["offline", "rewrite"] = "offline"
    judge: bool = False  # judge non-verifiable preferences through the endpoint
    formats: list[Literal["jsonl", "parquet", "datasets"]] = Field(default_factory=lambda: ["jsonl"])
    progress: bool = True
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    endpoint: EndpointConfig = Field(default_factory=EndpointConfig)
    mix: MixConfig = Field(default_factory=MixConfig)
    # relative weight of each verifiable preference type (checker id) when one is drawn; 1.0 when
    # absent, 0 leaves the type out. Raise the types the model fails, lower those raw answers meet.
    types: dict[str, float] = Field(default_factory=dict)
    # share of conflicts the priority matrix gives to User Info (System Info delegates, or only
    # states a taste); None: as the library's pairs fall (about 3 in 10 of the train split's)
    conflict_user_share: float | None = Field(None, ge=0.0, le=1.0)
    # weight of each priority rule (priority.yaml ids: delegated, policy, format, silent; 1.0 when
    # absent) when drawing which rule decides a conflict; empty: as the library's pairs fall
    # (about 1 in 10 train conflicts is one System Info delegates)
    conflict_rules: dict[str, float] = Field(default_factory=dict)
    # framed variants added per verifiable train phrasing and tier (preferences/data/frames.v1.yaml)
    paraphrases: int = Field(0, ge=0)
    # DPO pairs for prompts with no verifiable preference (kinds none and neutral): chosen = the raw
    # answer, rejected = it with a marked format nobody asked for, so DPO also teaches "add nothing"
    leakage_pairs: bool = False

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: dict[str, float]) -> dict[str, float]:
        from metaalign.preferences import CHECKERS

        return _weights(value, sorted(CHECKERS), "preference types", "type")

    @field_validator("conflict_rules")
    @classmethod
    def _known_rules(cls, value: dict[str, float]) -> dict[str, float]:
        from metaalign.preferences.priority import default_rules

        return _weights(value, [r.id for r in default_rules()], "priority rules", "rule")

    @model_validator(mode="after")
    def _endpoint_when_needed(self) -> BuildConfig:
        if self.needs_endpoint and not (self.endpoint.base_url and self.endpoint.model):
            raise ValueError(
                "endpoint.base_url and endpoint.model (needed by policy.backend=endpoint, "
                "response_path=rewrite or judge=true)"
            )
        return self

    @property
    def needs_endpoint(self) -> bool:
        return self.policy.backend == "endpoint" or self.response_path == "rewrite" or self.judge

    def api_key(self) -> str | None:
        """The endpoint key from `endpoint.api_key_env`; None when unset (local servers need none)."""
        return os.environ.get(self.endpoint.api_key_env) if self.endpoint.api_key_env else None

    def fingerprint(self) -> str:
        """A hash of every field that changes the dataset (not output, progress or endpoint plumbing)."""
        data = self.model_dump(mode="json")
        for key in ("output_dir", "progress", "formats"):
            data.pop(key)
        for key in ("api_key_env", "concurrency", "max_retries", "timeout", "backoff", "base_url", "tiers"):
            data["endpoint"].pop(key)
        data["policy"].pop("fake_delay")
        data["policy"].pop("threads")
        return fingerprint(data)  # the stage runner's hash, so a store and a marker agree


def load_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] = (),
    values: Mapping[str, Any] | None = None,
) -> BuildConfig:
    """The recipe at `path` (or the defaults), then `values` (dotted keys), then overrides
    (`--key value` items, or `key=value`; metaalign.overrides' one syntax).

    Errors name the recipe's file and line and the field, or the override at fault.
    """
    flat = {**(values or {}), **parse_overrides(overrides)}
    settings = load_settings(Path(path) if path is not None else None, flat, what="build settings")
    try:
        return BuildConfig.model_validate(settings.data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        origin = settings.overridden.get(field)
        if origin is not None:
            raise MetaAlignError(f"override {origin}: field '{field}': {_expectation(first)}") from err
        raise validation_error(err, settings.source, settings.lines, _expectation) from err


def _expectation(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "an unknown setting (check the spelling; see docs/build.md for every setting)"
    return expectation(error)
