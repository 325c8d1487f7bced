#!/usr/bin/env bash
# bash scripts/gpu_check_train.sh
# A short training check for a machine with a CUDA GPU: a few LoRA SFT and DPO steps through the
# same code and recipes as the CPU path, then export, and checks that bf16 was chosen and the loss
# is finite. Prints OK or FAIL on the last line. MODEL picks the model: the embedded smollm2-135m by
# default (no download needed), or a 7B stand-in already on disk, e.g.
#   MODEL=path/to/Qwen2.5-7B-Instruct bash scripts/gpu_check_train.sh
# (that runs the recipes/qwen2.5-7b settings: bf16, LoRA r=32, gradient checkpointing).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
MODEL=${MODEL:-smollm2-135m}
OUT=${OUT:-$(mktemp -d)}
if [[ "$MODEL" == smollm2-135m ]]; then SFT=recipes/smollm2-135m/sft.yaml DPO=recipes/smollm2-135m/dpo.yaml
else SFT=recipes/qwen2.5-7b/sft.yaml DPO=recipes/qwen2.5-7b/dpo.yaml; fi
COMMON=(--model "$MODEL" --max_steps 4 --logging_steps 1 --save_steps 2 --per_device_train_batch_size 2)

fail() { echo "gpu_check_train: $1"; echo FAIL; exit 1; }
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || fail "no CUDA device visible to torch"
"$PY" -m metaalign.cli.main train sft --config "$SFT" "${COMMON[@]}" \
  --train_file examples/sft.jsonl --output_dir "$OUT/sft" || fail "SFT failed"
"$PY" -m metaalign.cli.main train dpo --config "$DPO" "${COMMON[@]}" \
  --train_file examples/prefs.jsonl --output_dir "$OUT/dpo" || fail "DPO failed"
"$PY" -m metaalign.cli.main export "$OUT/sft" --out "$OUT/merged" || fail "export failed"
"$PY" - "$OUT" <<'PY' || fail "checks failed"
import json, math, sys
from pathlib import Path
out = Path(sys.argv[1])
for stage in ("sft", "dpo"):
    manifest = json.loads((out / stage / "metaalign_run.json").read_text())
    losses = [json.loads(line)["loss"] for line in (out / stage / "train_log.jsonl").open() if '"loss"' in line]
    print(f"{stage}: precision={manifest['precision']} steps={manifest['global_step']} "
          f"losses={[round(x, 4) for x in losses]} peak GPU memory={manifest.get('peak_cuda_gib')} GiB")
    assert manifest["precision"] == "bf16", "expected bf16 on a bf16-capable GPU"
    assert losses and all(math.isfinite(x) for x in losses)
from transformers import AutoModelForCausalLM
AutoModelForCausalLM.from_pretrained(out / "merged")
PY
echo OK
