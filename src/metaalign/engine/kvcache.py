"""A KV cache that writes new keys and values in place instead of re-concatenating every step.

Owns the cache layout only: one preallocated buffer per layer and per keys/values, grown by
doubling when full, read back as views. transformers' DynamicCache copies the whole cache on
every token (torch.cat), which costs about a quarter of a decode step at batch 32 on CPU.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer


class InPlaceLayer(DynamicLayer):
    """A DynamicLayer whose `update` writes into spare room of a larger buffer."""

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.device = key_states.device
        self.length = 0
        self._keys = key_states.new_empty((*key_states.shape[:2], 0, key_states.shape[-1]))
        self._values = value_states.new_empty((*value_states.shape[:2], 0, value_states.shape[-1]))
        self.keys, self.values = self._keys, self._values
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        new = key_states.shape[-2]
        if self.length + new > self._keys.shape[-2]:
            self._grow(max(2 * (self.length + new), 64))
        end = self.length + new
        self._keys[:, :, self.length : end] = key_states
        self._values[:, :, self.length : end] = value_states
        self.length = end
        self.keys, self.values = self._keys[:, :, :end], self._values[:, :, :end]
        return self.keys, self.values

    def _grow(self, capacity: int) -> None:
        def bigger(buffer: torch.Tensor) -> torch.Tensor:
            out = buffer.new_empty((*buffer.shape[:2], capacity, buffer.shape[-1]))
            out[:, :, : self.length] = buffer[:, :, : self.length]
            return out

        self._keys, self._values = bigger(self._keys), bigger(self._values)

    def get_seq_length(self) -> int:
        return self.length if self.is_initialized else 0

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.get_seq_length() > 0:
            self._keys, self._values = self._keys[indices], self._values[indices]
            self.keys, self.values = self._keys[:, :, : self.length], self._values[:, :, : self.length]


def make_cache(
    model: Any, prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None, rows: int = 1
) -> Any:
    """A cache for `model`, optionally starting from a prefix copied to `rows` rows.

    InPlaceLayers where every layer attends to the full context; otherwise (sliding-window
    layers) transformers' own DynamicCache, which knows those layer types.
    """
    config = model.config.get_text_config(decoder=True)
    kinds = set(getattr(config, "layer_types", None) or ["full_attention"])
    if kinds == {"full_attention"}:
        cache = DynamicCache()
        cache.layers = [InPlaceLayer() for _ in range(config.num_hidden_layers)]
    else:
        cache = DynamicCache(config=model.config)
    for index, (k, v) in enumerate(prefix or []):
        cache.layers[index].update(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1))
    return cache
