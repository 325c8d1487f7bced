#!/usr/bin/env bash
# The main job on the embedded model: set up (once), show a meta-prompt as the model sees it,
# and generate one answer under it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
tiers=(--system-info "Prioritize safety." --user-info "I am a zookeeper." --query "Should animal testing be banned?")
.venv/bin/metaalign render "${tiers[@]}"
.venv/bin/metaalign generate "${tiers[@]}" "$@"
