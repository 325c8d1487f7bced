"""Running a stage's endpoint calls concurrently and committing each result as it completes.

Owns the asyncio loop of a stage, progress bars, and what happens when a call fails for good
(an `EndpointError`: the item is recorded in the store's `failures` table and stays pending; a
re-run retries it). It does not know what a call does; stages pass an async function.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from metaalign.build.build_config import BuildConfig
from metaalign.build.store import BuildStore
from metaalign.endpoints.client import ChatResult, EndpointError, Messages


def progress_bar(config: BuildConfig, total: int, desc: str, initial: int = 0) -> Any:
    """A tqdm bar on stderr (disabled by `progress: false`)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=f"build: {desc}",
        unit="item",
        disable=not config.progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )


def run_calls(
    config: BuildConfig,
    store: BuildStore,
    table: str,
    items: Sequence[Any],
    call: Callable[[Any], Awaitable[dict[str, Any] | list[dict[str, Any]]]],
    *,
    total: int | None = None,
    client: Any = None,
) -> int:
    """Await `call(item)` for every item concurrently (the client limits concurrency).

    Each result (one row or several) is written to `table` at once. Returns how many items
    failed for good; they are recorded in `failures` and stay pending.
    """
    if not items:
        return 0
    total = len(items) if total is None else total

    async def main() -> int:
        failed = 0
        with progress_bar(config, total, table, initial=total - len(items)) as bar:

            async def one(item: Any) -> None:
                nonlocal failed
                try:
                    result = await call(item)
                except EndpointError as err:
                    failed += 1
                    store.fail(table, item.id, str(err), err.attempts)
                    bar.set_postfix(pending=failed)
                    return
                store.put_many(table, result if isinstance(result, list) else [result])
                bar.update(1)

            try:
                await asyncio.gather(*(one(item) for item in items))
            finally:
                closer = getattr(client, "aclose", None)
                if closer is not None:
                    await closer()
        return failed

    return asyncio.run(main())


class RecordedClient:
    """A `ChatClient` wrapper that commits every reply to the store's `calls` table by idempotency key.

    A call whose key is already there is answered from the store, so after a kill no completed
    call is sent again, even one whose item (e.g. a two-order verdict) was not finished.
    """

    def __init__(self, client: Any, store: BuildStore) -> None:
        self.client = client
        self.store = store

    @property
    def usage(self) -> Any:
        return self.client.usage

    async def aclose(self) -> None:
        closer = getattr(self.client, "aclose", None)
        if closer is not None:
            await closer()

    async def complete(
        self, messages: Messages, *, idempotency_key: str | None = None, **kw: Any
    ) -> ChatResult:
        if idempotency_key is not None:
            hit = self.store.get("calls", idempotency_key)
            if hit is not None:
                return ChatResult(hit["text"], hit["prompt_tokens"], hit["completion_tokens"], hit["cost"])
        result = await self.client.complete(messages, idempotency_key=idempotency_key, **kw)
        if idempotency_key is not None:
            row = {
                "id": idempotency_key,
                "text": result.text,
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "cost": result.cost,
            }
            self.store.put("calls", row)
        return result
