"""Kill-and-resume continues the step counter and optimizer state; export gives a plain HF model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

pytestmark = pytest.mark.slow
TINY = {"per_device_train_batch_size": 2, "max_steps": 4, "warmup_steps": 0, "logging_steps": 1,
        "save_steps": 1, "save_total_limit": 10, "max_length": 160, "lora_r": 4, "lora_alpha": 8}  # fmt: skip


class Crash(RuntimeError):
    pass


class CrashAfterSave(TrainerCallback):
    """Stands in for a kill: the run dies right after checkpoint `step` is on disk."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Crash(f"killed after step {self.step}")


class FirstStepProbe(TrainerCallback):
    """Records the optimizer's step count when the (resumed) run takes its first step."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float]] = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        if not self.seen:
            steps = {float(s["step"]) for s in optimizer.state_dict()["state"].values()}
            self.seen.append((state.global_step, max(steps)))


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory: pytest.TempPathFactory, write_fixture_records) -> dict:
    from metaalign.train.run import train_sft

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("resume")
    train_file = write_fixture_records(root / "sft.jsonl", "sft")
    values = {**TINY, "train_file": str(train_file), "output_dir": str(root / "run")}
    with pytest.raises(Crash):
        train_sft(values, callbacks=[CrashAfterSave(2)])
    optimizer_at_kill = torch.load(root / "run" / "checkpoint-2" / "optimizer.pt", weights_only=False)
    probe = FirstStepProbe()
    run_dir = train_sft(values, callbacks=[probe])
    return {"run_dir": run_dir, "probe": probe, "optimizer_at_kill": optimizer_at_kill, "root": root}


def test_rerunning_resumes_from_the_last_checkpoint(resumed_run: dict) -> None:
    run_dir: Path = resumed_run["run_dir"]
    manifest = json.loads((run_dir / "metaalign_run.json").read_text())
    assert manifest["resumed_from"].endswith("checkpoint-2") and manifest["global_step"] == 4
    # the resumed run starts at step 2 with the optimizer state of checkpoint-2 (Adam step 2), not afresh
    assert resumed_run["probe"].seen == [(2, 2.0)]
    kill_steps = {float(s["step"]) for s in resumed_run["optimizer_at_kill"]["state"].values()}
    assert kill_steps == {2.0}
    final = torch.load(run_dir / "checkpoint-4" / "optimizer.pt", weights_only=False)
    assert {float(s["step"]) for s in final["state"].values()} == {4.0}
    logged = [row["step"] for row in map(json.loads, (run_dir / "train_log.jsonl").open()) if "loss" in row]
    assert logged == [1, 2, 3, 4]  # one log line per step: nothing repeated, nothing lost
    assert (run_dir / "loss.png").stat().st_size > 1000


def test_a_finished_run_is_not_trained_again(resumed_run: dict) -> None:
    from metaalign.train.run import train_sft

    probe = FirstStepProbe()
    values = {
        **TINY,
        "train_file": str(resumed_run["root"] / "sft.jsonl"),
        "output_dir": str(resumed_run["run_dir"]),
    }
    assert train_sft(values, callbacks=[probe]) == resumed_run["run_dir"]
    assert probe.seen == []


def test_export_loads_with_plain_transformers_and_generates_like_the_adapter(resumed_run: dict) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from metaalign.models.loading import locate_pretrained
    from metaalign.train import export_model

    out = export_model(resumed_run["run_dir"], resumed_run["root"] / "exported")
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    base_path = locate_pretrained("smollm2-135m").location
    base = AutoModelForCausalLM.from_pretrained(base_path)
    adapter = PeftModel.from_pretrained(base, str(resumed_run["run_dir"] / "final")).eval()
    messages = [
        {"role": "system", "content": "Answer in capital letters only."},
        {"role": "user", "content": "What do bees make?"},
    ]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")[
        "input_ids"
    ]
    with torch.no_grad():
        a = merged.generate(ids, max_new_tokens=12, do_sample=False)
        b = adapter.generate(input_ids=ids, max_new_tokens=12, do_sample=False)
    assert a.tolist() == b.tolist()
    with pytest.raises(Exception, match="not empty"):
        export_model(resumed_run["run_dir"], out)


def test_gguf_export_of_the_run_holds_the_merged_weights(resumed_run: dict) -> None:
    from transformers import AutoModelForCausalLM

    from metaalign.train.merge_export import export_gguf, finished_run, merged_model

    out = export_gguf(resumed_run["run_dir"], resumed_run["root"] / "gguf" / "run.gguf", dtype="f32")
    merged = merged_model(*finished_run(resumed_run["run_dir"])).float().eval()
    loaded = AutoModelForCausalLM.from_pretrained(out.parent, gguf_file=out.name, dtype=torch.float32).eval()
    ids = torch.tensor([[1, 9690, 198, 504, 3458, 282, 4649, 314, 2]])
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, merged(ids).logits)
