"""`export_model(run_dir, out_dir)`: a finished run as a standalone Hugging Face model folder.

Owns merging a LoRA run's adapter into its base model (or copying a full fine-tune) and
saving weights, config, generation config, tokenizer and chat template, loadable by plain
transformers and by vLLM. It does not train; it reads the run's metaalign_run.json.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError
from metaalign.train.run import model_source, require_finished
from metaalign.train.run_log import FINAL_DIR, read_manifest

log = logging.getLogger("metaalign.train")
EXPORT_MANIFEST = "metaalign_export.json"


def merged_model(run_dir: Path, manifest: dict[str, Any]) -> Any:
    """The run's trained model with any LoRA adapter merged into the base weights."""
    from transformers import AutoModelForCausalLM

    final = Path(run_dir) / manifest.get("final", FINAL_DIR)
    if not manifest.get("use_peft", True):
        return AutoModelForCausalLM.from_pretrained(final, dtype="auto", local_files_only=True)
    from peft import PeftModel

    path, kwargs = model_source(manifest["model"])
    base = AutoModelForCausalLM.from_pretrained(path, dtype="auto", **kwargs)
    return PeftModel.from_pretrained(base, str(final)).merge_and_unload()


def export_model(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the merged model of `run_dir` to `out_dir`; returns `out_dir`."""
    from transformers import AutoTokenizer

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    top = read_manifest(run_dir) or {}
    if top.get("kind") == "two-stage" and top.get("status") == "done":
        run_dir = run_dir / top["final_run"]  # a two-stage run exports its last (DPO) stage
    manifest = require_finished(run_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise MetaAlignError(f"{out_dir}: exists and is not empty; choose a new --out folder")
    model = merged_model(run_dir, manifest)
    tokenizer = AutoTokenizer.from_pretrained(run_dir / manifest.get("final", FINAL_DIR))
    if not getattr(tokenizer, "chat_template", None):
        raise MetaAlignError(f"{run_dir}: the saved tokenizer has no chat template")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / EXPORT_MANIFEST).write_text(
        json.dumps({"source_run": str(run_dir.resolve()), **manifest}, indent=2, default=str) + "\n"
    )
    log.warning("exported %s -> %s", run_dir, out_dir)
    return out_dir
