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
from metaalign.endpoints.client import EndpointError


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
