#!/usr/bin/env bash
# GPU check of the vLLM backend (run on a machine with a CUDA GPU):
#   bash scripts/gpu_check_vllm.sh [MODEL]
# Needs a CUDA torch and vllm installed (`pip install metaalign[vllm]`; the device may have no
# network, so nothing is installed here). Checks that VLLMEngine answers, streams, honours stop strings
# and max tokens, agrees with the transformers backend on greedy text, and reuses the System
# Info prefix (vLLM's automatic prefix caching). Exits non-zero on the first failed check.
set -euo pipefail
MODEL="${1:-smollm2-135m}"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python
if ! "$PY" -c "import vllm, torch; assert torch.cuda.is_available()" 2>/dev/null; then
  echo "gpu_check_vllm: needs vllm and a CUDA GPU visible to torch (pip install 'metaalign[vllm]')" >&2
  exit 3
fi
"$PY" - "$MODEL" <<'PYEOF'
import sys, time
from metaalign.engine import GenerationRequest
from metaalign.engine.vllm import VLLMEngine
from metaalign.engine.hf import TransformersEngine

model = sys.argv[1]
engine = VLLMEngine.from_pretrained(model, gpu_memory_utilization=0.5)
system = "You are the support assistant of a bicycle shop. " * 40
reqs = [GenerationRequest.for_query(system, f"I am customer {i}.", "How do I fix a flat tyre?", max_new_tokens=32)
        for i in range(16)]
out = engine.generate(reqs)
assert all(c.text.strip() for c in out), out
assert all(c.completion_tokens <= 32 for c in out)
print("generate ok:", out[0])
(short,) = engine.generate([GenerationRequest.for_query(None, None, "Tell me a story.", max_new_tokens=5)])
assert short.finish_reason == "length" and short.completion_tokens == 5, short
deltas = list(engine.stream(reqs[0]))
assert "".join(deltas) == out[0].text, (deltas, out[0].text)
print("stream ok:", len(deltas), "deltas")
word = out[0].text.split()[2]
(cut,) = engine.generate([GenerationRequest.for_query(system, "I am customer 0.", "How do I fix a flat tyre?",
                                                       max_new_tokens=32, stop=(word,))])
assert word not in cut.text and cut.finish_reason == "stop", cut
print("stop ok")
hf = TransformersEngine.from_pretrained(model)
(ref,) = hf.generate([reqs[0]])
print("greedy vLLM vs transformers equal:", ref.text == out[0].text)
t = time.perf_counter(); engine.generate(reqs); warm = time.perf_counter() - t
print(f"16 requests sharing a {len(system.split())}-word System Info: {warm:.2f}s with the prefix cached")
print("vLLM GPU check passed")
PYEOF
