"""The decode loop of the transformers engine: one prefill, then one token per step for all rows.

Owns a batch's tensors: left padding (after a shared prefix when there is one) with an
attention mask and explicit position ids, the KV cache, and dropping finished rows so the
remaining ones run on a smaller batch. It does not render prompts or group requests (hf.py),
choose tokens (token_sampling.py) or turn ids into text (textstream.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from metaalign.engine.kvcache import make_cache, merge_caches, trim_cache
from metaalign.engine.prefix import KV
from metaalign.engine.textstream import TextStream
from metaalign.engine.token_sampling import RowSampler, next_tokens


@dataclass
class Row:
    """One request inside a batch: its prompt, limits and the state of its answer."""

    ids: list[int]
    max_new_tokens: int
    sampler: RowSampler
    stream: TextStream
    on_delta: Callable[[str], None] | None = None
    tag: Any = None  # the caller's handle on this row (a request index, a server job)
    generated: list[int] = field(default_factory=list)
    finish: str | None = None  # "stop" or "length" once done

    def take(self, token: int, end_ids: frozenset[int]) -> None:
        """Adds one sampled token, emitting its text and deciding whether the row is done."""
        if token in end_ids:
            self.finish = "stop"
        else:
            self.generated.append(token)
            self._emit(self.stream.push(token))
            if self.stream.stopped:
                self.finish = "stop"
            elif len(self.generated) >= self.max_new_tokens:
                self.finish = "length"
        if self.finish is not None:
            self._emit(self.stream.finish())

    def end(self, reason: str) -> None:
        """Ends the row from outside (its engine stopped generating it); held-back text is emitted."""
        if self.finish is None:
            self.finish = reason
            self._emit(self.stream.finish())

    def _emit(self, delta: str) -> None:
        if delta and self.on_delta is not None:
            self.on_delta(delta)


class DecodeBatch:
    """Rows decoding together, one token per `step`; rows join between steps and leave when done.

    State between calls: the cache holds every row's tokens except its last sampled one (which
    the next step feeds), left-padded to a common width; `mask` marks real columns and `last`
    is each row's position of its newest cached token. Rows sharing a prefix are prefilled
    from its KV copy; rows of different prefixes and lengths live in one batch.
    """

    def __init__(self, model: Any, *, pad_id: int, end_ids: frozenset[int]) -> None:
        self.model = model
        self.pad_id = pad_id
        self.end_ids = end_ids
        self.rows: list[Row] = []
        self.cache: Any = None
        self.mask = self.last = None
        self.pending: list[int] = []

    @torch.inference_mode()
    def add(self, rows: Sequence[Row], prefix: KV | None = None) -> list[Row]:
        """Prefills `rows` (all after `prefix`, when given), samples their first token and merges
        them into the batch; returns the rows that finished on that first token."""
        start = prefix[0][0].shape[-2] if prefix else 0
        device = self.model.device
        ids, mask, positions = _prefill_inputs([r.ids[start:] for r in rows], start, self.pad_id, device)
        cache = make_cache(self.model, prefix, len(rows))
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        tokens = self._take(rows, out.logits[:, -1, :])
        keep = [i for i, row in enumerate(rows) if row.finish is None]
        if keep:
            index = torch.tensor(keep, device=device) if len(keep) < len(rows) else None
            if index is not None:
                cache.batch_select_indices(index)
                mask, positions = mask[index], positions[index]
            self._merge(cache, mask, positions[:, -1:], [rows[i] for i in keep], [tokens[i] for i in keep])
        return [row for row in rows if row.finish is not None]

    @torch.inference_mode()
    def step(self) -> list[Row]:
        """One token for every row; returns the rows that finished (already out of the batch)."""
        if not self.rows:
            return []
        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self.rows), 1))], dim=1)
        self.last = self.last + 1
        out = self.model(
            input_ids=torch.tensor(self.pending, device=self.mask.device)[:, None],
            attention_mask=self.mask,
            position_ids=self.last,
            cache=self.cache,
            use_cache=True,
        )
        self.pending = self._take(self.rows, out.logits[:, -1, :])
        return self.drop(lambda row: row.finish is not None)

    def drop(self, leaves: Callable[[Row], bool]) -> list[Row]:
        """Takes the rows for which `leaves(row)` holds out of the batch; later steps run without them."""
        keep = [i for i, row in enumerate(self.rows) if not leaves(row)]
        if len(keep) == len(self.rows):
            return []
        gone = [row for i, row in enumerate(self.rows) if i not in set(keep)]
        if not keep:
            self.rows, self.pending, self.cache, self.mask, self.last = [], [], None, None, None
            return gone
        index = torch.tensor(keep, device=self.mask.device)
        self.cache.batch_select_indices(index)
        self.mask, self.last = self.mask[index], self.last[index]
        self.rows = [self.rows[i] for i in keep]
        self.pending = [self.pending[i] for i in keep]
        self._trim()
        return gone

    def _take(self, rows: Sequence[Row], logits: torch.Tensor) -> list[int]:
        tokens = next_tokens(logits, [r.sampler for r in rows])
        for row, token in zip(rows, tokens, strict=True):
            row.take(token, self.end_ids)
        return tokens

    def _merge(
        self, cache: Any, mask: torch.Tensor, last: torch.Tensor, rows: list[Row], tokens: list[int]
    ) -> None:
        if not self.rows:
            self.cache, self.mask, self.last, self.rows, self.pending = cache, mask, last, rows, tokens
            return
        width = max(self.mask.shape[1], mask.shape[1])
        self.cache = merge_caches(self.cache, cache, width)
        self.mask = torch.cat([_left_pad(self.mask, width), _left_pad(mask, width)])
        self.last = torch.cat([self.last, last])
        self.rows = self.rows + rows
        self.pending = self.pending + tokens

    def _trim(self) -> None:
        """Cuts leading columns that no remaining row attends to (left by rows that left)."""
        used = self.mask.any(dim=0).nonzero()
        first = int(used[0]) if len(used) else 0
        if first >= TRIM_AT and trim_cache(self.cache, first):
            self.mask = self.mask[:, first:]


TRIM_AT = 16  # cutting fewer dead columns is not worth a copy


def run_batch(
    model: Any, rows: Sequence[Row], *, pad_id: int, end_ids: frozenset[int], prefix: KV | None = None
) -> None:
    """Generates every row to its end (a static batch); fills each Row's `generated`, `stream`, `finish`."""
    batch = DecodeBatch(model, pad_id=pad_id, end_ids=end_ids)
    batch.add(rows, prefix)
    while batch.rows:
        batch.step()


def _left_pad(mask: torch.Tensor, width: int) -> torch.Tensor:
    return torch.nn.functional.pad(mask, (width - mask.shape[1], 0)) if mask.shape[1] < width else mask


def _prefill_inputs(
    suffixes: list[list[int]], start: int, pad_id: int, device: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-padded ids, the mask over prefix + ids, and positions counting real tokens only."""
    width = max(map(len, suffixes))
    ids, mask, positions = [], [], []
    for s in suffixes:
        pad = width - len(s)
        ids.append([pad_id] * pad + s)
        mask.append([1] * start + [0] * pad + [1] * len(s))
        positions.append([1] * pad + list(range(start, start + len(s))))
    as_tensor = lambda rows: torch.tensor(rows, device=device)  # noqa: E731
    return as_tensor(ids), as_tensor(mask), as_tensor(positions)
