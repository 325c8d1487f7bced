"""The quickstart's settings: one YAML file with a section per stage (build, train, eval).

Owns the top-level shape, its file:line errors and where the shipped recipes are; each section
is validated by the stage that reads it (BuildConfig, the two-stage training config,
`run_verifiable`'s arguments). The recipes are recipes/quickstart/`smollm2-135m.yaml` (default)
and `fast.yaml` (CI): in a source checkout there, in a wheel inside this package (setup.py copies
them at build time). Reading the file and the `--key value` overrides are metaalign.overrides'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metaalign.errors import MetaAlignError
from metaalign.overrides import load_settings
from metaalign.yamlio import expectation, validation_error


def recipe_folder(package: Path = Path(__file__).parent) -> Path:
    """The shipped quickstart recipes: the wheel's copy inside the package, else the checkout's."""
    packaged = package / "recipes"
    return packaged if packaged.is_dir() else package.resolve().parents[2] / "recipes" / "quickstart"


RECIPES = recipe_folder()
DEFAULT_CONFIG = RECIPES / "smollm2-135m.yaml"
FAST_CONFIG = RECIPES / "fast.yaml"


class EvalSettings(BaseModel):
    """Arguments of `run_verifiable` that a quickstart may set."""

    model_config = ConfigDict(extra="forbid")

    limit: int | None = Field(None, ge=1)  # None: the whole built-in suite
    max_new_tokens: int = Field(128, ge=1)
    batch_size: int = Field(16, ge=1)


class Targets(BaseModel):
    """What the report calls met: the MetaAligned model's figures on the eval slice."""

    model_config = ConfigDict(extra="forbid")

    single_tier_adherence: float = Field(0.65, ge=0.0, le=1.0)
    conflict_accuracy: float = Field(0.75, ge=0.0, le=1.0)
    leakage_over_base: float = Field(0.02, ge=0.0, le=1.0)  # leakage at most the base model's + this


class QuickstartConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "smollm2-135m"
    seed: int = 0
    threads: int | None = Field(None, ge=1)  # torch CPU threads for every stage (None: torch's)
    build: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    targets: Targets = Field(default_factory=Targets)


def load_quickstart_config(
    path: str | Path = DEFAULT_CONFIG, overrides: Sequence[str] | Mapping[str, Any] = ()
) -> QuickstartConfig:
    """The config at `path` with `--key value` overrides; errors name the file, line and field,
    or the override at fault."""
    settings = load_settings(path, overrides, what="quickstart settings")
    try:
        return QuickstartConfig.model_validate(settings.data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        origin = settings.origin(field)
        if origin is not None:
            raise MetaAlignError(f"override {origin}: field '{field}': {expectation(first)}") from err
        raise validation_error(err, settings.source, settings.lines) from err
