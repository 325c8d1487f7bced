"""Model references and loading: aliases, local folders, GGUF files and hub ids.

Re-exports the public API. `resolve` and `list_models` are torch-free; `ensure_local`,
`load_tokenizer` and `load_model` (loading.py) import torch/transformers only when called.
"""

from metaalign.models.convert import (
    Converter,
    convert_atomically,
    convert_gguf,
    ensure_local,
    hub_local_files_only,
)
from metaalign.models.loading import Pretrained, load_model, load_tokenizer, locate_pretrained
from metaalign.models.resolver import (
    DEFAULT_MODEL,
    Alias,
    ModelInfo,
    ModelSource,
    list_models,
    load_aliases,
    metaalign_home,
    resolve,
)

__all__ = [
    "DEFAULT_MODEL",
    "Alias",
    "Converter",
    "ModelInfo",
    "ModelSource",
    "Pretrained",
    "convert_atomically",
    "convert_gguf",
    "ensure_local",
    "hub_local_files_only",
    "list_models",
    "load_aliases",
    "load_model",
    "load_tokenizer",
    "locate_pretrained",
    "metaalign_home",
    "resolve",
]
