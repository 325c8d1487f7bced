"""Engine weight precision on a tiny random Llama: per-channel int8 decoder linears, fp32 head, bf16 cast."""

from __future__ import annotations

import pytest
import torch

from metaalign.engine.precision import DTYPES, apply_dtype, check_dtype, cpu_flags


def tiny_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, tie_word_embeddings=True,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def test_int8_quantizes_decoder_linears_per_channel_and_keeps_the_head() -> None:
    model = tiny_model()
    ids = torch.tensor([[1, 5, 9, 11, 3]])
    with torch.inference_mode():
        reference = model(ids).logits
    quantized = apply_dtype(model, "int8")
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    projections = [m for name, m in quantized.named_modules() if name.endswith(("q_proj", "down_proj"))]
    assert len(projections) == 4 and all(isinstance(m, DynamicInt8Linear) for m in projections)
    q_proj = quantized.model.layers[0].self_attn.q_proj
    assert q_proj.weight().qscheme() == torch.per_channel_affine  # one scale per output channel
    assert isinstance(quantized.get_output_embeddings(), torch.nn.Linear)  # the head stays fp32
    with torch.inference_mode():
        logits = quantized(ids).logits
    assert logits.dtype == torch.float32
    assert torch.allclose(logits, reference, atol=0.05) and not torch.equal(logits, reference)


def test_bf16_casts_and_fp32_keeps_the_model() -> None:
    model = tiny_model()
    assert apply_dtype(model, "fp32") is model
    assert next(apply_dtype(model, "bf16").parameters()).dtype == torch.bfloat16


def test_an_unknown_dtype_names_the_choices() -> None:
    assert check_dtype("bf16") == "bf16" and DTYPES == ("fp32", "bf16", "int8")
    with pytest.raises(ValueError, match="expected one of fp32, bf16, int8, got 'fp16'"):
        check_dtype("fp16")


def test_cpu_flags_read_proc_cpuinfo() -> None:
    flags = cpu_flags()
    assert isinstance(flags, set) and (not flags or "fpu" in flags)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"avx512f", "avx512_bf16"}, "bf16"),
        ({"amx_bf16"}, "bf16"),
        ({"avx512f", "avx2"}, "fp32"),
        (set(), "fp32"),
    ],
)
def test_serving_dtype_is_bf16_only_where_the_cpu_multiplies_bf16(monkeypatch, flags, expected) -> None:
    import metaalign.engine.precision as precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
    assert precision.serving_dtype() == expected
