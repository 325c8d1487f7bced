"""The server's config file: API keys and their roles, the deployer's System Info, limits.

Owns reading and validating serve.yaml (errors name the file and field). It does not
authenticate requests or decide tiers (trust.py) and does not start anything (router.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Role = Literal["deployer", "user"]
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"


class KeyConfig(BaseModel):
    """One API key: who holds it, what tier it may write, how fast it may call."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=8, description="the bearer token clients send")
    role: Role = "user"
    name: str = ""
    requests_per_minute: int | None = Field(default=None, ge=1, description="None: no limit")


class ServeConfig(BaseModel):
    """Everything `metaalign serve` needs besides the model weights."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(default=None, description="model reference; --model overrides it")
    served_model_name: str = "metaalign"
    models: dict[str, str] | None = Field(
        default=None,
        description="several models, {name clients send as `model`: reference}; --model NAME=REF overrides",
    )
    system_info: str | None = Field(default=None, description="the deployer's System Info for every request")
    system_message_policy: Literal["reject", "demote"] = "reject"
    keys: list[KeyConfig] = Field(default_factory=list)
    max_queue: int = Field(default=64, ge=1, description="waiting requests before 503")
    max_batch: int = Field(default=16, ge=1, description="requests per engine batch")
    batch_wait_ms: float = Field(default=10.0, ge=0, description="how long to wait for a batch to fill")
    scheduling: Literal["continuous", "static"] = Field(
        default="continuous",
        description="continuous: requests join the running batch at the next step; static: a batch runs "
        "until its longest request ends (engines without continuous batching always run static)",
    )
    shutdown_timeout_s: float = Field(
        default=5.0, gt=0, description="on SIGTERM, in-flight requests are ended after this many seconds"
    )
    default_max_tokens: int = Field(default=256, ge=1)
    max_tokens_limit: int = Field(default=1024, ge=1)
    context_window: int | None = Field(default=None, ge=16, description="None: the model's own")
    strict_fields: bool = Field(default=False, description="unknown request fields: 400 instead of a warning")
    playground: bool = Field(
        default=True, description="serve the /playground page and its /v1/metaalign/info and render routes"
    )

    @field_validator("models")
    @classmethod
    def _model_names(cls, models: dict[str, str] | None) -> dict[str, str] | None:
        import re

        if models is not None and not models:
            raise ValueError("name at least one model, or leave `models` out")
        for name, ref in (models or {}).items():
            if not re.match(MODEL_NAME, name):
                raise ValueError(f"model name {name!r}: letters, digits and . _ : / - only")
            if not ref.strip():
                raise ValueError(f"model {name!r}: the reference is empty")
        return models

    @model_validator(mode="after")
    def _one_way_to_name_models(self) -> ServeConfig:
        if self.models is not None and self.model is not None:
            raise ValueError("give either `model` (one model) or `models` (several), not both")
        return self

    @field_validator("keys")
    @classmethod
    def _unique_keys(cls, keys: list[KeyConfig]) -> list[KeyConfig]:
        seen = set()
        for index, entry in enumerate(keys):
            if entry.key in seen:
                raise ValueError(f"keys[{index}]: the same key is listed twice")
            seen.add(entry.key)
        return keys

    def find_key(self, token: str | None) -> KeyConfig | None:
        """The key entry matching `token`, compared in constant time; None if none matches."""
        import hmac

        if not token:
            return None
        match = None
        for entry in self.keys:
            if hmac.compare_digest(entry.key.encode(), token.encode()):
                match = entry
        return match


def served_models(config: ServeConfig, specs: list[str] | None, default_ref: str) -> dict[str, str]:
    """{name clients send as `model`: model reference}, from `--model` specs or else the config.

    A spec is `NAME=REF` or a bare `REF`, which is served as `served_model_name`. Specs replace the
    config's `model`/`models`; with neither, `default_ref` is served as `served_model_name`.
    """
    import re

    from metaalign.errors import MetaAlignError

    if not specs:
        return dict(config.models or {config.served_model_name: config.model or default_ref})
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, ref = spec.partition("=")
        if not sep or not re.match(MODEL_NAME, name):
            name, ref = config.served_model_name, spec
        if not ref.strip():
            raise MetaAlignError(f"--model {spec}: expected NAME=REF or REF, the reference is empty")
        if name in out:
            raise MetaAlignError(
                f"--model {spec}: the name '{name}' is given twice; give each model its own NAME=REF"
            )
        out[name] = ref
    return out


def load_config(path: str | Path | None) -> ServeConfig:
    """Reads a serve.yaml; no path gives the defaults (no keys: every request is refused)."""
    if path is None:
        return ServeConfig()
    from metaalign.yamlio import read_yaml_mapping, validation_error

    data, lines = read_yaml_mapping(path, "server settings (see examples/serve.yaml)")
    try:
        return ServeConfig.model_validate(data)
    except ValidationError as err:
        raise validation_error(err, str(path), lines) from err
