"""Merging and trimming KV caches of different widths (continuous batching's bookkeeping)."""

from __future__ import annotations

import torch

from metaalign.engine.kvcache import InPlaceLayer, merge_caches, mergeable, trim_cache


class Cache:
    def __init__(self, layers) -> None:
        self.layers = layers


def cache_of(*tensors: torch.Tensor) -> Cache:
    layers = []
    for t in tensors:
        layer = InPlaceLayer()
        layer.update(t, -t)
        layers.append(layer)
    return Cache(layers)


def test_merged_rows_are_left_padded_to_the_wider_cache() -> None:
    a = torch.arange(2 * 1 * 3 * 2, dtype=torch.float32).reshape(2, 1, 3, 2) + 1
    b = torch.arange(1 * 1 * 5 * 2, dtype=torch.float32).reshape(1, 1, 5, 2) + 100
    merged = merge_caches(cache_of(a), cache_of(b), width=5)
    (layer,) = merged.layers
    assert layer.keys.shape == (3, 1, 5, 2) and layer.get_seq_length() == 5
    assert torch.equal(layer.keys[:2, :, 2:], a) and torch.equal(
        layer.keys[:2, :, :2], torch.zeros(2, 1, 2, 2)
    )
    assert torch.equal(layer.keys[2:], b) and torch.equal(layer.values[2:], -b)
    layer.update(torch.ones(3, 1, 1, 2), torch.ones(3, 1, 1, 2))  # the merged cache still grows in place
    assert layer.keys.shape == (3, 1, 6, 2) and torch.equal(layer.keys[:, :, 5], torch.ones(3, 1, 2))


def test_trimming_drops_leading_columns_and_keeps_the_rest() -> None:
    a = torch.randn(2, 1, 7, 2)
    cache = cache_of(a)
    assert mergeable(cache) and trim_cache(cache, 3)
    assert torch.equal(cache.layers[0].keys, a[:, :, 3:]) and cache.layers[0].get_seq_length() == 4
    assert not trim_cache(Cache([object()]), 1) and not mergeable(None)
