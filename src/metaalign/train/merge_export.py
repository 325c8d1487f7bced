"""`export_model(run_dir, out_dir)`: a finished run as a standalone Hugging Face model folder;
`export_gguf(source, out)`: a run, a merged folder or any model reference as one GGUF file.

Owns merging a LoRA run's adapter into its base model (or copying a full fine-tune) and
saving weights, config, generation config, tokenizer and chat template, loadable by plain
transformers and by vLLM. It does not train; it reads the run's metaalign_run.json. The GGUF
encoding itself is metaalign.models.gguf_export's.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError
from metaalign.train.run import require_finished
from metaalign.train.run_log import FINAL_DIR, read_manifest
from metaalign.train.run_log import MANIFEST_NAME as RUN_MANIFEST

log = logging.getLogger("metaalign.train")
EXPORT_MANIFEST = "metaalign_export.json"


def merged_model(run_dir: Path, manifest: dict[str, Any]) -> Any:
    """The run's trained model with any LoRA adapter merged into the base weights."""
    from transformers import AutoModelForCausalLM

    final = Path(run_dir) / manifest.get("final", FINAL_DIR)
    if not manifest.get("use_peft", True):
        return AutoModelForCausalLM.from_pretrained(final, dtype="auto", local_files_only=True)
    from peft import PeftModel

    from metaalign.models.loading import locate_pretrained

    base_model = locate_pretrained(manifest["model"])
    base = AutoModelForCausalLM.from_pretrained(base_model.location, dtype="auto", **base_model.kwargs)
    return PeftModel.from_pretrained(base, str(final)).merge_and_unload()


def finished_run(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The run folder to export and its manifest (a two-stage run exports its last, DPO, stage)."""
    top = read_manifest(run_dir) or {}
    if top.get("kind") == "two-stage" and top.get("status") == "done":
        run_dir = run_dir / top["final_run"]
    return run_dir, require_finished(run_dir)


def export_model(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the merged model of `run_dir` to `out_dir`; returns `out_dir`."""
    from transformers import AutoTokenizer

    run_dir, manifest = finished_run(Path(run_dir))
    out_dir = Path(out_dir)
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


def is_run(path: Path) -> bool:
    return (path / RUN_MANIFEST).is_file()


def _gguf_source(source: str | Path) -> tuple[Any, Any, str | None]:
    """(model, tokenizer, the model reference it was trained from) for a run folder or a model reference."""
    from transformers import AutoTokenizer

    from metaalign.models import load_model, load_tokenizer

    path = Path(source)
    if is_run(path):
        run_dir, manifest = finished_run(path)
        model = merged_model(run_dir, manifest).float()
        tokenizer = AutoTokenizer.from_pretrained(run_dir / manifest.get("final", FINAL_DIR))
        return model, tokenizer, manifest.get("model")
    ref = str(source)
    if (path / "config.json").is_file():  # refuse an unsupported architecture before loading weights
        from types import SimpleNamespace

        from metaalign.models.gguf_export import arch_spec

        arch_spec(SimpleNamespace(**json.loads((path / "config.json").read_text(encoding="utf-8"))))
    return load_model(ref, dtype="float32", device="cpu"), load_tokenizer(ref), ref


def origin_gguf(ref: str | None, depth: int = 0) -> Path | None:
    """The GGUF file a model reference was first converted from (through exports and conversions)."""
    from metaalign.models import resolve
    from metaalign.models.resolver import MANIFEST_NAME

    if ref is None or depth > 3:
        return None
    try:
        source = resolve(ref)
    except MetaAlignError:
        return None
    if source.gguf_file is not None or source.kind != "local":
        return source.gguf_file
    folder = Path(source.location)
    for name, key in ((MANIFEST_NAME, "source"), (EXPORT_MANIFEST, "model"), (RUN_MANIFEST, "model")):
        data = json.loads((folder / name).read_text()) if (folder / name).is_file() else {}
        if key == "source" and data.get("source"):
            return Path(data["source"])
        if data.get(key):
            return origin_gguf(str(data[key]), depth + 1)
    return None


def export_gguf(source: str | Path, out: str | Path, *, dtype: str = "f16", force: bool = False) -> Path:
    """Write a run (LoRA merged), a merged model folder or a model reference to the GGUF file `out`.

    The tokenizer and a chat template that places the meta-prompt as `metaalign render` does go
    into the file's metadata; see metaalign.models.gguf_export for the encodings.
    """
    from metaalign.models.gguf_export import DTYPES, check_output, write_gguf
    from metaalign.models.gguf_vocab import gguf_vocab, source_gguf_pre
    from metaalign.render import supports_system_role
    from metaalign.render.portable_template import portable_chat_template

    out = Path(out)
    if dtype not in DTYPES:
        raise MetaAlignError(f"--dtype '{dtype}': expected one of {', '.join(DTYPES)}")
    check_output(out, force=force)  # before minutes of loading, not after
    model, tokenizer, origin = _gguf_source(source)
    if not getattr(tokenizer, "chat_template", None):
        raise MetaAlignError(f"{source}: the tokenizer has no chat template")
    pre = source_gguf_pre(origin_gguf(origin))
    vocab = gguf_vocab(tokenizer, vocab_size=int(model.config.vocab_size), pre=pre)
    template = portable_chat_template(tokenizer.chat_template, system_role=supports_system_role(tokenizer))
    name = Path(str(source)).name or "metaalign"
    return write_gguf(model, vocab, template, out, dtype=dtype, name=name, force=force)
