"""Pair accuracy: how often the DPO implicit reward ranks a held-out chosen answer above the rejected one.

Owns the implicit reward r(x, y) = log pi(y|x) - log pi_ref(y|x) (beta does not change the
ranking), summed over the completion tokens including the end-of-turn token, with prompts
rendered (full meta-prompt) by metaalign.render.Renderer. Models load through metaalign.models;
torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaalign.eval.metrics import proportion
from metaalign.eval.report import Report, SystemResult
from metaalign.records import PreferenceRecord, read_records


@dataclass(frozen=True)
class PairScore:
    """Summed completion log-probs of chosen and rejected under the policy and the reference."""

    id: str
    subset: str
    policy_chosen: float
    policy_rejected: float
    ref_chosen: float
    ref_rejected: float

    @property
    def margin(self) -> float:
        """r(chosen) - r(rejected), with r = log pi - log pi_ref."""
        return (self.policy_chosen - self.ref_chosen) - (self.policy_rejected - self.ref_rejected)

    @property
    def correct(self) -> bool:
        """Chosen strictly above rejected (a tie counts as wrong, as in TRL's rewards/accuracies)."""
        return self.margin > 0


def completion_span(mask: Sequence[int]) -> tuple[int, int]:
    """[start, end) of the last run of trained positions: the final assistant turn incl. end-of-turn."""
    end = len(mask)
    while end > 0 and not mask[end - 1]:
        end -= 1
    start = end
    while start > 0 and mask[start - 1]:
        start -= 1
    return start, end


def pair_inputs(record: PreferenceRecord, renderer: Any) -> list[tuple[list[int], tuple[int, int]]]:
    """Token ids and completion span of (prompt + chosen) and (prompt + rejected)."""
    out = []
    for answer in (record.chosen, record.rejected):
        dialogue = [*record.prompt, {"role": "assistant", "content": answer}]
        rendered = renderer.tokenize(record.system_info, record.user_info, dialogue)
        out.append((rendered.input_ids, completion_span(rendered.assistant_mask)))
    return out


def sequence_logprobs(
    model: Any, batch: Sequence[tuple[list[int], tuple[int, int]]], pad_id: int
) -> list[float]:
    """Sum over each span of log p(token_i | tokens_<i), one forward pass for the batch (right-padded)."""
    import torch

    width = max(len(ids) for ids, _ in batch)
    ids = torch.tensor([i + [pad_id] * (width - len(i)) for i, _ in batch], device=model.device)
    attention = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in batch], device=model.device)
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=attention).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    sums = []
    for row, (_, (start, end)) in enumerate(batch):
        sums.append(float(logp[row, start - 1 : end - 1].sum()))  # token i is predicted at i - 1
    return sums


def score_pairs(
    records: Sequence[PreferenceRecord], policy: Any, reference: Any, tokenizer: Any, *, batch_size: int = 4
) -> list[PairScore]:
    """Log-probs of every pair under both models; one renderer (the policy's tokenizer) for both."""
    from metaalign.render import Renderer

    renderer = Renderer(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    inputs = [x for r in records for x in pair_inputs(r, renderer)]
    policy_lp: list[float] = []
    ref_lp: list[float] = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        policy_lp += sequence_logprobs(policy, chunk, pad)
        ref_lp += sequence_logprobs(reference, chunk, pad)
    return [
        PairScore(r.id, r.subset, policy_lp[2 * k], policy_lp[2 * k + 1], ref_lp[2 * k], ref_lp[2 * k + 1])
        for k, r in enumerate(records)
    ]


def pairs_result(name: str, model_ref: str, scores: Sequence[PairScore], *, seed: int = 0) -> SystemResult:
    """accuracy (implicit reward), accuracy/<subset>, and policy-only accuracy, with bootstrap CIs."""
    metrics = {"accuracy": proportion([s.correct for s in scores], seed=seed)}
    metrics["policy-logp-accuracy"] = proportion(
        [s.policy_chosen > s.policy_rejected for s in scores], seed=seed
    )
    for subset in sorted({s.subset for s in scores}):
        metrics[f"accuracy/{subset}"] = proportion(
            [s.correct for s in scores if s.subset == subset], seed=seed
        )
    margins = [s.margin for s in scores]
    info = {
        "pairs": len(scores),
        "ties": sum(m == 0 for m in margins),
        "mean_margin": round(sum(margins) / len(margins), 4) if margins else None,
    }
    return SystemResult(name, model_ref, metrics, True, info)


def run_pairs(
    model: str,
    data: str | Path,
    out_dir: str | Path,
    *,
    reference: str | None = None,
    limit: int | None = None,
    batch_size: int = 4,
    seed: int = 0,
) -> Report:
    """Pair accuracy of `model` against `reference` (default: the base model) on a preference file."""
    from metaalign.models import DEFAULT_MODEL, load_model, load_tokenizer

    reference = reference or DEFAULT_MODEL
    loaded = read_records(data, "preference").records
    records = [r for r in loaded if isinstance(r, PreferenceRecord)][:limit]
    tokenizer = load_tokenizer(model)
    policy = load_model(model).eval()
    ref_model = policy if reference == model else load_model(reference).eval()
    scores = score_pairs(records, policy, ref_model, tokenizer, batch_size=batch_size)
    from metaalign.eval.verifiable import model_label

    result = pairs_result(model_label(model), model, scores, seed=seed)
    result.info["reference"] = reference
    report = Report("pairs", [result], {"data": str(data), "reference": reference, "bootstrap_seed": seed})
    report.save(out_dir)
    _write_scores(Path(out_dir) / "pair_scores.jsonl", scores)
    return report


def _write_scores(path: Path, scores: Sequence[PairScore]) -> None:
    import json

    lines = [json.dumps({**s.__dict__, "margin": s.margin, "correct": s.correct}) + "\n" for s in scores]
    path.write_text("".join(lines), encoding="utf-8")
