"""Fused projections for inference: one matmul for a gated MLP's gate and up projections.

Owns swapping each decoder MLP of a Llama-style model (SmolLM2, Qwen2: `gate_proj`, `up_proj`,
`down_proj`, `act_fn`) for an equivalent module that multiplies once by the two stacked weights,
which halves that step's matmul calls and reads the input once. MLPs that are not plain bias-free
`nn.Linear` layers (LoRA-wrapped, quantized) are left as they are. It does not change precision
(precision.py) or decode; benchmarks/fused_mlp.py measures it against the unfused model.
"""

from __future__ import annotations

from typing import Any

import torch


class FusedGatedMLP(torch.nn.Module):
    """`down(act(gate(x)) * up(x))` with gate and up computed by one `nn.Linear`."""

    def __init__(self, gate: torch.nn.Linear, up: torch.nn.Linear, down: torch.nn.Module, act: Any) -> None:
        super().__init__()
        weight = torch.cat([gate.weight.detach(), up.weight.detach()], dim=0)
        self.gate_up = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False,
                                       device=weight.device, dtype=weight.dtype)  # fmt: skip
        self.gate_up.weight = torch.nn.Parameter(weight, requires_grad=False)
        self.down_proj = down
        self.act_fn = act
        self.intermediate = gate.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).split(self.intermediate, dim=-1)
        return self.down_proj(self.act_fn(gate) * up)


def _fusable(mlp: Any) -> bool:
    parts = [getattr(mlp, name, None) for name in ("gate_proj", "up_proj", "down_proj")]
    plain = all(type(p) is torch.nn.Linear and p.bias is None for p in parts[:2])
    return plain and parts[2] is not None and hasattr(mlp, "act_fn")


def fuse_mlps(model: Any) -> int:
    """Fuses every fusable decoder MLP of `model` in place; returns how many were fused."""
    fused = 0
    for layer in getattr(getattr(model, "model", None), "layers", None) or []:
        mlp = getattr(layer, "mlp", None)
        if mlp is not None and _fusable(mlp):
            layer.mlp = FusedGatedMLP(mlp.gate_proj, mlp.up_proj, mlp.down_proj, mlp.act_fn)
            fused += 1
    return fused
