"""Loading a model reference with transformers: `load_tokenizer`, `load_model`, `locate_pretrained`.

Owns what `from_pretrained` is given for a reference (a local folder, converted once, or a cached
hub id and whether downloads are allowed), the dtype rule for inference, and the errors that
name the reference. Resolution is `resolver`'s, GGUF conversion `convert`'s; torch and
transformers are imported only inside the functions that need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metaalign.errors import MetaAlignError, ModelNotFoundError
from metaalign.models.convert import first_line, hub_error, hub_local_files_only, local_folder
from metaalign.models.resolver import DEFAULT_MODEL, ModelSource, resolve

_DTYPE_NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


@dataclass(frozen=True)
class Pretrained:
    """A model reference resolved to what `from_pretrained` takes: a location and local_files_only."""

    source: ModelSource
    location: str  # a local folder, or a hub id
    local_files_only: bool

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments every `from_pretrained` of this reference takes."""
        return {"local_files_only": self.local_files_only}

    def error(self, err: Exception) -> ModelNotFoundError:
        """The error for a load of this reference that failed with `err`."""
        if self.source.kind == "hub":
            from huggingface_hub import constants

            return hub_error(self.source, self.local_files_only, constants.HF_HUB_CACHE, err)
        where = f"model '{self.source.ref}': cannot load from {self.location}"
        return ModelNotFoundError(f"{where}: {first_line(err)}")


def locate_pretrained(ref: str | Pretrained = DEFAULT_MODEL, *, allow_download: bool = False) -> Pretrained:
    """`ref` resolved once: hub ids stay ids (cache only unless downloads are allowed), the rest a
    local folder (an alias or GGUF file converted the first time). A `Pretrained` passes through."""
    if isinstance(ref, Pretrained):
        return ref
    source = resolve(ref)
    if source.kind == "hub":
        return Pretrained(source, source.location, hub_local_files_only(allow_download))
    return Pretrained(source, str(local_folder(source)), True)


def dtype_name(dtype: str | None, device: str, *, bf16_supported: bool = False) -> str:
    """The torch dtype name to load with: float32 on CPU by default, bf16 (else fp16) on CUDA."""
    if dtype is None:
        if device.startswith("cuda"):
            return "bfloat16" if bf16_supported else "float16"
        return "float32"
    name = _DTYPE_NAMES.get(dtype.strip().lower())
    if name is None:
        raise MetaAlignError(
            f"dtype '{dtype}': expected one of float32, float16, bfloat16 (or fp32, fp16, bf16)"
        )
    return name


def load_tokenizer(ref: str | Pretrained = DEFAULT_MODEL, *, allow_download: bool = False) -> Any:
    """The transformers tokenizer for `ref` (pad token falls back to EOS when the folder sets none)."""
    from transformers import AutoTokenizer

    target = locate_pretrained(ref, allow_download=allow_download)
    try:
        tokenizer = AutoTokenizer.from_pretrained(target.location, **target.kwargs)
    except OSError as err:
        raise target.error(err) from err
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    ref: str | Pretrained = DEFAULT_MODEL,
    *,
    dtype: Any = None,
    device: str | None = None,
    allow_download: bool = False,
) -> Any:
    """The transformers causal LM for `ref`, in eval mode, on `device` (CUDA if present, else CPU).

    `dtype` is a torch.dtype or a name (float32/fp32, float16/fp16, bfloat16/bf16); by default float32
    on CPU (no fast bf16 there) and bf16, else fp16, on CUDA.
    """
    import torch
    from transformers import AutoModelForCausalLM

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(dtype, torch.dtype):
        bf16 = device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        dtype = getattr(torch, dtype_name(dtype, device, bf16_supported=bf16))
    target = locate_pretrained(ref, allow_download=allow_download)
    try:
        model = AutoModelForCausalLM.from_pretrained(target.location, dtype=dtype, **target.kwargs)
    except OSError as err:
        raise target.error(err) from err
    return model.to(device).eval()
