"""Shared-prompt DPO packing and the compact LM head give exactly the plain model's log-probs."""

from __future__ import annotations

import torch

from metaalign.train.lm_head import completion_log_probs
from metaalign.train.shared_prompt import pack_pairs, score_packed


def _plain_log_probs(model, ids: list[int]) -> torch.Tensor:
    """log p(token t | tokens < t) for t = 1..n-1, from full logits (the textbook way)."""
    x = torch.tensor([ids])
    return model(input_ids=x).logits[0, :-1].log_softmax(-1).gather(-1, x[0, 1:, None])[:, 0]


def test_pack_layout_by_hand() -> None:
    ex = {"prompt_ids": [5, 6, 7], "chosen_ids": [8, 9], "rejected_ids": [10]}
    packed = pack_pairs([ex], standard_width=5, pad_id=0)
    assert packed["input_ids"].tolist() == [[5, 6, 7, 8, 9, 10]]
    assert packed["position_ids"].tolist() == [[0, 1, 2, 3, 4, 3]]  # rejected restarts after the prompt
    mask = packed["attention_mask"][0, 0].int().tolist()
    assert mask[5] == [1, 1, 1, 0, 0, 1]  # rejected sees the prompt and itself, never the chosen tokens
    assert mask[4] == [1, 1, 1, 1, 1, 0]
    # chosen 8 is predicted at 2 (last prompt token), 9 at 3; rejected 10 also at 2
    assert packed["src"].tolist() == [2, 3, 2]
    assert packed["target"].tolist() == [8, 9, 10]
    # TRL's layout: rows [chosen; rejected] of width 5, scores at column t-1 for token t
    assert packed["dst"].tolist() == [2, 3, 4 + 2]


def test_packed_scores_equal_separate_forwards(tiny_llama) -> None:
    g = torch.Generator().manual_seed(1)

    def ids(n: int) -> list[int]:
        return torch.randint(3, 97, (n,), generator=g).tolist()

    examples = [
        {"prompt_ids": ids(9), "chosen_ids": ids(4), "rejected_ids": ids(6)},
        {"prompt_ids": ids(5), "chosen_ids": ids(3), "rejected_ids": ids(2)},
    ]
    width = max(len(e["prompt_ids"]) + max(len(e["chosen_ids"]), len(e["rejected_ids"])) for e in examples)
    with torch.no_grad():
        scores = score_packed(tiny_llama, pack_pairs(examples, width, 0), (4, width - 1))
        for b, e in enumerate(examples):
            p = len(e["prompt_ids"])
            for half, key in enumerate(("chosen_ids", "rejected_ids")):
                want = _plain_log_probs(tiny_llama, e["prompt_ids"] + e[key])[p - 1 :]
                row = scores.log_probs[half * 2 + b]
                torch.testing.assert_close(row[p - 1 : p - 1 + len(e[key])], want, atol=1e-5, rtol=1e-5)
                assert row.count_nonzero() == len(e[key])  # nothing outside the completion is scored


def test_compact_head_equals_full_logits_on_labelled_positions(tiny_llama) -> None:
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(3, 97, (1, 12), generator=g)
    labels = ids.clone()
    labels[0, :7] = -100  # a prompt of 7 tokens
    with torch.no_grad():
        got = completion_log_probs(tiny_llama, {"input_ids": ids}, labels)[0]
        want = _plain_log_probs(tiny_llama, ids[0].tolist())
    torch.testing.assert_close(got[6:], want[6:], atol=1e-5, rtol=1e-5)
    assert got[:6].abs().sum() == 0
