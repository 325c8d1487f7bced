"""The pairwise LLM judge: which of two answers better follows a meta-prompt, asked in both orders.

Owns the verdict rules (position swap, ties, disagreement = tie, unparsable replies retried then
reported as `unparsable`, never raised) and the reply parser. It does not choose pairs nor
persist verdicts (metaalign.build does); endpoint failures (EndpointError) propagate.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Literal

from metaalign.endpoints.client import ChatClient
from metaalign.errors import MetaAlignError
from metaalign.judge.prompts import PromptTemplate, load_prompt

Label = Literal["A", "B", "tie"]
Outcome = Literal["A", "B", "tie", "unparsable"]

# "Verdict: a tie" is a tie: an article before "tie" is skipped, not read as answer A.
_VERDICT = re.compile(r"verdict\s*[:=]?\s*[*_`\"'\[]*\s*(?:an?\s+(?=tie))?(A|B|tie)\b", re.IGNORECASE)
_BRACKETS = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)
_BARE = re.compile(r"^[\s*_`\"'\[(]*(A|B|tie)[\s*_`\"'\]).]*$", re.IGNORECASE)
_SWAP = {"A": "B", "B": "A", "tie": "tie"}


def parse_verdict(reply: str) -> Label | None:
    """The verdict a judge reply states ("Verdict: A", "[[B]]", or just "tie"); None if unclear.

    A reply that states two different verdicts is unclear. MT-Bench's "[[C]]" means a tie.
    """
    found = {m.group(1) for m in _VERDICT.finditer(reply)}
    found |= {m.group(1) for m in _BRACKETS.finditer(reply)}
    bare = _BARE.match(reply)
    if bare:
        found.add(bare.group(1))
    labels = {_normal(label) for label in found}
    return labels.pop() if len(labels) == 1 else None


def _normal(label: str) -> Label:
    upper = label.upper()
    if upper in ("A", "B"):
        return upper  # type: ignore[return-value]
    return "tie"  # "tie", "TIE", or MT-Bench's "C"


@dataclass(frozen=True)
class Verdict:
    """A judged pair. `winner` is in the caller's labels (A = the first answer given).

    `first` is the verdict with the answers as given, `second` the verdict with them swapped,
    mapped back to the caller's labels; `agree` says whether the two orders agreed.
    """

    winner: Outcome
    first: Outcome
    second: Outcome
    agree: bool
    attempts: int
    prompt_version: str
    replies: tuple[str, str]


def combine(first: Outcome, second: Outcome) -> tuple[Outcome, bool]:
    """Both orders' verdicts (in the caller's labels) into one: equal ones stand, others tie."""
    if "unparsable" in (first, second):
        return "unparsable", False
    if first == second:
        return first, True
    return "tie", False


class PairwiseJudge:
    """Asks `client` to compare two answers under a meta-prompt, in both orders.

    Each order is asked up to `1 + parse_retries` times while the reply has no readable verdict
    (later attempts append the prompt's `retry` text to the conversation).
    """

    def __init__(
        self,
        client: ChatClient,
        prompt: PromptTemplate | None = None,
        *,
        parse_retries: int = 2,
        max_tokens: int = 256,
        temperature: float = 0.0,
    ) -> None:
        self.client = client
        self.prompt = prompt or load_prompt("judge", 1)
        if not str(self.prompt.extra.get("retry", "")).strip():  # asked after an unparsable reply
            raise MetaAlignError(
                f"judge prompt {self.prompt.version}: field 'retry': expected a non-empty string"
            )
        self.parse_retries = parse_retries
        self.max_tokens = max_tokens
        self.temperature = temperature

    @property
    def version(self) -> str:
        return self.prompt.version

    async def judge(
        self,
        *,
        system_info: str | None,
        user_info: str | None,
        instruction: str,
        answer_a: str,
        answer_b: str,
        key: str | None = None,
    ) -> Verdict:
        tiers = {"system_info": system_info, "user_info": user_info, "instruction": instruction}
        ab = self.prompt.messages(**tiers, answer_a=answer_a, answer_b=answer_b)
        ba = self.prompt.messages(**tiers, answer_a=answer_b, answer_b=answer_a)
        (first, raw1, n1), (swapped, raw2, n2) = await asyncio.gather(
            self._ask(ab, None if key is None else f"{key}:ab"),
            self._ask(ba, None if key is None else f"{key}:ba"),
        )
        second: Outcome = swapped if swapped == "unparsable" else _SWAP[swapped]
        winner, agree = combine(first, second)
        return Verdict(winner, first, second, agree, n1 + n2, self.version, (raw1, raw2))

    async def _ask(self, messages: list[dict[str, str]], key: str | None) -> tuple[Outcome, str, int]:
        conversation = list(messages)
        reply = ""
        for attempt in range(1, self.parse_retries + 2):
            result = await self.client.complete(
                conversation,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                idempotency_key=None if key is None else f"{key}:{attempt}",
            )
            reply = result.text
            label = parse_verdict(reply)
            if label is not None:
                return label, reply, attempt
            retry = str(self.prompt.extra["retry"])
            conversation = [
                *messages,
                {"role": "assistant", "content": reply},
                {"role": "user", "content": retry},
            ]
        return "unparsable", reply, self.parse_retries + 1
