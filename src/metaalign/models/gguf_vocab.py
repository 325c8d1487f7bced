"""A Hugging Face byte-level BPE tokenizer as GGUF tokenizer metadata (llama.cpp's key layout).

Owns reading the vocabulary, merges, token kinds and special ids out of a fast tokenizer, and
naming its pre-tokenizer for llama.cpp. It writes nothing and loads no model; the GGUF file
itself is `gguf_export`'s job. SentencePiece vocabularies are refused with a clear error.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaalign.errors import MetaAlignError

log = logging.getLogger("metaalign.export")

# llama.cpp's token kinds (gguf.TokenType), repeated here so this module stays importable without gguf.
NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5
DEFAULT_PRE = "default"


@dataclass(frozen=True)
class GGUFVocab:
    """Everything `tokenizer.ggml.*` holds for one tokenizer."""

    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    pre: str
    special_ids: dict[str, int]  # bos, eos, unk, pad -> id (only those the tokenizer has)
    add_bos: bool
    add_eos: bool


def _merge_text(merge: Any) -> str:
    return merge if isinstance(merge, str) else " ".join(merge)


def gguf_vocab(tokenizer: Any, *, vocab_size: int, pre: str | None = None) -> GGUFVocab:
    """The GGUF vocabulary of a fast byte-level BPE `tokenizer`, padded to the model's `vocab_size`.

    Added tokens that are special become CONTROL, other added tokens USER_DEFINED; ids past the
    tokenizer's own (an embedding padded for speed) become UNUSED `[PAD<id>]` entries, as llama.cpp's
    converter writes them.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise MetaAlignError("GGUF export needs a fast (tokenizers-backed) tokenizer")
    spec = json.loads(backend.to_str())
    model = spec.get("model") or {}
    if model.get("type") != "BPE" or not _is_byte_level(spec):
        kind = model.get("type", "unknown")
        raise MetaAlignError(
            f"GGUF export supports byte-level BPE tokenizers (SmolLM2, Llama 3, Qwen2); this one is {kind}"
        )
    by_id: dict[int, str] = {int(i): t for t, i in model["vocab"].items()}
    kinds: dict[int, int] = {}
    for added in spec.get("added_tokens") or []:
        by_id[int(added["id"])] = added["content"]
        kinds[int(added["id"])] = CONTROL if added.get("special") else USER_DEFINED
    size = max(vocab_size, max(by_id) + 1)
    tokens = [by_id.get(i, f"[PAD{i}]") for i in range(size)]
    types = [kinds.get(i, NORMAL if i in by_id else UNUSED) for i in range(size)]
    return GGUFVocab(
        tokens=tokens,
        token_types=types,
        merges=[_merge_text(m) for m in model.get("merges") or []],
        pre=pre or pre_tokenizer_name(spec),
        special_ids=_special_ids(tokenizer),
        add_bos=_adds(tokenizer, "bos_token_id", first=True),
        add_eos=_adds(tokenizer, "eos_token_id", first=False),
    )


def _is_byte_level(spec: dict[str, Any]) -> bool:
    return '"ByteLevel"' in json.dumps(spec.get("pre_tokenizer")) or '"ByteLevel"' in json.dumps(
        spec.get("decoder")
    )


def _special_ids(tokenizer: Any) -> dict[str, int]:
    ids = {}
    for name in ("bos", "eos", "unk", "pad"):
        token_id = getattr(tokenizer, f"{name}_token_id", None)
        if isinstance(token_id, int):
            ids[name] = token_id
    return ids


def _adds(tokenizer: Any, attribute: str, *, first: bool) -> bool:
    """Whether encoding with special tokens puts this token at the start (or end) of a text."""
    token_id = getattr(tokenizer, attribute, None)
    if token_id is None:
        return False
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    if len(full) == len(plain):
        return False
    return (full[0] if first else full[-1]) == token_id


def pre_tokenizer_name(spec: dict[str, Any]) -> str:
    """llama.cpp's name for the tokenizer's split rule, when transformers knows the regex; else default.

    `tokenizer.ggml.pre` tells llama.cpp how to split text before BPE. transformers keeps a table
    from those names to regexes; the tokenizer's own Split regex is looked up in it.
    """
    regexes = _split_regexes(spec.get("pre_tokenizer"))
    try:
        from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS
    except ImportError:  # an older transformers lays this out differently
        GGUF_PRE_TOKENIZER_SPLITS = {}
    for name, regex in GGUF_PRE_TOKENIZER_SPLITS.items():
        if regex in regexes:
            return name
    return DEFAULT_PRE


def _split_regexes(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = (
            [node["pattern"]["Regex"]]
            if node.get("type") == "Split" and "Regex" in node.get("pattern", {})
            else []
        )
        for child in node.get("pretokenizers") or []:
            found += _split_regexes(child)
        return found
    return []


def source_gguf_pre(gguf: Path | None) -> str | None:
    """`tokenizer.ggml.pre` of the GGUF file a model was first converted from, if it still exists."""
    if gguf is None or not gguf.is_file():
        return None
    from gguf import GGUFReader

    field = GGUFReader(gguf).fields.get("tokenizer.ggml.pre")
    return None if field is None else str(field.contents())
