"""Precision and memory settings chosen from the hardware, before TRL's defaults apply.

Owns the policy: bf16 on GPUs that support it (fp16 on older ones), bf16 on CPUs with AMX
bf16 units, fp32 on other CPUs; gradient checkpointing off on CPU (it only costs time there).
It does not build trainers; configs call `apply_hardware_defaults` in __post_init__.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Hardware:
    """What the policy looks at: the device kind and whether bf16 runs natively on it."""

    device: str  # "cuda" or "cpu"
    native_bf16: bool


@cache
def detect() -> Hardware:
    import torch

    if torch.cuda.is_available():
        return Hardware("cuda", bool(torch.cuda.is_bf16_supported()))
    return Hardware("cpu", cpu_has_native_bf16())


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU advertises AMX bf16 matrix units in /proc/cpuinfo.

    AVX-512 BF16 (e.g. AMD Zen 4) only adds dot-product instructions; bf16 autocast training
    measured slower than fp32 on such a 2-core machine, so it does not count here.
    """
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.exists() else ""
    flags = set(cpuinfo.split())
    return "amx_bf16" in flags


def choose(precision: str, hardware: Hardware) -> dict[str, bool]:
    """The TrainingArguments fields a precision setting stands for on `hardware`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        if hardware.device == "cuda":
            precision = "bf16" if hardware.native_bf16 else "fp16"
        else:
            precision = "bf16" if hardware.native_bf16 else "fp32"
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def apply_hardware_defaults(config: Any, hardware: Hardware | None = None) -> None:
    """Fill bf16/fp16 and gradient checkpointing on a TRL config before its own __post_init__.

    `precision` other than "auto" sets bf16/fp16 outright. Under "auto", a bf16 or fp16 the user
    set wins, and gradient checkpointing is turned off on CPU (set it back after construction
    to force it on). TRL's own default (bf16=True, checkpointing on) costs ~15x on this CPU.
    Checkpointing is transformers' `activation_checkpointing` (`gradient_checkpointing` is its
    deprecated alias); an explicit value of either wins.
    """
    hardware = hardware or detect()
    chosen = choose(config.precision, hardware)
    user_set = config.bf16 is not None or bool(config.fp16)
    if config.precision != "auto" or not user_set:
        config.bf16, config.fp16 = chosen["bf16"], chosen["fp16"]
    if config.activation_checkpointing is None and config.precision == "auto" and hardware.device == "cpu":
        config.activation_checkpointing = config.gradient_checkpointing = False
    if hardware.device == "cpu":
        config.use_cpu = True


def torch_dtype_name(config: Any) -> str:
    """The dtype to load weights in: bf16/fp16 when training in it, else float32."""
    if config.bf16:
        return "bfloat16"
    return "float16" if config.fp16 else "float32"
