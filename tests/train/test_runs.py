"""Tiny LoRA runs on the embedded model: SFT and DPO train what they should, and nothing else."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow
TINY = {"per_device_train_batch_size": 2, "max_steps": 3, "warmup_steps": 0, "logging_steps": 1,
        "save_strategy": "no", "max_length": 160, "lora_r": 4, "lora_alpha": 8}  # fmt: skip


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _check_params(model, before: dict[str, torch.Tensor]) -> None:
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    for name, p in model.named_parameters():
        changed = not torch.equal(p.detach(), before[name])
        assert changed == (name in trainable), f"{name}: changed={changed}, trainable={name in trainable}"


def _losses(trainer) -> list[float]:
    return [row["loss"] for row in trainer.state.log_history if "loss" in row]


def test_sft_lora_trains_every_adapter_weight_and_freezes_the_base(sft_file: Path, tmp_path: Path) -> None:
    from metaalign.train.sft_trainer import MetaAlignSFTTrainer

    trainer = MetaAlignSFTTrainer.from_config(
        {**TINY, "train_file": str(sft_file), "output_dir": str(tmp_path)}
    )
    before = _snapshot(trainer.model)
    trainer.train()
    losses = _losses(trainer)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    _check_params(trainer.model, before)


def test_sft_compact_loss_equals_trls_own_loss(sft_file: Path, tmp_path: Path) -> None:
    """TRL's loss: -sum log p(label) / #labels over all positions; ours scores only labelled ones."""
    from metaalign.train.sft_trainer import MetaAlignSFTTrainer

    trainer = MetaAlignSFTTrainer.from_config(
        {**TINY, "train_file": str(sft_file), "output_dir": str(tmp_path)}
    )
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    trainer.model.train()
    assert trainer._compact
    with torch.no_grad():
        ours = trainer.compute_loss(trainer.model, dict(batch))
        trainer._compact = False
        theirs = trainer.compute_loss(trainer.model, dict(batch))
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_dpo_lora_trains_every_adapter_weight_and_freezes_the_base(prefs_file: Path, tmp_path: Path) -> None:
    from metaalign.train.dpo_trainer import MetaAlignDPOTrainer

    trainer = MetaAlignDPOTrainer.from_config(
        {**TINY, "train_file": str(prefs_file), "output_dir": str(tmp_path)}
    )
    assert trainer.ref_model is None  # the reference is the base with the adapter disabled
    assert "ref_chosen_logps" in trainer.train_dataset.column_names  # precomputed once
    before = _snapshot(trainer.model)
    trainer.train()
    losses = _losses(trainer)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert abs(losses[0] - math.log(2)) < 1e-3  # step 1: policy == reference, so loss = -log sigmoid(0)
    _check_params(trainer.model, before)


def test_shared_prompt_dpo_loss_equals_trls_layout(prefs_file: Path, tmp_path: Path) -> None:
    from metaalign.train.dpo_trainer import MetaAlignDPOTrainer

    values = {
        **TINY,
        "train_file": str(prefs_file),
        "output_dir": str(tmp_path),
        "precompute_ref_log_probs": False,
        "precision": "fp32",  # the two layouts agree to fp32 rounding; bf16 (auto on AMX CPUs) does not
    }
    trainer = MetaAlignDPOTrainer.from_config(values)
    rows = [trainer.train_dataset[i] for i in range(3)]
    trainer.model.train()
    with torch.no_grad():
        for p in trainer.model.parameters():  # move the policy away from the reference
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
        ours = trainer.compute_loss(trainer.model, trainer.data_collator(rows))
        trainer._shared_prompt = False
        theirs = trainer.compute_loss(trainer.model, trainer.data_collator.standard(rows))
    assert ours.item() != pytest.approx(math.log(2), abs=1e-4)
    torch.testing.assert_close(ours, theirs, atol=1e-3, rtol=1e-3)
