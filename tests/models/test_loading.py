"""What `from_pretrained` is given for a reference (resolved once), the dtype rule, load errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaalign.errors import MetaAlignError, ModelNotFoundError
from metaalign.models.loading import Pretrained, dtype_name, load_tokenizer, locate_pretrained


def test_a_local_folder_loads_from_itself_and_never_from_the_hub(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    target = locate_pretrained(str(tmp_path))
    assert (target.location, target.kwargs) == (str(tmp_path), {"local_files_only": True})
    assert locate_pretrained(target) is target  # resolved once: a Pretrained passes through


def test_a_reference_is_resolved_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from metaalign.models import convert, loading

    calls: list[str] = []
    for module in (convert, loading):
        real = module.resolve
        monkeypatch.setattr(module, "resolve", lambda ref, real=real: calls.append(ref) or real(ref))
    (tmp_path / "config.json").write_text("{}")
    locate_pretrained(str(tmp_path))
    assert calls == [str(tmp_path)]


@pytest.mark.parametrize(
    ("allow", "offline", "local_only"), [(False, "", True), (True, "1", True), (True, "", False)]
)
def test_a_hub_id_stays_an_id_and_downloads_only_when_allowed_and_online(
    monkeypatch: pytest.MonkeyPatch, allow: bool, offline: str, local_only: bool
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", offline)
    target = locate_pretrained("metaalign-tests/some-model", allow_download=allow)
    assert (target.location, target.local_files_only) == ("metaalign-tests/some-model", local_only)
    assert target.source.kind == "hub"


def test_a_folder_transformers_cannot_read_names_the_reference(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")  # no tokenizer files in it
    target = locate_pretrained(str(tmp_path))
    assert isinstance(target, Pretrained)
    err = target.error(OSError("no tokenizer.json\nmore detail"))
    assert isinstance(err, ModelNotFoundError)
    assert str(err) == f"model '{tmp_path}': cannot load from {tmp_path}: no tokenizer.json"


def test_load_tokenizer_of_an_empty_folder_is_a_model_error(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    with pytest.raises(MetaAlignError):
        load_tokenizer(str(tmp_path))


@pytest.mark.parametrize(
    ("dtype", "device", "bf16", "expected"),
    [
        (None, "cpu", False, "float32"),
        (None, "cpu", True, "float32"),
        (None, "cuda", True, "bfloat16"),
        (None, "cuda:1", False, "float16"),
        ("bf16", "cpu", False, "bfloat16"),
        ("FP32", "cuda", True, "float32"),
        ("half", "cuda", True, "float16"),
    ],
)
def test_dtype_rule(dtype: str | None, device: str, bf16: bool, expected: str) -> None:
    assert dtype_name(dtype, device, bf16_supported=bf16) == expected


def test_unknown_dtype_is_a_user_error() -> None:
    with pytest.raises(MetaAlignError, match="dtype 'int8': expected one of float32"):
        dtype_name("int8", "cpu")
