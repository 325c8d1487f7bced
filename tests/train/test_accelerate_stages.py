"""Two-stage and FSDP under `accelerate launch` with 2 CPU processes.

Two-stage: rank 0 alone exports the SFT model, samples and annotates while rank 1 waits, so each
file is written once (a write audit per rank shows it). FSDP2 with fsdp.yaml's settings on CPU
(gloo), 2 processes, fp32 as the hardware policy picks: it trains, but as DDP (see FSDP_ON_CPU).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from launch_helpers import (
    ROOT,
    audited_writes,
    cli_args,
    failure,
    launch_command,
    log_rows,
    printed_lines,
    run,
)

pytestmark = pytest.mark.slow
DDP = ROOT / "recipes" / "accelerate" / "ddp-cpu.yaml"
FSDP = ROOT / "recipes" / "accelerate" / "fsdp.yaml"
SFT_RECIPE = ROOT / "recipes" / "smollm2-135m" / "sft.yaml"
TINY = {"per_device_train_batch_size": 2, "max_steps": 2, "warmup_steps": 0, "logging_steps": 1,
        "save_strategy": "no", "max_length": 160, "lora_r": 4, "lora_alpha": 8}  # fmt: skip


def _two_word_prompts(path: Path, write_fixture_records) -> Path:
    """The fixture pairs with a 2-word limit: 8-token samples fail it, so every prompt gets a pair."""
    rows = [json.loads(line) for line in write_fixture_records(path, "preference").read_text().splitlines()]
    for row in rows:
        row["system_info"] = "Answer in at most two words."
        row["metadata"]["checks"][0]["params"]["n"] = 2
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_two_stage_samples_exports_and_annotates_once(tmp_path: Path, write_fixture_records) -> None:
    out, audit = tmp_path / "two-stage", tmp_path / "audit"
    recipe = tmp_path / "two-stage.yaml"
    recipe.write_text(yaml.safe_dump({
        "model": "smollm2-135m", "output_dir": str(out), "seed": 0, "threads": 1,
        "sft": {**TINY, "train_file": str(write_fixture_records(tmp_path / "sft.jsonl", "sft"))},
        "sample": {"prompts_file": str(_two_word_prompts(tmp_path / "prefs.jsonl", write_fixture_records)),
                   "max_prompts": 2, "k": 2, "max_new_tokens": 8, "batch_size": 4},
        "dpo": TINY,
    }))  # fmt: skip
    command = launch_command(DDP, ["train", "two-stage", "--config", str(recipe)], (audit, out))
    log = tmp_path / "launch.log"
    assert run(command, log) == 0, failure(log)
    assert printed_lines(log.read_text(), out) == 2  # both ranks ran the command to its end
    manifest = json.loads((out / "metaalign_run.json").read_text())
    assert manifest["status"] == "done" and manifest["kind"] == "two-stage"
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2 and len({s["id"] for s in samples}) == 2  # each prompt sampled once
    assert all(len(s["samples"]) == 2 for s in samples)
    rank0 = {w["path"] for w in audited_writes(audit, 0)}
    for written in ("samples.jsonl", "pairs.jsonl", "annotation.json", "metaalign_run.json"):
        assert written in {Path(p).name for p in rank0 if "/" not in p}, written
    assert any(p.startswith("sft-merged") for p in rank0)
    # rank 1 waited: it wrote nothing in the run folder (makedirs of existing folders aside)
    assert [w for w in audited_writes(audit, 1) if w["event"] != "os.mkdir"] == []
    for stage in ("sft", "dpo"):
        assert json.loads((out / stage / "metaalign_run.json").read_text())["processes"] == 2


# What FSDP2 on CPU did here (torch 2.13.0, accelerate 1.15, gloo); docs/train.md says the same.
# accelerate turns a run into FSDP only on accelerator device types (its state switches MULTI_GPU,
# MULTI_XPU, ... to FSDP, never MULTI_CPU), so on CPU the fsdp.yaml launch trains as plain DDP over
# gloo: no error, no sharding. If accelerate starts sharding on CPU, this fails and docs change.
FSDP_ON_CPU = "MULTI_CPU"


def test_fsdp2_on_cpu_with_the_recipes_settings(tmp_path: Path, write_fixture_records) -> None:
    config = yaml.safe_load(FSDP.read_text())
    # 2 processes, fp32 (the hardware policy's choice on this CPU); use_cpu stays false as in the
    # recipe, since accelerate's launcher starts a single process when the config says use_cpu
    config.update(num_processes=2, mixed_precision="no")
    fsdp_cpu = tmp_path / "fsdp-cpu.yaml"
    fsdp_cpu.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    values = {**TINY, "threads": 1, "train_file": write_fixture_records(tmp_path / "sft.jsonl", "sft"),
              "output_dir": out}  # fmt: skip
    args = cli_args(values)
    log = tmp_path / "fsdp.log"
    rc = run(launch_command(fsdp_cpu, ["train", "sft", "--config", str(SFT_RECIPE), *args]), log)
    text = log.read_text()
    print(f"fsdp2 on cpu: exit {rc}; last lines:\n" + "\n".join(text.splitlines()[-15:]))
    assert rc == 0, text[-3000:]
    manifest = json.loads((out / "metaalign_run.json").read_text())
    assert manifest["processes"] == 2 and manifest["global_step"] == 2
    assert manifest["distributed"] == FSDP_ON_CPU
    assert all(math.isfinite(row["loss"]) for row in log_rows(out) if "loss" in row)
    assert (out / "final" / "adapter_model.safetensors").exists()
