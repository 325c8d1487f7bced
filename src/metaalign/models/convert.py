"""Turning a resolved model reference into a local Hugging Face folder: `ensure_local`.

Owns the once-only GGUF -> safetensors conversion (crash-safe: temporary sibling folder, file lock,
atomic rename, manifest; `build_atomically`, which the CTranslate2 backend's conversion uses too),
hub snapshots from the local cache and their errors. Resolution rules live in `resolver`, loading a
tokenizer or model in `loading`; torch and transformers are imported only inside the functions
that need them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from metaalign import __version__
from metaalign.errors import ModelNotFoundError
from metaalign.models.resolver import (
    DEFAULT_MODEL,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    ModelSource,
    conversion_state,
    file_sha256,
    resolve,
)

Converter = Callable[[Path, Path], None]
"""A converter writes a complete Hugging Face folder for the GGUF file (1st arg) into a folder (2nd)."""

_TRUTHY = {"1", "ON", "YES", "TRUE"}


def _log(message: str) -> None:
    """One progress line on stderr; tqdm.write keeps it clear of the progress bars transformers draws."""
    from tqdm import tqdm

    tqdm.write(f"metaalign: {message}", file=sys.stderr)


def hub_local_files_only(allow_download: bool, env: Mapping[str, str] | None = None) -> bool:
    """Hub ids load from the local HF cache only, unless downloads are allowed AND HF_HUB_OFFLINE is unset."""
    env = os.environ if env is None else env
    offline = env.get("HF_HUB_OFFLINE", "").strip().upper() in _TRUTHY
    return offline or not allow_download


def convert_gguf(gguf: Path, dest: Path) -> None:
    """The real converter: dequantize the GGUF with transformers and save float32 safetensors + tokenizer.

    `save_pretrained` fails on a GGUF-loaded model, so its state dict is copied into a fresh model built
    from the same config without `quantization_config` (tied embeddings stay tied).
    """
    import copy

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        folder, name = gguf.parent, gguf.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise ModelNotFoundError(f"cannot convert {gguf}: transformers could not load it ({err})") from err
    config = copy.deepcopy(quantized.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(quantized.state_dict(), strict=True)
    if getattr(config, "tie_word_embeddings", False):
        fresh.tie_weights()
    fresh.generation_config = copy.deepcopy(quantized.generation_config)
    fresh.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def build_manifest(ref: str, gguf: Path, converter: Converter) -> dict[str, Any]:
    """What the converted folder was made from and with (written last, so it marks completeness)."""
    stat = gguf.stat()
    try:
        tf_version: str | None = metadata.version("transformers")
    except metadata.PackageNotFoundError:
        tf_version = None
    return {
        "format": MANIFEST_FORMAT,
        "ref": ref,
        "source": str(gguf.absolute()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": file_sha256(gguf),
        "transformers_version": tf_version,
        "metaalign_version": __version__,
        "converter": _qualified_name(converter),
        "converted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _qualified_name(obj: object) -> str:
    named = obj if hasattr(obj, "__qualname__") else type(obj)  # a function, or a callable instance
    return f"{named.__module__}.{named.__qualname__}"


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path, label: str) -> Iterator[None]:
    import fcntl  # POSIX only; imported here so resolving models still works where it is missing

    with lock_path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _log(f"waiting for another process converting {label}")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _finish_tree(folder: Path) -> None:
    """Make every file readable like a normal download (some writers use 0600) and flush it to disk."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_leftovers(target: Path) -> None:
    """Temporary folders of conversions that were killed (we hold the lock, so none is live)."""
    for leftover in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _install(tmp: Path, target: Path) -> None:
    """Rename the finished folder into place; an outdated conversion there is moved aside first."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-old-", dir=target.parent))
        os.replace(target, old / "model")
    os.rename(tmp, target)
    _fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_atomically(
    target: Path, build: Callable[[Path], None], *, label: str, done: Callable[[Path], bool]
) -> Path:
    """Run `build(folder)` once so that `target` appears complete or not at all.

    `build` writes into a temporary sibling folder that is renamed into place when it returns, so
    `target` either is absent or complete. A lock file serialises builds of the same target; whoever
    waited finds `done(target)` true and returns at once. Also used for the CTranslate2 conversions.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.parent / f".{target.name}.lock", label):
        if done(target):
            return target
        _remove_leftovers(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        tmp.chmod(0o755)  # mkdtemp makes it 0700; the final folder should read like any other
        try:
            build(tmp)
            _finish_tree(tmp)
            _install(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def convert_atomically(gguf: Path, target: Path, *, label: str, converter: Converter = convert_gguf) -> Path:
    """Convert `gguf` into `target` once (crash-safe and safe against concurrent conversions).

    The manifest is written last, inside the temporary folder that `build_atomically` renames.
    """

    def build(tmp: Path) -> None:
        _log(f"converting {label} ({gguf.name}) to safetensors in {target} (once)")
        start = time.perf_counter()
        converter(gguf, tmp)
        manifest = build_manifest(label, gguf, converter)
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _log(f"converted {label} in {time.perf_counter() - start:.1f} s")

    return build_atomically(
        target, build, label=label, done=lambda folder: conversion_state(folder, gguf) == "converted"
    )


def _hub_snapshot(source: ModelSource, allow_download: bool) -> Path:
    from huggingface_hub import constants, snapshot_download

    local_only = hub_local_files_only(allow_download)
    try:
        return Path(snapshot_download(source.location, local_files_only=local_only))
    except Exception as err:  # hub errors vary by version; all of them mean "not available"
        raise hub_error(source, local_only, constants.HF_HUB_CACHE, err) from err


def first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def hub_error(source: ModelSource, local_only: bool, cache: str, err: Exception) -> ModelNotFoundError:
    tried = "the local Hugging Face cache" + ("" if local_only else " and the hub")
    hint = " (downloads are off: pass --online / allow_download=True with HF_HUB_OFFLINE unset)"
    return ModelNotFoundError(
        f"model '{source.ref}': not a local path or alias, and hub id {source.location} was not found in "
        f"{tried} ({cache}){hint if local_only else ''}: {type(err).__name__}: {first_line(err)}"
    )


def ensure_local(
    ref: str = DEFAULT_MODEL, *, allow_download: bool = False, converter: Converter | None = None
) -> Path:
    """A plain Hugging Face folder for `ref`, converting an alias or GGUF file the first time.

    `converter` defaults to `convert_gguf` (looked up at call time, so tests can replace it).
    """
    return local_folder(resolve(ref), allow_download=allow_download, converter=converter)


def local_folder(
    source: ModelSource, *, allow_download: bool = False, converter: Converter | None = None
) -> Path:
    """`ensure_local` for a reference resolved already (so callers resolve it once)."""
    if source.local_path is not None:
        return source.local_path
    if source.kind == "hub":
        return _hub_snapshot(source, allow_download)
    assert source.gguf_file is not None and source.cache_path is not None  # resolve() guarantees both
    convert = converter or convert_gguf
    return convert_atomically(source.gguf_file, source.cache_path, label=source.ref, converter=convert)


def max_logit_difference(gguf: Path, folder: Path, text: str = "The capital of France is") -> float:
    """Largest |logit| difference between the GGUF-loaded model and a converted folder on `text`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    ids = tokenizer(text, return_tensors="pt").input_ids
    reference = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    converted = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True)
    with torch.no_grad():
        diff = (reference(ids).logits - converted(ids).logits).abs().max()
    return float(diff)
