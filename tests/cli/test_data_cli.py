"""`metaalign data validate | stats | import`, run in-process, with their outputs and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from metaalign.cli import data as data_cmd
from metaalign.cli.main import main
from metaalign.records import read_records
from metaalign.records.schema import KINDS, SUBSETS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def sft(id_: str, **fields):
    row = {
        "id": id_,
        "subset": "helpful",
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
    }
    row.update(fields)
    return row


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture
def bad_file(tmp_path):
    rows = [sft("a"), sft("b", subset="x"), "{", sft("a"), sft("c"), sft("d", messages=[]), sft("e", id=5)]
    return write_jsonl(tmp_path / "bad.jsonl", rows)


@pytest.mark.parametrize(("name", "count"), [("sft.jsonl", 6), ("prefs.jsonl", 6)])
def test_example_files_validate(capsys, name, count):
    path = EXAMPLES / name
    assert main(["data", "validate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: {count} records OK\n"


def test_examples_cover_every_subset_and_a_system_win():
    records = read_records(EXAMPLES / "sft.jsonl").records + read_records(EXAMPLES / "prefs.jsonl").records
    assert {r.subset for r in records} >= {"priority", "helpful", "consensus", "diverse_opinion"}
    wins = [r for r in records if r.metadata.conflict and r.metadata.winner == "system"]
    assert wins and all(r.system_info and r.user_info for r in wins)


def test_validate_stops_at_the_first_bad_record_with_exit_2(capsys, bad_file):
    assert main(["data", "validate", str(bad_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"metaalign: error: {bad_file}:2: field 'subset': "
        "'priority', 'helpful', 'consensus', 'diverse_opinion' or 'custom', got 'x'\n"
    )


def test_validate_skip_bad_lists_errors_and_exits_1(capsys, bad_file):
    assert main(["data", "validate", str(bad_file), "--skip-bad", "--max-errors", "2"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{bad_file}: 5 bad records, 2 OK"
    assert lines[1].startswith(f"  {bad_file}:2: field 'subset': ")
    assert lines[2].startswith(f"  {bad_file}:3: valid JSON (")
    assert lines[3:] == ["  ... and 3 more"]


def test_validate_kind_and_file_problems(capsys, tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [sft("a")])
    assert main(["data", "validate", str(path), "--kind", "preference"]) == 2
    assert "a preference record (requested), but this row has no 'chosen' field" in capsys.readouterr().err
    assert main(["data", "validate", str(tmp_path / "missing.jsonl")]) == 2
    assert capsys.readouterr().err == (
        f"metaalign: error: {tmp_path / 'missing.jsonl'}: an existing file or folder (nothing is there)\n"
    )


def test_stats_text_and_json(capsys):
    path = str(EXAMPLES / "prefs.jsonl")
    assert main(["data", "stats", path, "--no-tokens"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["records", "6"]
    assert main(["data", "stats", path, "--json", "--no-tokens"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["total"], stats["kinds"]["preference"], stats["tokens"]) == (6, 6, None)
    assert stats["conflicts"]["count"] == stats["winners"]["system"] + stats["winners"]["user"]


def test_stats_token_lengths_come_from_the_renderer(capsys, monkeypatch):
    from fixtures.tokenizers import make_tokenizer
    from metaalign.records import read_records
    from metaalign.render import Renderer

    seen = []
    monkeypatch.setattr(
        "metaalign.models.load_tokenizer", lambda ref: seen.append(ref) or make_tokenizer("smollm2")
    )
    assert main(["data", "stats", str(EXAMPLES / "sft.jsonl"), "--model", "some-model", "--json"]) == 0
    assert seen == ["some-model"]
    renderer = Renderer(make_tokenizer("smollm2"))
    lengths = [
        len(renderer.tokenize(r.system_info, r.user_info, r.messages).input_ids)
        for r in read_records(EXAMPLES / "sft.jsonl").records
    ]
    tokens = json.loads(capsys.readouterr().out)["tokens"]
    assert (tokens["min"], tokens["max"]) == (min(lengths), max(lengths))


def test_stats_uses_a_token_length_function(capsys, monkeypatch, tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [sft("a"), sft("bbb"), sft("cc")])
    monkeypatch.setattr(data_cmd, "_token_length_fn", lambda ref: lambda record: len(record.id))
    assert main(["data", "stats", str(path), "--model", "m", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == {
        "min": 1,
        "mean": 2.0,
        "p50": 2,
        "p95": 3,
        "max": 3,
    }


def test_stats_skip_bad_reports_on_stderr(capsys, bad_file):
    assert main(["data", "stats", str(bad_file), "--skip-bad", "--json", "--no-tokens"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["total"] == 2
    assert captured.err.splitlines()[0] == f"{bad_file}: left out 5 bad records:"


def test_import_hh_rlhf_to_parquet_then_validate(capsys, tmp_path):
    src = write_jsonl(
        tmp_path / "hh.jsonl",
        [
            {
                "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
                "rejected": "\n\nHuman: Hi\n\nAssistant: Go away.",
            },
            {"chosen": "broken", "rejected": "\n\nHuman: Hi\n\nAssistant: x"},
        ],
    )
    out = tmp_path / "out" / "hh.parquet"
    assert main(["data", "import", "hh-rlhf", str(src), str(out), "--skip-bad", "--subset", "helpful"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{src}: imported 1 preference records into {out}\n"
    assert captured.err.splitlines() == [
        f"{src}: skipped 1 bad rows:",
        f"  {src}:2: field 'chosen': a transcript of '\\n\\nHuman: ...' and '\\n\\nAssistant: ...' turns",
    ]
    assert main(["data", "validate", str(out)]) == 0
    (record,) = read_records(out).records
    assert (record.id, record.subset, record.chosen) == ("hh-1", "helpful", "Hello!")


def test_import_generic_with_map(capsys, tmp_path):
    src = write_jsonl(tmp_path / "qa.jsonl", [{"q": "Hi?", "a": "Hello.", "who": {"persona": "A chef"}}])
    out = tmp_path / "qa_sft.jsonl"
    args = ["data", "import", "generic", str(src), str(out), "--map", "prompt=q", "response=a"]
    assert main([*args, "--map", "user_info=who.persona"]) == 0
    (record,) = read_records(out).records
    assert (record.user_info, record.messages[1].content) == ("A chef", "Hello.")
    assert "imported 1 sft records" in capsys.readouterr().out


def test_import_multifaceted_tier(tmp_path):
    src = write_jsonl(tmp_path / "mf.jsonl", [{"system": "Be terse.", "prompt": "Hi", "output": "Hey"}])
    out = tmp_path / "mf.json"
    assert main(["data", "import", "multifaceted", str(src), str(out), "--tier", "user"]) == 0
    (record,) = read_records(out).records
    assert (record.system_info, record.user_info) == (None, "Be terse.")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--map", "prompt=q"], "metaalign: error: --map applies to the generic format only\n"),
        (["--tier", "user"], "metaalign: error: --tier applies to the multifaceted format only\n"),
    ],
)
def test_import_rejects_options_of_other_formats(capsys, tmp_path, extra, message):
    src = write_jsonl(tmp_path / "x.jsonl", [{"chosen": "a"}])
    assert main(["data", "import", "ultrafeedback", str(src), str(tmp_path / "o.jsonl"), *extra]) == 2
    assert capsys.readouterr().err == message


def test_import_generic_needs_a_map_and_nothing_to_write_is_an_error(capsys, tmp_path):
    src = write_jsonl(tmp_path / "x.jsonl", [{"q": "only a question"}])
    out = tmp_path / "o.jsonl"
    assert main(["data", "import", "generic", str(src), str(out)]) == 2
    assert "generic import needs --map FIELD=COLUMN pairs" in capsys.readouterr().err
    assert (
        main(
            ["data", "import", "generic", str(src), str(out), "--skip-bad", "--map", "prompt=q", "response=a"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith(
        f"metaalign: error: {src}: none of its 1 rows could be imported; first: {src}:1: field 'a'"
    )
    assert not out.exists()


def test_cli_choices_match_the_schema():
    assert data_cmd.KINDS == KINDS
    assert data_cmd.SUBSETS == SUBSETS


def test_cli_module_imports_nothing_heavy():
    heavy = ("torch", "pyarrow", "datasets", "pydantic", "metaalign.records")
    code = f"import sys, metaalign.cli.data; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_os_errors_are_one_clear_line(capsys, tmp_path):
    folder = tmp_path / "records.jsonl"
    folder.mkdir()
    assert main(["data", "validate", str(folder)]) == 2
    assert capsys.readouterr().err == f"metaalign: error: {folder}: Is a directory\n"


def test_import_refuses_to_overwrite_its_source(capsys, tmp_path):
    src = tmp_path / "hh.jsonl"
    src.write_text((EXAMPLES / "import" / "hh-rlhf.jsonl").read_text())
    before = src.read_text()
    assert main(["data", "import", "hh-rlhf", str(src), str(src)]) == 2
    assert "would overwrite the source" in capsys.readouterr().err
    assert src.read_text() == before
