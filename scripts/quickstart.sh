#!/usr/bin/env bash
# The main job on the embedded model: set up (once), then the paper end to end on a CPU with no
# network: build a dataset offline, train SFT then DPO on on-policy pairs, evaluate the base and
# the MetaAligned model on held-out preferences, export the model and write a report (about 45 min
# on 2 cores). Re-running resumes and skips finished stages. Arguments go to `metaalign quickstart`:
# `--fast` runs the same stages at toy size in a few minutes (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
.venv/bin/metaalign quickstart "$@"
