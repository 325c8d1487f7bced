"""`load_engine`: the one way to build a generation engine from a model reference.

Owns choosing the backend (transformers, vLLM or CTranslate2, imported only when chosen), setting
torch's CPU threads for the process that generates, and passing the batch size and weight precision
on. It does not generate (hf.py, vllm.py, ctranslate2_engine.py), resolve model references
(metaalign.models) or make fakes (base.py's FakeEngine; build's and the CLI's test engines stay
where they are chosen).
"""

from __future__ import annotations

from typing import Any

from metaalign.errors import MetaAlignError

BACKENDS = ("transformers", "vllm", "ctranslate2")
VLLM_DTYPES = {"fp32": "float32", "bf16": "bfloat16"}  # int8 is the transformers backend's (precision.py)


def load_engine(
    model: str,
    backend: str = "transformers",
    batch_size: int | None = None,
    threads: int | None = None,
    dtype: str | None = None,
    **options: Any,
) -> Any:
    """The engine for model reference `model` (an alias, a folder, a GGUF file or a cached hub id).

    `batch_size`: rows decoded together (None: 16 on transformers and ctranslate2; vLLM schedules
    its own unless given, as `max_num_seqs`). `threads`: torch's CPU threads for this process (None
    leaves torch's setting as it is), and CTranslate2's intra-op threads. `dtype`: fp32, bf16 or
    int8 (None: the measured default, precision.py). `options` go to the backend:
    TransformersEngine's `prefix_cache_size`, `min_prefix_tokens`; CTranslate2Engine's
    `min_prefix_tokens`, `device`; vLLM's `LLM(...)` keywords.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    set_threads(threads)
    if backend == "vllm":
        from metaalign.engine.vllm import VLLMEngine

        if dtype is not None:
            if dtype not in VLLM_DTYPES:
                raise MetaAlignError(f"dtype {dtype!r} is not available with vllm; use fp32 or bf16")
            options.setdefault("dtype", VLLM_DTYPES[dtype])
        if batch_size is not None:
            options.setdefault("max_num_seqs", batch_size)
        return VLLMEngine.from_pretrained(model, **options)
    if backend == "ctranslate2":
        from metaalign.engine.ctranslate2_engine import CTranslate2Engine

        return CTranslate2Engine.from_pretrained(
            model, dtype=dtype, threads=threads, batch_size=batch_size or 16, **options
        )
    from metaalign.engine.hf import TransformersEngine

    return TransformersEngine.from_pretrained(model, dtype=dtype, batch_size=batch_size or 16, **options)


def set_threads(threads: int | None) -> None:
    """Sets torch's CPU threads when asked (None keeps torch's setting)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
