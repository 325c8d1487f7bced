"""Training throughput: `metaalign train sft|dpo` against a plain TRL script, interleaved in one process.

Same records, same LoRA config (r=16, all linear layers), same batch size and optimizer steps.
Baseline: TRL's SFTTrainer / DPOTrainer with TRL's CPU-sane settings (bf16 off, everything else
default: gradient checkpointing on, padded batches, reference forward every step), TRL rendering
the renderer's chat messages itself. Ours: MetaAlign's trainers (hardware precision, padding-free
SFT, compact LM head, precomputed reference log-probs, shared-prompt DPO). Timed from building
the trainer (data preparation, reference precompute) to the end of training.

"Trained tokens" are the same for both: the tokens of TRL's layout (SFT rows; prompt+chosen and
prompt+rejected for DPO). The bound is one plain forward+backward of those same rows (LoRA model,
padding-free batches of the same size, no optimizer), timed in the same run. Peak RSS is sampled
from /proc during each run. Ratios print last.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/train_throughput.py --steps 4 --repeats 2
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import threading
import time
from pathlib import Path

import torch

from metaalign.records import read_records, write_records


class PeakRss:
    """Samples this process's resident memory every 20 ms while active (MiB)."""

    def __enter__(self) -> PeakRss:
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak = max(self.peak, int(line.split()[1]) / 1024)
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cycled(path: str, kind: str, n: int, out: Path) -> Path:
    """`n` records cycled from `path` (fresh ids), written to `out`."""
    records = read_records(path, kind).records
    rows = [r.model_copy(update={"id": f"{r.id}-{i}"}) for i, r in zip(range(n), itertools.cycle(records))]
    write_records(rows, out)
    return out


def lora():
    from peft import LoraConfig

    return LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )


def baseline_sft(path: str, records_file: Path, batch: int, steps: int, out: str) -> None:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from metaalign.models import load_tokenizer
    from metaalign.records.trl_format import sft_example
    from metaalign.render import Renderer

    tokenizer = load_tokenizer("smollm2-135m")
    renderer = Renderer(tokenizer)
    rows = [sft_example(r, renderer) for r in read_records(records_file, "sft").records]
    args = SFTConfig(output_dir=out, bf16=False, per_device_train_batch_size=batch, max_steps=steps,
                     save_strategy="no", report_to="none", learning_rate=3e-4, use_cpu=True)  # fmt: skip
    trainer = SFTTrainer(model=path, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=lora())  # fmt: skip
    trainer.train()


def baseline_dpo(path: str, records_file: Path, batch: int, steps: int, out: str) -> None:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from metaalign.models import load_tokenizer
    from metaalign.records.trl_format import preference_example
    from metaalign.render import Renderer

    tokenizer = load_tokenizer("smollm2-135m")
    renderer = Renderer(tokenizer)
    rows = [preference_example(r, renderer) for r in read_records(records_file, "preference").records]
    args = DPOConfig(output_dir=out, bf16=False, per_device_train_batch_size=batch, max_steps=steps,
                     save_strategy="no", report_to="none", learning_rate=1e-4, use_cpu=True)  # fmt: skip
    trainer = DPOTrainer(model=path, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=lora())  # fmt: skip
    trainer.train()


def ours(kind: str, records_file: Path, batch: int, steps: int, out: str) -> None:
    from metaalign.train.run import trainer_class

    values = dict(train_file=str(records_file), output_dir=out, per_device_train_batch_size=batch,
                  max_steps=steps, save_strategy="no", lora_r=16, lora_alpha=32)  # fmt: skip
    values["learning_rate"] = 3e-4 if kind == "sft" else 1e-4
    trainer_class(kind).from_config(values).train()


def layout_rows(kind: str, records_file: Path) -> list[list[int]]:
    """Token rows of TRL's layout for the records (what "trained tokens" counts)."""
    from metaalign.models import load_tokenizer
    from metaalign.render import Renderer
    from metaalign.train.token_rows import dpo_row, sft_row

    renderer = Renderer(load_tokenizer("smollm2-135m"))
    if kind == "sft":
        return [sft_row(r, renderer)["input_ids"] for r in read_records(records_file, "sft").records]
    rows = []
    for r in read_records(records_file, "preference").records:
        d = dpo_row(r, renderer)
        rows += [d["prompt_ids"] + d["chosen_ids"], d["prompt_ids"] + d["rejected_ids"]]
    return rows


def bound_seconds(path: str, rows: list[list[int]], batch: int) -> float:
    """One plain forward+backward over `rows`, padding-free batches of `batch` rows, LoRA model."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), lora())
    model.train()
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        ids = torch.tensor([[t for row in chunk for t in row]])
        pos = torch.cat([torch.arange(len(r)) for r in chunk])[None]
        model(input_ids=ids, position_ids=pos, labels=ids).loss.backward()
        model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def timed(fn, *args) -> tuple[float, float]:
    with PeakRss() as rss:
        start = time.perf_counter()
        fn(*args)
        seconds = time.perf_counter() - start
    return seconds, rss.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sft-file", default="examples/sft.jsonl")
    parser.add_argument("--dpo-file", default="examples/prefs.jsonl")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=("sft", "dpo"), default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from metaalign.models.loading import locate_pretrained

    path = locate_pretrained("smollm2-135m").location
    tmp = Path(tempfile.mkdtemp(prefix="train-bench-"))
    n = args.batch * args.steps  # exactly one epoch: both sides train on every row once
    kinds = [args.only] if args.only else ["sft", "dpo"]
    ratios = {}
    for kind in kinds:
        src = args.sft_file if kind == "sft" else args.dpo_file
        records = cycled(src, "sft" if kind == "sft" else "preference", n, tmp / f"{kind}.jsonl")
        rows = layout_rows(kind, records)
        tokens = sum(map(len, rows))
        base_fn = baseline_sft if kind == "sft" else baseline_dpo
        results: dict[str, list[tuple[float, float]]] = {"baseline": [], "ours": []}
        for rep in range(args.repeats):  # interleaved, so load on the shared cores hits both alike
            results["baseline"].append(
                timed(base_fn, path, records, args.batch, args.steps, str(tmp / f"b{rep}"))
            )
            results["ours"].append(
                timed(ours, kind, records, args.batch, args.steps, str(tmp / f"o{kind}{rep}"))
            )
            print(f"{kind} repeat {rep}: baseline {results['baseline'][-1][0]:.1f} s, "
                  f"ours {results['ours'][-1][0]:.1f} s", flush=True)  # fmt: skip
        bound = bound_seconds(path, rows, args.batch)
        base_s = statistics.median(s for s, _ in results["baseline"])
        ours_s = statistics.median(s for s, _ in results["ours"])
        print(f"\n{kind.upper()}: {n} records, {args.steps} steps of {args.batch}, {tokens} trained tokens")
        peak = {name: max(p for _, p in runs) for name, runs in results.items()}
        print(f"  baseline TRL   {tokens / base_s:8.1f} tok/s  peak RSS {peak['baseline']:.0f} MiB")
        print(f"  metaalign      {tokens / ours_s:8.1f} tok/s  peak RSS {peak['ours']:.0f} MiB")
        print(f"  fwd+bwd bound  {tokens / bound:8.1f} tok/s  (ours = {bound / ours_s:.2f} of the bound)")
        ratios[kind] = base_s / ours_s
    print()
    for kind, ratio in ratios.items():
        print(f"{kind} speed-up (metaalign / plain TRL, trained tokens/s): {ratio:.2f}x")


if __name__ == "__main__":
    main()
