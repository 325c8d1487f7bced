"""MetaAlignSFTTrainer: `from_config` on a tiny model folder, and the compact loss in closed form.

The model's LM head is zero (the `uniform_model` fixture), so every trained token scores -ln V:
the loss over assistant tokens is ln V whatever the batch, and halves when TRL says the batch
holds twice as many trained tokens (gradient accumulation).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from metaalign.render import IGNORE_INDEX
from metaalign.train.config_io import ConfigError

torch = pytest.importorskip("torch")
pytest.importorskip("trl")


@pytest.fixture
def config(uniform_model: Path, sft_file: Path, tmp_path: Path):
    from metaalign.train.configs import sft_config

    return sft_config(
        model=str(uniform_model), train_file=str(sft_file), output_dir=str(tmp_path / "run"),
        lora_r=2, lora_alpha=4, lora_layers=1, max_steps=1, report_to="none",
        precision="fp32",  # the same on every CPU (auto is bf16 where the CPU has AMX)
    )  # fmt: skip


@pytest.fixture
def trainer(config):
    from metaalign.train.sft_trainer import MetaAlignSFTTrainer

    return MetaAlignSFTTrainer.from_config(config)


def test_from_config_resolves_the_model_once_and_leaves_the_config_alone(
    config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import TrainerCallback

    from metaalign.models import loading
    from metaalign.train.run_log import JsonlLogCallback
    from metaalign.train.sft_trainer import MetaAlignSFTTrainer

    calls: list[str] = []
    real = loading.resolve
    monkeypatch.setattr(loading, "resolve", lambda ref: calls.append(ref) or real(ref))
    mine = TrainerCallback()
    trainer = MetaAlignSFTTrainer.from_config(config, callbacks=[mine])
    assert calls == [config.model]  # tokenizer, LoRA sizing and policy share one resolution
    assert (config.model_init_kwargs, config.max_length) == (None, 1024)  # untouched
    assert trainer.args is not config
    assert trainer.args.model_init_kwargs == {"local_files_only": True, "dtype": "float32"}
    assert trainer.args.max_length is None  # padding-free: enforced per example instead
    ours = trainer.callback_handler.callbacks
    logs = [i for i, c in enumerate(ours) if isinstance(c, JsonlLogCallback)]
    assert len(logs) == 1 and logs[0] < ours.index(mine)  # the JSONL log first, then the caller's


def test_lora_layers_puts_adapters_on_the_last_layers_only(trainer) -> None:
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert {n.split(".layers.")[1].split(".")[0] for n in trainable} == {"1"}  # 2 layers, last 1 adapted
    # 7 linear modules per layer (q k v o gate up down), an A and a B each
    assert len(trainable) == 7 * 2


def test_rows_hold_the_rendered_records_with_assistant_only_labels(trainer, sft_file: Path) -> None:
    assert len(trainer.train_dataset) == 4
    tokenizer = trainer.processing_class
    row = trainer.train_dataset[0]
    trained = [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label != IGNORE_INDEX]
    assert trained == [label for label in row["labels"] if label != IGNORE_INDEX]
    assert tokenizer.decode(trained) == "PARIS IS THE CAPITAL OF FRANCE.<|im_end|>"


def test_the_compact_loss_is_ln_v_on_a_uniform_model(trainer) -> None:
    vocab = len(trainer.processing_class)
    rows = [trainer.train_dataset[i] for i in range(3)]
    batch = trainer.data_collator(rows)
    labelled = sum(sum(label != IGNORE_INDEX for label in row["labels"]) for row in rows)
    assert int((batch["labels"] != IGNORE_INDEX).sum()) == labelled
    trainer.model.train()
    assert trainer._compact
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, dict(batch))
        halved = trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=2 * labelled)
        trainer._compact = False
        theirs = trainer.compute_loss(trainer.model, dict(batch))
    assert loss.item() == pytest.approx(math.log(vocab), rel=1e-5)
    assert halved.item() == pytest.approx(math.log(vocab) / 2, rel=1e-5)
    assert theirs.item() == pytest.approx(math.log(vocab), rel=1e-5)  # TRL's own loss agrees


def test_the_compact_path_counts_every_token_it_sees(trainer) -> None:
    rows = [trainer.train_dataset[i] for i in range(2)]
    batch = trainer.data_collator(rows)
    before = trainer._total_train_tokens
    trainer.model.train()
    with torch.no_grad():
        trainer.compute_loss(trainer.model, dict(batch))
    seen = sum(len(row["input_ids"]) for row in rows)  # padding-free: no padding to leave out
    assert trainer._total_train_tokens - before == seen
    assert trainer._metrics["train"]["num_tokens"] == [trainer._total_train_tokens]


def test_from_config_refuses_what_the_config_refuses_before_loading(tmp_path: Path) -> None:
    from metaalign.train.sft_trainer import MetaAlignSFTTrainer

    with pytest.raises(ConfigError, match=r"sft config: unexpected section\(s\) dpo \(two-stage only\)"):
        MetaAlignSFTTrainer.from_config({"output_dir": str(tmp_path), "dpo": {"beta": 0.1}})
