"""Shared-prefix KV reuse: an LRU of prefilled meta-prompt prefixes, keyed by their token ids.

Owns finding the reusable prefix of a rendered prompt (everything up to the User Info tier,
i.e. the chat header plus the deployer's System Info, which repeats in every request) and
keeping its KV tensors so a batch starts from a copy instead of recomputing them. It does
not run the decode loop (decode.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values, each [1, heads, P, dim]


def prefix_length(text: str, offsets: Sequence[tuple[int, int]], boundary: str) -> int:
    """How many leading tokens end at or before the end of `boundary`'s first occurrence.

    `offsets` are the (start, end) character spans of the prompt's tokens. The tokens
    before the cut are a true prefix of the ids, so reuse can never change the prompt.
    """
    at = text.find(boundary)
    if at < 0:
        return 0
    end = at + len(boundary)
    count = 0
    for _start, stop in offsets:
        if stop > end:
            break
        count += 1
    return count


def split_prompt(renderer: Any, request: Any, min_prefix_tokens: int | None) -> tuple[list[int], int]:
    """`request` rendered by `renderer`: its ids and how many leading ids form its reusable prefix.

    The prefix ends with the User Info opening tag (all before it is the same for every user);
    it counts only when at least `min_prefix_tokens` long (None: no prefix is looked for, 0 is
    returned). At least one id is left after it. Templated once and encoded once.
    """
    offsets = min_prefix_tokens is not None
    rendered = renderer.prompt(request.system_info, request.user_info, request.dialogue, offsets=offsets)
    if rendered.offsets is None or min_prefix_tokens is None:
        return rendered.input_ids, 0
    cut = prefix_length(rendered.text, rendered.offsets, f"<{renderer.layout.user_tag}>")
    cut = min(cut, len(rendered.input_ids) - 1)
    return rendered.input_ids, cut if cut >= min_prefix_tokens else 0


class PrefixCache:
    """At most `capacity` prefilled prefixes, least recently used dropped first."""

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[tuple[int, ...], KV] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, model: Any, key: tuple[int, ...]) -> KV:
        """The KV tensors of `key`, prefilled now on a miss."""
        if key in self.entries:
            self.hits += 1
            self.entries.move_to_end(key)
            return self.entries[key]
        self.misses += 1
        kv = prefill(model, list(key))
        self.entries[key] = kv
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)
        return kv


@torch.inference_mode()
def prefill(model: Any, ids: list[int]) -> KV:
    """Runs the model over `ids` once and returns each layer's keys and values."""
    from metaalign.engine.kvcache import make_cache

    cache = make_cache(model)
    tokens = torch.tensor([ids], device=model.device)
    model(input_ids=tokens, cache=cache, use_cache=True, logits_to_keep=1)
    return [(layer.keys.clone(), layer.values.clone()) for layer in cache.layers]
