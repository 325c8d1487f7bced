"""BuildConfig (recipes, overrides, file:line errors) and the SQLite store (resume, no duplicates)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from metaalign.build import BuildConfig, load_config
from metaalign.build.store import BuildStore
from metaalign.errors import MetaAlignError, RecordError

REPO = Path(__file__).resolve().parents[2]


def test_defaults_and_overrides(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("seed: 3\npolicy:\n  batch_size: 4\n")
    config = load_config(recipe, ["policy.batch_size=8", "formats=[jsonl, parquet]", "judge=false"])
    assert config.seed == 3 and config.policy.batch_size == 8
    assert config.formats == ["jsonl", "parquet"]
    assert load_config(None).candidates == BuildConfig().candidates == 2


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("seed: 1\npolicy:\n  batchsize: 4\n", 3, "policy.batchsize"),
        ("seed: 1\ncandidates: 0\n", 2, "candidates"),
        ("seed: 1\n\npolicy:\n  backend: gpu\n", 4, "policy.backend"),
        ("response_path: rewrite\n", None, None),
    ],
)
def test_bad_recipe_names_file_line_and_field(tmp_path: Path, text: str, line: int | None, field) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(text)
    with pytest.raises(RecordError) as info:
        load_config(recipe)
    assert info.value.source == str(recipe)
    assert info.value.field == field
    if line is not None:
        assert info.value.line == line
        assert str(info.value).startswith(f"{recipe}:{line}: field '{field}'")
    else:
        assert "endpoint.base_url" in str(info.value)


def test_bad_yaml_and_bad_override(tmp_path: Path) -> None:
    recipe = tmp_path / "broken.yaml"
    recipe.write_text("seed: 1\npolicy: [unclosed\n")
    with pytest.raises(RecordError, match=r"broken\.yaml:\d+: valid YAML"):
        load_config(recipe)
    with pytest.raises(MetaAlignError, match="override candidates=many: field 'candidates'"):
        load_config(None, ["candidates=many"])
    with pytest.raises(MetaAlignError, match="'candidates': expected --field value or key=value"):
        load_config(None, ["candidates"])


def test_fingerprint_ignores_plumbing_not_content() -> None:
    base = BuildConfig()
    assert base.fingerprint() == BuildConfig(output_dir="elsewhere", progress=False).fingerprint()
    assert base.fingerprint() != BuildConfig(seed=1).fingerprint()


@pytest.mark.parametrize("name", ["smollm2-135m.yaml", "endpoint.yaml"])
def test_shipped_recipes_load_and_are_headed_by_their_command(name: str, monkeypatch) -> None:
    path = REPO / "recipes" / "build" / name
    config = load_config(path)
    assert path.read_text().splitlines()[0] == f"# metaalign build --config recipes/build/{name}"
    assert config.seed == 0


def _row(i: str) -> dict:
    return {"id": i, "instruction_id": "x", "k": 0, "split": "train", "source": "fake", "text": f"t{i}",
            "prompt_tokens": 1, "completion_tokens": 2, "finish_reason": "stop"}  # fmt: skip


def test_store_insert_or_ignore_and_resume(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with BuildStore(path, "fp") as store:
        store.put_many("candidates", [_row("a"), _row("b")])
        store.put("candidates", {**_row("a"), "text": "changed"})  # a re-run never duplicates or rewrites
        store.fail("responses", "r1", "HTTP 500", 7)
    with BuildStore(path, "fp") as store:
        assert store.count("candidates") == 2
        assert [r["text"] for r in store.rows("candidates")] == ["ta", "tb"]
        assert store.rows("failures")[0]["id"] == "responses:r1"
        store.put("responses", {"id": "r1", "assignment_id": "m", "k": 0, "role": "chosen", "path": "rewrite",
                                "text": "ok", "verified": True, "data": {"x": [1]}})  # fmt: skip
        assert store.count("failures") == 0  # done now: no longer pending
        assert store.rows("responses")[0]["data"] == {"x": [1]}
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_store_refuses_a_different_config(tmp_path: Path) -> None:
    BuildStore(tmp_path / "s.sqlite", "one").close()
    with pytest.raises(MetaAlignError, match=r"different fingerprint.*--fresh"):
        BuildStore(tmp_path / "s.sqlite", "two")


def test_transaction_rolls_back(tmp_path: Path) -> None:
    with BuildStore(tmp_path / "s.sqlite", "fp") as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.put_many("candidates", [_row("a")])
            raise RuntimeError("killed")
        assert store.count("candidates") == 0
