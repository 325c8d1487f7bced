"""Writing a loaded Hugging Face causal LM as one GGUF file, for llama.cpp, Ollama and LM Studio.

Owns the architecture table (Llama, Qwen2), the tensor renaming and llama.cpp's q/k row order,
the f32 / f16 / q8_0 encodings, the config keys, and the crash-safe write (a hidden temporary file
beside the output, renamed into place). Where the model comes from is the caller's business
(`metaalign.train.merge_export`); the tokenizer metadata is `gguf_vocab`'s, the template `render`'s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError
from metaalign.models.gguf_vocab import GGUFVocab

log = logging.getLogger("metaalign.export")

DTYPES = ("f32", "f16", "q8_0")
Q8_BLOCK = 32  # q8_0 quantizes rows in blocks of 32 values


class UnsupportedModelError(MetaAlignError):
    """The model's architecture (or a feature of it) has no GGUF mapping here."""


@dataclass(frozen=True)
class ArchSpec:
    """How one transformers `model_type` is written: its GGUF architecture and q/k row order."""

    gguf_arch: str  # general.architecture, also the prefix of the model's config keys
    permute_qk: bool  # llama.cpp's Llama graph wants q/k rows in interleaved rotary order


ARCHITECTURES: dict[str, ArchSpec] = {
    "llama": ArchSpec("llama", permute_qk=True),
    "qwen2": ArchSpec("qwen2", permute_qk=False),  # NeoX-style rotary: rows stay in order
}


def arch_spec(config: Any) -> ArchSpec:
    """The spec for `config.model_type`, or an error naming it and the supported ones."""
    model_type = getattr(config, "model_type", None)
    spec = ARCHITECTURES.get(str(model_type))
    supported = ", ".join(sorted(ARCHITECTURES))
    if spec is None:
        raise UnsupportedModelError(
            f"GGUF export: architecture '{model_type}' is not supported (supported: {supported})"
        )
    rope = _rope_parameters(config)
    if rope.get("rope_type", "default") != "default":
        raise UnsupportedModelError(
            f"GGUF export: rope_type '{rope['rope_type']}' of this {model_type} model is not supported "
            "(supported: default)"
        )
    for flag in ("attention_bias", "mlp_bias"):
        if model_type == "llama" and getattr(config, flag, False):
            raise UnsupportedModelError(f"GGUF export: a llama model with {flag}=true is not supported")
    return spec


def _rope_parameters(config: Any) -> dict[str, Any]:
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    return dict(rope)


def rope_theta(config: Any) -> float:
    return float(_rope_parameters(config).get("rope_theta") or getattr(config, "rope_theta", 10000.0))


def head_dim(config: Any) -> int:
    return int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)


def permute_qk(weight: Any, n_head: int) -> Any:
    """llama.cpp's row order for a q or k projection: each head's two rotary halves interleaved.

    transformers rotates (first half, second half) of a head; llama.cpp's Llama graph rotates
    adjacent pairs, so its converter reorders rows; transformers' GGUF loader undoes exactly this.
    """
    half = weight.shape[0] // n_head // 2
    return weight.reshape(n_head, 2, half, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def tensor_kind(name: str, shape: tuple[int, ...], dtype: str) -> str:
    """The GGUF type of one tensor: 1-D tensors (norms, biases) stay f32, as llama.cpp writes them;
    q8_0 falls back to f16 for a matrix whose rows do not split into blocks of 32."""
    if dtype == "f32" or len(shape) == 1:
        return "F32"
    if dtype == "q8_0" and shape[-1] % Q8_BLOCK == 0:
        return "Q8_0"
    return "F16"


def gguf_tensors(state_dict: dict[str, Any], config: Any, spec: ArchSpec) -> Iterator[tuple[str, Any]]:
    """(GGUF name, float32 numpy array) for each weight, renamed and with q/k rows reordered."""
    import gguf

    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == spec.gguf_arch)
    names = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, tensor in state_dict.items():
        if hf_name == "lm_head.weight" and tied:
            continue  # no output.weight: a GGUF reader ties the head to token_embd
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise UnsupportedModelError(f"GGUF export: no GGUF name for tensor '{hf_name}'")
        array = tensor.detach().float().cpu().numpy()
        if spec.permute_qk and name.endswith(("attn_q.weight", "attn_k.weight")):
            heads = config.num_attention_heads if "attn_q" in name else config.num_key_value_heads
            array = permute_qk(array, heads)
        yield name, array


def _add_config(writer: Any, config: Any, name: str, dtype: str) -> None:
    import gguf

    file_types = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16}
    file_types["q8_0"] = gguf.LlamaFileType.MOSTLY_Q8_0
    writer.add_name(name)
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(int(config.num_hidden_layers))
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(int(config.num_attention_heads))
    writer.add_head_count_kv(int(getattr(config, "num_key_value_heads", config.num_attention_heads)))
    writer.add_rope_dimension_count(head_dim(config))
    writer.add_rope_freq_base(rope_theta(config))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(int(config.vocab_size))
    writer.add_file_type(int(file_types[dtype]))
    if dtype == "q8_0":
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _add_vocab(writer: Any, vocab: GGUFVocab, chat_template: str) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    writer.add_token_merges(vocab.merges)
    adders = {
        "bos": writer.add_bos_token_id,
        "eos": writer.add_eos_token_id,
        "unk": writer.add_unk_token_id,
        "pad": writer.add_pad_token_id,
    }
    for key, token_id in vocab.special_ids.items():
        adders[key](token_id)
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_add_eos_token(vocab.add_eos)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(chat_template)


def _encode(array: Any, kind: str) -> tuple[Any, Any]:
    import gguf
    import numpy as np

    if kind == "F32":
        return array.astype(np.float32), None
    if kind == "F16":
        return array.astype(np.float16), None
    quant = gguf.GGMLQuantizationType.Q8_0
    return gguf.quants.quantize(array.astype(np.float32), quant), quant


def write_gguf(
    model: Any,
    vocab: GGUFVocab,
    chat_template: str,
    out: Path,
    *,
    dtype: str = "f16",
    name: str = "metaalign",
    force: bool = False,
) -> Path:
    """Write `model` (a transformers causal LM) with `vocab` and `chat_template` to the GGUF file `out`.

    The file is written under a hidden temporary name in the same folder and renamed into place
    when complete, so `out` is never partial; an existing `out` is replaced only with `force`.
    """
    if dtype not in DTYPES:
        raise MetaAlignError(f"GGUF export: dtype '{dtype}': expected one of {', '.join(DTYPES)}")
    check_output(out, force=force)
    config = model.config
    spec = arch_spec(config)
    import gguf

    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with _temporary_beside(out) as tmp:
        writer = gguf.GGUFWriter(tmp, spec.gguf_arch)
        _add_config(writer, config, name, dtype)
        _add_vocab(writer, vocab, chat_template)
        for tensor_name, array in gguf_tensors(model.state_dict(), config, spec):
            data, raw = _encode(array, tensor_kind(tensor_name, array.shape, dtype))
            writer.add_tensor(tensor_name, data, raw_dtype=raw)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.chmod(0o644)
        if out.exists() and not force:  # appeared while we were writing
            raise MetaAlignError(f"{out}: exists; pass --force to replace it")
        os.replace(tmp, out)
    seconds = time.perf_counter() - start
    log.warning("wrote %s (%s, %.1f MB) in %.1f s", out, dtype, out.stat().st_size / 1e6, seconds)
    return out


def check_output(out: Path, *, force: bool) -> None:
    """Refuse early (before loading a model) an output that exists, unless `force`, or is a folder."""
    if out.is_dir():
        raise MetaAlignError(f"{out}: is a folder; --out takes a file name ending in .gguf")
    if out.exists() and not force:
        raise MetaAlignError(f"{out}: exists; pass --force to replace it")


@contextlib.contextmanager
def _temporary_beside(out: Path) -> Iterator[Path]:
    """A hidden temporary path in `out`'s folder, removed if the block fails or is interrupted."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.tmp-", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)
