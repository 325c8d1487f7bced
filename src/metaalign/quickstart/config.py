"""The quickstart's settings: one YAML file with a section per stage (build, train, eval).

Owns the top-level shape and its file:line errors; each section is validated by the stage
that reads it (BuildConfig, the two-stage training config, `run_verifiable`'s arguments).
The packaged configs sit in `configs/`: `smollm2-135m.yaml` (default) and `fast.yaml` (CI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metaalign.build.build_config import _read_yaml
from metaalign.errors import RecordError

CONFIGS = Path(__file__).parent / "configs"
DEFAULT_CONFIG = CONFIGS / "smollm2-135m.yaml"
FAST_CONFIG = CONFIGS / "fast.yaml"


class EvalSettings(BaseModel):
    """Arguments of `run_verifiable` that a quickstart may set."""

    model_config = ConfigDict(extra="forbid")

    limit: int | None = Field(None, ge=1)  # None: the whole built-in suite
    max_new_tokens: int = Field(128, ge=1)
    batch_size: int = Field(16, ge=1)


class QuickstartConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "smollm2-135m"
    seed: int = 0
    threads: int | None = Field(None, ge=1)  # torch CPU threads for every stage (None: torch's)
    build: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    eval: dict[str, Any] = Field(default_factory=dict)

    def eval_settings(self) -> dict[str, Any]:
        return EvalSettings.model_validate(self.eval).model_dump()


def load_quickstart_config(path: str | Path = DEFAULT_CONFIG) -> QuickstartConfig:
    """The config at `path`; errors name the file, the line and the field."""
    data, lines = _read_yaml(Path(path))
    try:
        config = QuickstartConfig.model_validate(data)
        config.eval_settings()
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(p) for p in first["loc"]]
        field = ".".join(loc if loc[0] in QuickstartConfig.model_fields else ["eval", *loc])
        raise RecordError(str(path), lines.get(field), field, first["msg"]) from err
    return config
