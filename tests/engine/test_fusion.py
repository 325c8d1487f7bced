"""Fused gate/up projections on a tiny random Llama: same MLP output, same logits, LoRA layers left alone."""

from __future__ import annotations

import pytest
import torch

from metaalign.engine.fusion import FusedGatedMLP, fuse_mlps


def tiny_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def test_the_fused_mlp_computes_down_of_act_gate_times_up() -> None:
    mlp = tiny_model().model.layers[0].mlp
    fused = FusedGatedMLP(mlp.gate_proj, mlp.up_proj, mlp.down_proj, mlp.act_fn)
    assert fused.gate_up.weight.shape == (2 * 48, 32)  # gate's 48 rows, then up's 48
    x = torch.randn(2, 5, 32)
    with torch.inference_mode():
        gate, up = x @ mlp.gate_proj.weight.T, x @ mlp.up_proj.weight.T
        by_hand = mlp.down_proj(torch.nn.functional.silu(gate) * up)  # SmolLM2's act_fn is SiLU
        assert torch.allclose(fused(x), by_hand, atol=1e-6)
        assert torch.allclose(fused(x), mlp(x), atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_fused_model_gives_the_same_logits_and_greedy_tokens(dtype) -> None:
    model, reference_model = tiny_model().to(dtype), tiny_model().to(dtype)
    assert fuse_mlps(model) == 3
    assert all(isinstance(layer.mlp, FusedGatedMLP) for layer in model.model.layers)
    assert fuse_mlps(model) == 0  # already fused: nothing left to fuse
    ids = torch.tensor([[1, 5, 9, 11, 3, 7]])
    with torch.inference_mode():
        logits, reference = model(ids).logits, reference_model(ids).logits
        greedy = model.generate(ids, max_new_tokens=8, do_sample=False)
        expected = reference_model.generate(ids, max_new_tokens=8, do_sample=False)
    atol = 1e-5 if dtype == torch.float32 else 0.05
    assert torch.allclose(logits.float(), reference.float(), atol=atol)
    assert torch.equal(greedy, expected)


def test_lora_wrapped_or_biased_projections_are_left_alone() -> None:
    from peft import LoraConfig, get_peft_model

    model = tiny_model()
    get_peft_model(model, LoraConfig(r=2, target_modules=["gate_proj"]))  # wraps model's layers in place
    assert fuse_mlps(model) == 0  # every gate_proj is a LoRA layer, not a plain nn.Linear
    plain = tiny_model()
    layer = plain.model.layers[1].mlp
    layer.up_proj = torch.nn.Linear(32, 48, bias=True)
    assert fuse_mlps(plain) == 2  # the biased layer keeps its own projections
    assert not isinstance(plain.model.layers[1].mlp, FusedGatedMLP)
