"""The LLM rewrite path: an endpoint turns a draft answer into one that follows a meta-prompt.

Owns filling the versioned rewrite prompt (with the priority note chosen by the caller from
metaalign.preferences.winner) and cleaning the reply. It does not verify the result (the
build's annotation stage does) nor persist it; endpoint failures (EndpointError) propagate.
"""

from __future__ import annotations

from typing import Literal

from metaalign.endpoints.client import ChatClient
from metaalign.judge.prompts import PromptTemplate, load_prompt

Priority = Literal["none", "system", "user"]


class Rewriter:
    """Rewrites drafts through `client` with the prompt `rewrite.v<N>.yaml`."""

    def __init__(
        self,
        client: ChatClient,
        prompt: PromptTemplate | None = None,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
    ) -> None:
        self.client = client
        self.prompt = prompt or load_prompt("rewrite", 1)
        self.max_tokens = max_tokens
        self.temperature = temperature
        notes = self.prompt.extra.get("priority")
        self.notes: dict[str, str] = dict(notes) if isinstance(notes, dict) else {}

    @property
    def version(self) -> str:
        return self.prompt.version

    async def rewrite(
        self,
        *,
        system_info: str | None,
        user_info: str | None,
        instruction: str,
        draft: str,
        priority: Priority = "none",
        key: str | None = None,
        seed: int | None = None,
    ) -> str:
        """The rewritten answer (stripped); an empty reply comes back as the empty string."""
        messages = self.prompt.messages(
            system_info=system_info,
            user_info=user_info,
            instruction=instruction,
            draft=draft,
            priority=self.notes.get(priority, ""),
        )
        result = await self.client.complete(
            messages, temperature=self.temperature, max_tokens=self.max_tokens, seed=seed, idempotency_key=key
        )
        return result.text.strip()
