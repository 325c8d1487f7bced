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


def mergeable(cache: Any) -> bool:
    """Whether `cache` can take rows of another cache (InPlaceLayers only)."""
    return cache is not None and all(isinstance(layer, InPlaceLayer) for layer in cache.layers)


def merge_caches(a: Any, b: Any, width: int, room: int = 64) -> Any:
    """One cache holding a's rows then b's, each left-padded (with zeros) to `width` columns."""
    merged = DynamicCache()
    merged.layers = []
    for la, lb in zip(a.layers, b.layers, strict=True):
        rows = la._keys.shape[0] + lb._keys.shape[0]
        layer = InPlaceLayer()
        layer.lazy_initialization(la.keys, la.values)
        layer._keys = la._keys.new_zeros((rows, la._keys.shape[1], width + room, la._keys.shape[-1]))
        layer._values = la._values.new_zeros(layer._keys.shape)
        for offset, source in ((0, la), (la._keys.shape[0], lb)):
            count, length = source._keys.shape[0], source.length
            target = slice(offset, offset + count)
            layer._keys[target, :, width - length : width] = source._keys[:, :, :length]
            layer._values[target, :, width - length : width] = source._values[:, :, :length]
        layer.length = width
        layer.keys, layer.values = layer._keys[:, :, :width], layer._values[:, :, :width]
        merged.layers.append(layer)
    return merged


def trim_cache(cache: Any, first: int) -> bool:
    """Drops each layer's first `first` columns (views, no copy); False where the cache cannot."""
    if not mergeable(cache):
        return False
    for layer in cache.layers:
        layer._keys, layer._values = layer._keys[:, :, first:], layer._values[:, :, first:]
        layer.length -= first
        layer.keys, layer.values = layer._keys[:, :, : layer.length], layer._values[:, :, : layer.length]
    return True
