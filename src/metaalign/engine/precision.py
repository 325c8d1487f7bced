"""Low-precision weights for the transformers engine: `fp32`, `bf16`, or `int8` (dynamic, per channel).

Owns turning a loaded fp32 model into the chosen inference precision with PyTorch's own kernels:
bf16 is a plain cast (oneDNN matmuls where the CPU has AVX512-BF16 or AMX); int8 swaps each
decoder `nn.Linear` for PyTorch's dynamically quantized linear (int8 weights with one scale per
output channel, activations quantized per call; fbgemm/oneDNN kernels, VNNI where present). The
output head stays in full precision. It does not load models (metaalign.models) or decode.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

DTYPES = ("fp32", "bf16", "int8")
# Chosen by benchmarks/engine_throughput.py --dtypes (greedy texts equal to fp32's and tok/s
# in the same run) and the verifiable suite on a slice with each dtype; see docs/serve.md.
DEFAULT_DTYPE = "fp32"
# What `serve` and `chat` use when no --dtype is given: bf16 where the CPU multiplies bf16 natively
# (it passed the quality gate, benchmarks/dtype_quality.py, and runs ~2x fp32 at batch 8-32).
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags() -> set[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where there is no such file)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def serving_dtype() -> str:
    """bf16 where the CPU has AVX512-BF16 or AMX, else DEFAULT_DTYPE (fp32)."""
    return "bf16" if cpu_flags() & BF16_FLAGS else DEFAULT_DTYPE


def check_dtype(name: str) -> str:
    """`name` if it is a known engine dtype; a ValueError naming the choices otherwise."""
    if name not in DTYPES:
        raise ValueError(f"dtype: expected one of {', '.join(DTYPES)}, got {name!r}")
    return name


def apply_dtype(model: Any, name: str) -> Any:
    """`model` (fp32) in precision `name`; int8 needs a CPU model (quantized linears are CPU-only)."""
    check_dtype(name)
    if name == "fp32":
        return model
    if name == "bf16":
        return model.to(torch.bfloat16)
    if model.device.type != "cpu":
        raise ValueError("dtype int8: PyTorch's dynamic int8 linears run on the CPU only; use bf16 on a GPU")
    return _quantize_int8(model)


def _quantize_int8(model: Any) -> Any:
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    head = model.get_output_embeddings()
    names = {
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and module is not head
    }
    with warnings.catch_warnings():  # torch.ao.quantization warns that it moves to torchao some day
        warnings.simplefilter("ignore")
        return quantize_dynamic(
            model, dict.fromkeys(names, per_channel_dynamic_qconfig), dtype=torch.qint8, inplace=True
        )
