"""Sampling rows and finding the reusable prefix, without a model."""

from __future__ import annotations

import torch

from metaalign.engine.prefix import prefix_length
from metaalign.engine.token_sampling import RowSampler, next_tokens


def test_greedy_rows_take_the_argmax() -> None:
    logits = torch.tensor([[0.0, 3.0, 1.0], [5.0, 0.0, 1.0]])
    assert next_tokens(logits, [RowSampler(), RowSampler()]) == [1, 0]


def test_a_seed_reproduces_a_row_whatever_its_neighbours() -> None:
    logits = torch.zeros(1, 50)

    def draws(seed: int) -> list[int]:
        sampler = RowSampler(temperature=1.0, seed=seed)
        return [sampler.sample(logits[0]) for _ in range(20)]

    assert draws(3) == draws(3) and draws(3) != draws(4)
    mixed = [RowSampler(), RowSampler(temperature=1.0, seed=3)]
    assert [next_tokens(torch.zeros(2, 50), mixed)[1] for _ in range(20)] == draws(3)


def test_a_tiny_top_p_keeps_only_the_top_token() -> None:
    sampler = RowSampler(temperature=5.0, top_p=0.01, seed=0)
    logits = torch.tensor([0.0, 0.5, 0.2, 0.1])
    assert {sampler.sample(logits) for _ in range(30)} == {1}


def test_prefix_length_counts_tokens_that_end_by_the_boundary() -> None:
    text = "<s>SYS</s><U>user"
    offsets = [(0, 3), (3, 6), (6, 10), (10, 12), (12, 13), (13, 17)]  # "<U>" is split over 2 tokens
    assert prefix_length(text, offsets, "<U>") == 5
    assert prefix_length(text, offsets, "<none>") == 0
    assert prefix_length(text, [(0, 3), (3, 11)], "</s>") == 1  # a token straddling the cut stays out


def test_only_shared_or_recurring_prefixes_get_their_own_batch() -> None:
    from collections import OrderedDict

    from metaalign.engine.hf import TransformersEngine
    from metaalign.engine.prefix import PrefixCache

    engine = TransformersEngine.__new__(TransformersEngine)  # planning needs no model
    engine.prefixes, engine.batch_size, engine._seen = PrefixCache(), 16, OrderedDict()
    shared = [([1, 2, 3, 9], 3)] * 4
    mixed = [([5, 6, 7, 9], 3), ([5, 6, 8, 9], 3), ([7, 7, 7, 9], 3)]
    plan = engine._plan(shared + mixed)
    assert plan == [((1, 2, 3), [0, 1, 2, 3]), ((), [4, 5, 6])]  # the three singletons share a batch
    alone = [([4, 4, 4, 9], 3)]
    assert engine._plan(alone) == [((), [0])]  # first sight: no prefill of its own
    assert engine._plan(alone) == [((4, 4, 4), [0])]  # met again (a server's next request): reused


def test_a_vanishing_temperature_is_greedy_not_nan() -> None:
    # logits / 1e-300 overflows to inf and softmax to NaN; such a request must decode greedily.
    logits = torch.tensor([[0.0, 3.0, 1.0]])
    for temperature in (1e-300, 1e-6):
        sampler = RowSampler(temperature=temperature, seed=0)
        assert sampler.greedy and next_tokens(logits, [sampler]) == [1]
    assert not RowSampler(temperature=1e-4).greedy
