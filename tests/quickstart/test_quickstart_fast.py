"""`metaalign quickstart --fast` end to end on the embedded model: artifacts, report, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ARTIFACTS = [
    "build/sft_train.jsonl",
    "build/dpo_train.jsonl",
    "build/sft_test.jsonl",
    "train/sft/metaalign_run.json",
    "train/pairs.jsonl",
    "train/dpo/metaalign_run.json",
    "model/config.json",
    "model/model.safetensors",
    "model/tokenizer_config.json",
    "eval/base/report.json",
    "eval/metaaligned/report.json",
    "report/report.md",
    "report/report.png",
    "report/quickstart.json",
    "report/README-section.md",
]


def quickstart(workdir: Path) -> subprocess.CompletedProcess[str]:
    """Like a reader would, with the default model cache (converted once per machine)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    args = [sys.executable, "-m", "metaalign.cli.main", "quickstart", "--fast", "--workdir", str(workdir)]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=1200)


@pytest.mark.slow
def test_fast_quickstart_leaves_every_artifact_and_resumes(tmp_path: Path) -> None:
    first = quickstart(tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    missing = [a for a in ARTIFACTS if not (tmp_path / a).exists()]
    assert not missing
    summary = json.loads((tmp_path / "report" / "quickstart.json").read_text())
    assert set(summary["figures"]) == {"base", "metaaligned"}
    assert set(summary["stage_seconds"]) == {
        "build", "sft", "on-policy", "dpo", "export", "eval-base", "eval-metaaligned",
    }  # fmt: skip
    assert (tmp_path / "report" / "README-section.md").read_text().strip() in first.stdout
    assert "metaalign serve --model" in first.stdout
    again = quickstart(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("done in an earlier run, skipped") == 7
