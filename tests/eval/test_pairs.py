"""Pair accuracy by the DPO implicit reward: hand-computed margins, spans, and a tiny real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaalign.eval.pairs import PairScore, completion_span, pairs_result
from metaalign.records import PreferenceRecord, write_records


def test_margin_and_accuracy_by_hand() -> None:
    # r = log pi - log pi_ref.  Pair 1: r(c) = -10 - -12 = 2, r(r) = -9 - -9 = 0 -> margin 2 (correct)
    # Pair 2: r(c) = -5 - -4 = -1, r(r) = -6 - -6 = 0 -> margin -1 (wrong, though pi prefers chosen)
    # Pair 3: identical rewards -> margin 0, a tie counts as wrong (TRL's rewards/accuracies)
    scores = [
        PairScore("1", "priority", -10.0, -9.0, -12.0, -9.0),
        PairScore("2", "helpful", -5.0, -6.0, -4.0, -6.0),
        PairScore("3", "helpful", -3.0, -3.0, -3.0, -3.0),
    ]
    assert [s.margin for s in scores] == [2.0, -1.0, 0.0]
    result = pairs_result("m", "m", scores)
    assert result.metrics["accuracy"].value == pytest.approx(1 / 3)
    # policy alone: chosen > rejected in pair 2 only (-10 < -9 in pair 1) -> 1/3
    assert result.metrics["policy-logp-accuracy"].value == pytest.approx(1 / 3)
    assert result.metrics["accuracy/priority"].value == 1.0
    assert result.metrics["accuracy/helpful"].value == 0.0
    assert result.info == {"pairs": 3, "ties": 1, "mean_margin": pytest.approx(1 / 3, abs=1e-4)}


def test_the_completion_span_is_the_last_trained_run() -> None:
    # a multi-turn prompt: the earlier assistant turn (positions 2-3) is not the completion
    assert completion_span([0, 0, 1, 1, 0, 0, 1, 1, 1, 0]) == (6, 9)
    assert completion_span([0, 1, 1]) == (1, 3)


@pytest.fixture(scope="module")
def smollm2():
    import torch

    torch.set_num_threads(1)
    from metaalign.models import load_model, load_tokenizer

    return load_model("smollm2-135m"), load_tokenizer("smollm2-135m")


def _records() -> list[PreferenceRecord]:
    return [
        PreferenceRecord(
            id="capital",
            system_info="Answer in one short sentence.",
            user_info=None,
            prompt=[{"role": "user", "content": "What is the capital of France?"}],
            chosen="The capital of France is Paris.",
            rejected="Banana seventeen purple whenever.",
        ),
        PreferenceRecord(
            id="greet",
            system_info=None,
            user_info="I like brief replies.",
            prompt=[{"role": "user", "content": "Say hello."}],
            chosen="Hello!",
            rejected="Goodbye forever, fish.",
        ),
    ]


@pytest.mark.slow
def test_batched_log_probs_equal_one_sequence_at_a_time(smollm2) -> None:
    import torch

    from metaalign.eval.pairs import pair_inputs, score_pairs, sequence_logprobs
    from metaalign.render import Renderer

    model, tokenizer = smollm2
    records = _records()
    scores = score_pairs(records, model, model, tokenizer, batch_size=4)  # pads to the longest of 4
    inputs = pair_inputs(records[0], Renderer(tokenizer))
    ids, (start, end) = inputs[0]
    # the span ends with the end-of-turn token, so stopping is part of the reward
    assert tokenizer.convert_ids_to_tokens(ids[end - 1]) == "<|im_end|>"
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    by_hand = sum(float(torch.log_softmax(logits[i - 1], -1)[ids[i]]) for i in range(start, end))
    assert scores[0].policy_chosen == pytest.approx(by_hand, abs=1e-3)
    assert sequence_logprobs(model, [inputs[0]], tokenizer.eos_token_id)[0] == pytest.approx(
        by_hand, abs=1e-3
    )
    # same policy and reference: every implicit reward margin is exactly zero
    assert all(s.margin == 0.0 for s in scores)
    # the base model itself prefers the sensible answers
    assert all(s.policy_chosen > s.policy_rejected for s in scores)


@pytest.mark.slow
def test_pairs_command_writes_a_report(tmp_path: Path, smollm2) -> None:
    from metaalign.cli.main import main

    data = write_records(_records(), tmp_path / "prefs.jsonl")
    out = tmp_path / "pairs"
    args = ["eval", "pairs", "--model", "smollm2-135m", "--reference", "smollm2-135m", "--data", str(data)]
    assert main([*args, "--out", str(out), "--threads", "1"]) == 0
    report = json.loads((out / "report.json").read_text())
    (system,) = report["systems"]
    assert system["info"]["ties"] == 2 and system["metrics"]["accuracy"]["value"] == 0.0
    assert system["metrics"]["policy-logp-accuracy"]["value"] == 1.0
    assert "| accuracy |" in (out / "report.md").read_text() and (out / "report.png").exists()
    assert len((out / "pair_scores.jsonl").read_text().splitlines()) == 2
