"""GGUF export on tiny random models: exact round trip through transformers' GGUF reader, bad input.

The tiny Llama and Qwen2 models carry the offline stand-in tokenizers of their families, so the
vocabulary, merges, special tokens and chat template round trip is checked token for token here;
the embedded model's round trip (and f16/q8_0 tolerances) is tests/train/test_merge_export_gguf.py.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.tokenizers import make_tokenizer
from metaalign.errors import MetaAlignError
from metaalign.models.gguf_export import UnsupportedModelError, arch_spec, permute_qk, tensor_kind
from metaalign.render import Renderer
from metaalign.train.merge_export import export_gguf

torch = pytest.importorskip("torch")
pytest.importorskip("gguf")

SI, UI = "Prioritize safety.", "I am a zookeeper who cares about <|im_end|> animal welfare."
DIALOGUE = [
    {"role": "user", "content": "Should animal testing be banned?"},
    {"role": "assistant", "content": "It is a hard question."},
    {"role": "user", "content": "Why, in 2 words?"},
]


def tiny_folder(tmp_path: Path, model_type: str, family: str) -> Path:
    """A tiny random `model_type` model with `family`'s stand-in tokenizer, saved as a model folder."""
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = make_tokenizer(family)
    config = AutoConfig.for_model(
        model_type,
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=model_type == "qwen2",
        **({} if model_type != "gpt2" else {"n_embd": 64, "n_layer": 2, "n_head": 4}),
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    folder = tmp_path / f"{model_type}-{family}"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def load_back(gguf: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    return model, AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


@pytest.mark.parametrize(
    ("model_type", "family"), [("llama", "smollm2"), ("llama", "llama3"), ("qwen2", "qwen2")]
)
def test_f32_round_trip_is_exact_and_tokenizes_token_for_token(
    tmp_path: Path, model_type: str, family: str
) -> None:
    from transformers import AutoModelForCausalLM

    folder = tiny_folder(tmp_path, model_type, family)
    out = export_gguf(str(folder), tmp_path / "out" / "tiny.gguf", dtype="f32")
    source = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    loaded, tokenizer = load_back(out)
    original = make_tokenizer(family)

    text = Renderer(original).text(SI, UI, DIALOGUE, add_generation_prompt=True)
    ids = original(text, add_special_tokens=False)["input_ids"]
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == ids
    assert Renderer(tokenizer).text(SI, UI, DIALOGUE, add_generation_prompt=True) == text
    with torch.no_grad():
        batch = torch.tensor([ids])
        assert torch.equal(loaded(batch).logits, source(batch).logits)


def test_q_and_k_rows_are_what_transformers_reader_undoes() -> None:
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    weight = torch.arange(12 * 5, dtype=torch.float32).reshape(12, 5).numpy()
    reader = LlamaTensorProcessor(config={"num_attention_heads": 3, "num_key_value_heads": 3})
    permuted = permute_qk(weight, 3)
    assert not (permuted == weight).all()
    assert (reader._reverse_permute_weights(permuted, 3, 3) == weight).all()


@pytest.mark.parametrize(
    ("shape", "dtype", "kind"),
    [((64,), "q8_0", "F32"), ((64, 64), "f32", "F32"), ((64, 64), "f16", "F16"), ((8, 64), "q8_0", "Q8_0"),
     ((8, 48), "q8_0", "F16")],
)  # fmt: skip
def test_tensor_types(shape: tuple[int, ...], dtype: str, kind: str) -> None:
    assert tensor_kind("blk.0.attn_q.weight", shape, dtype) == kind


def test_an_unsupported_architecture_is_named_with_the_supported_ones(tmp_path: Path) -> None:
    folder = tiny_folder(tmp_path, "gpt2", "smollm2")
    expected = r"architecture 'gpt2' is not supported \(supported: llama, qwen2\)"
    with pytest.raises(UnsupportedModelError, match=expected):
        export_gguf(str(folder), tmp_path / "gpt2.gguf")
    assert list(tmp_path.glob("*.gguf*")) == []


def test_llama_with_rope_scaling_is_refused() -> None:
    config = SimpleNamespace(model_type="llama", rope_parameters={"rope_type": "llama3", "rope_theta": 5e5})
    with pytest.raises(UnsupportedModelError, match="rope_type 'llama3'"):
        arch_spec(config)


def test_existing_output_needs_force_and_is_replaced_whole(tmp_path: Path) -> None:
    folder = tiny_folder(tmp_path, "llama", "smollm2")
    out = tmp_path / "model.gguf"
    out.write_bytes(b"keep me")
    with pytest.raises(MetaAlignError, match=r"model.gguf: exists; pass --force"):
        export_gguf(str(folder), out)
    assert out.read_bytes() == b"keep me"
    export_gguf(str(folder), out, dtype="q8_0", force=True)
    assert out.read_bytes()[:4] == b"GGUF"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failure_while_writing_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gguf

    folder = tiny_folder(tmp_path, "llama", "smollm2")
    out = tmp_path / "out" / "model.gguf"
    written: list[int] = []

    def disk_full(self, **kwargs):  # the header and metadata are on disk by now
        written.append(Path(self.path).stat().st_size)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", disk_full)
    with pytest.raises(OSError, match="No space left"):
        export_gguf(str(folder), out, dtype="f16")
    assert written and written[0] > 0  # a partial file did exist
    assert list(out.parent.iterdir()) == []
