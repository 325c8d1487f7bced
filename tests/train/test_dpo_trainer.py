"""MetaAlignDPOTrainer: truncation, `from_config` on a tiny model folder, scores in closed form.

The model's LM head is zero (the `uniform_model` fixture), so a completion of n tokens scores
-n ln V under the policy and the reference alike; with LoRA's B at zero the policy is the
reference, so the first DPO loss is -ln sigmoid(0) = ln 2. Both the shared-prompt (packed) path
and TRL's own layout must give exactly these numbers.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from metaalign.train.config_io import ConfigError

torch = pytest.importorskip("torch")
pytest.importorskip("trl")


def test_truncate_pair_cuts_completions_to_the_room_the_prompt_leaves() -> None:
    from metaalign.train.dpo_trainer import truncate_pair

    row = {"prompt_ids": [1, 2, 3], "chosen_ids": [4, 5, 6, 7], "rejected_ids": [8, 9]}
    assert truncate_pair(row, 5) == {"prompt_ids": [1, 2, 3], "chosen_ids": [4, 5], "rejected_ids": [8, 9]}
    assert truncate_pair(row, None) is row
    assert truncate_pair(row, 2)["chosen_ids"] == [] and truncate_pair(row, 2)["rejected_ids"] == []
    assert row["chosen_ids"] == [4, 5, 6, 7]  # the input row is not changed


def _values(uniform_model: Path, prefs_file: Path, tmp_path: Path, **more) -> dict:
    files = {"model": str(uniform_model), "train_file": str(prefs_file), "output_dir": str(tmp_path / "run")}
    tiny = {"precision": "fp32"}  # the same on every CPU (auto is bf16 where the CPU has AMX)
    tiny |= {"lora_r": 2, "lora_alpha": 4, "max_steps": 1, "per_device_train_batch_size": 2}
    return {**files, **tiny, **more}


@pytest.fixture
def trainer(uniform_model: Path, prefs_file: Path, tmp_path: Path):
    from metaalign.train.dpo_trainer import MetaAlignDPOTrainer

    return MetaAlignDPOTrainer.from_config(_values(uniform_model, prefs_file, tmp_path))


def _completion_scores(trainer) -> tuple[list[float], list[float]]:
    """-n ln V for each row's chosen and rejected completion (n = its token count)."""
    ln_v = math.log(len(trainer.processing_class))
    rows = trainer.train_dataset
    return [-len(c) * ln_v for c in rows["chosen_ids"]], [-len(r) * ln_v for r in rows["rejected_ids"]]


def test_precomputed_reference_scores_are_minus_n_ln_v(trainer) -> None:
    assert trainer._packs()  # the shared-prompt path scored the reference
    chosen, rejected = _completion_scores(trainer)
    assert trainer.train_dataset["ref_chosen_logps"] == pytest.approx(chosen, rel=1e-5)
    assert trainer.train_dataset["ref_rejected_logps"] == pytest.approx(rejected, rel=1e-5)


def test_the_first_loss_is_ln_2_and_the_policy_scores_match_by_hand(trainer) -> None:
    rows = [trainer.train_dataset[i] for i in range(2)]
    chosen, _ = _completion_scores(trainer)
    trainer.model.train()
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, trainer.data_collator(rows))
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)
    assert trainer._metrics["train"]["logps/chosen"][-1] == pytest.approx(sum(chosen[:2]) / 2, rel=1e-5)
    assert trainer._metrics["train"]["rewards/margins"][-1] == pytest.approx(0.0, abs=1e-5)


def test_without_shared_prompt_trls_layout_gives_the_same_numbers(
    uniform_model: Path, prefs_file: Path, tmp_path: Path
) -> None:
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    from metaalign.train.dpo_trainer import MetaAlignDPOTrainer

    values = _values(uniform_model, prefs_file, tmp_path, shared_prompt=False)
    trainer = MetaAlignDPOTrainer.from_config(values)
    assert not trainer._packs() and type(trainer.data_collator) is DataCollatorForPreference
    chosen, rejected = _completion_scores(trainer)
    assert trainer.train_dataset["ref_chosen_logps"] == pytest.approx(chosen, rel=1e-5)
    assert trainer.train_dataset["ref_rejected_logps"] == pytest.approx(rejected, rel=1e-5)


def test_from_config_leaves_the_config_alone(uniform_model: Path, prefs_file: Path, tmp_path: Path) -> None:
    from metaalign.train.configs import dpo_config
    from metaalign.train.dpo_trainer import MetaAlignDPOTrainer

    config = dpo_config(_values(uniform_model, prefs_file, tmp_path))
    trainer = MetaAlignDPOTrainer.from_config(config)
    assert config.model_init_kwargs is None
    assert trainer.args.model_init_kwargs == {"local_files_only": True, "dtype": "float32"}
    assert trainer.ref_model is None  # the reference is the base with the adapter disabled
    assert (tmp_path / "run").is_dir()


def test_prepared_rows_drop_prompts_that_fill_max_length(trainer) -> None:
    from datasets import Dataset

    rows = Dataset.from_list([
        {"prompt_ids": [1, 2], "chosen_ids": [3, 4, 5], "rejected_ids": [6]},
        {"prompt_ids": [1, 2, 3, 4], "chosen_ids": [5], "rejected_ids": [6]},  # no room for an answer
    ])  # fmt: skip
    args = SimpleNamespace(max_length=4, truncation_mode="keep_start")
    kept = trainer._prepare_dataset(rows, trainer.processing_class, args, "train")
    assert kept.to_list() == [{"prompt_ids": [1, 2], "chosen_ids": [3, 4], "rejected_ids": [6]}]


def test_a_trainer_given_keep_end_args_falls_back_to_trls_layout(trainer) -> None:
    """Packed pairs need keep_start; a plain DPOConfig with keep_end (no MetaAlign check) never packs."""
    from metaalign.train.dpo_trainer import MetaAlignDPOTrainer

    plain = SimpleNamespace(truncation_mode="keep_end", shared_prompt=True)
    probe = MetaAlignDPOTrainer.__new__(MetaAlignDPOTrainer)
    with pytest.raises(TypeError):  # stops in TRL's __init__ (no model), after the choice is made
        MetaAlignDPOTrainer.__init__(probe, args=plain, processing_class=None)
    assert probe._shared_prompt is False


def test_from_config_refuses_keep_end_with_shared_prompt_before_loading(tmp_path: Path) -> None:
    from metaalign.train.dpo_trainer import MetaAlignDPOTrainer

    with pytest.raises(ConfigError, match="shared_prompt: packs pairs truncated keep_start only"):
        MetaAlignDPOTrainer.from_config({"output_dir": str(tmp_path), "truncation_mode": "keep_end"})
