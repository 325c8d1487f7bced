"""The checker data types: `Check` (an id plus parameters), `Param` (one parameter's rule) and `Checker`.

Owns parameter validation. Does not own the registry of checkers (see `checkers`) nor the
individual checks (see `checks_*`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Check:
    """A checker id plus its parameters, e.g. `Check("max_words", {"n": 20})`."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frozen = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(self.params).items()}
        object.__setattr__(self, "params", MappingProxyType(frozen))

    def __reduce__(self) -> tuple[Any, ...]:  # a mappingproxy does not pickle; rebuild from a dict
        return (Check, (self.id, dict(self.params)))

    def __hash__(self) -> int:
        return hash((self.id, tuple(sorted(self.params.items()))))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Check) and (self.id, dict(self.params)) == (other.id, dict(other.params))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"Check({self.id}{': ' + args if args else ''})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, not tuples) for YAML/JSON."""
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}
        return {"id": self.id, "params": params}


@dataclass(frozen=True)
class Param:
    """One parameter: "int" (with bounds), "str" (a phrase with a word in it) or "words" (1-5 words)."""

    type: str
    low: int = 1
    high: int = 10_000

    def problem(self, value: Any) -> str | None:
        """Why `value` is not acceptable, or None."""
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"an integer from {self.low} to {self.high}"
            return None if self.low <= value <= self.high else f"an integer from {self.low} to {self.high}"
        if self.type == "str":
            return None if _is_phrase(value) else _PHRASE
        if self.type == "words":
            if not isinstance(value, list | tuple) or not 1 <= len(value) <= 5:
                return "a list of 1 to 5 single words"
            return None if all(_is_word(v) for v in value) else "a list of 1 to 5 single words"
        raise ValueError(f"unknown parameter type {self.type!r}")


_PHRASE = "a one-line phrase of 1 to 80 characters that starts with a word and does not end with a quote"


def _is_phrase(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 80
        and value == value.strip()
        and re.match(r"[\w¿¡]", value) is not None
        and value[-1] not in "\"“”'"
        and "\n" not in value
        and re.search(r"\w", value) is not None
    )


def _is_word(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\w+(?:['’-]\w+)*", value) is not None and len(value) >= 2


@dataclass(frozen=True)
class Cost:
    """At most how many words, sentences and characters a transform adds to a text.

    `satisfy` keeps this much room under length limits, and `conflicting` calls a length limit and a
    preference incompatible when the preference alone needs more than the limit allows.
    """

    words: int = 0
    sentences: int = 0
    chars: int = 0


def _free(**_: Any) -> Cost:
    return Cost()


@dataclass(frozen=True)
class Checker:
    """A verifiable preference type: how to check a text and how to make a text pass.

    `stage` orders transforms when several are applied together (see `transforms.satisfy`).
    """

    id: str
    dimension: str
    description: str
    check_fn: Callable[..., bool]
    transform_fn: Callable[..., str]
    params: Mapping[str, Param] = field(default_factory=dict)
    stage: int = 50
    cost_fn: Callable[..., Cost] = _free

    def cost(self, **params: Any) -> Cost:
        return self.cost_fn(**params)

    def check(self, text: str, **params: Any) -> bool:
        return bool(self.check_fn(text, **params))

    def transform(self, text: str, **params: Any) -> str:
        return self.transform_fn(text, **params)

    def problems(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(parameter name, expectation) for every missing, unknown or invalid parameter."""
        out = [(name, "not a parameter of " + self.id) for name in params if name not in self.params]
        for name, rule in self.params.items():
            if name not in params:
                out.append((name, "required: " + (rule.problem(None) or "")))
            elif (why := rule.problem(params[name])) is not None:
                out.append((name, why))
        return out
