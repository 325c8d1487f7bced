"""The offline build end to end with the fake policy: records, splits, verifiers, resume, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from build_toy import INSTRUCTIONS, LIBRARY, toy_values

from metaalign.build import load_config, run_build
from metaalign.build.candidates import fake_answer
from metaalign.build.respond import already_refuses
from metaalign.build.store import BuildStore
from metaalign.engine import FakeEngine
from metaalign.errors import RecordError
from metaalign.preferences import Check, ExpectedCheck, check, load_library, verify
from metaalign.records import read_records


def _expected(record) -> list[ExpectedCheck]:
    meta = record.metadata.model_extra
    return [ExpectedCheck(Check(c["id"], c["params"]), c["expect"], c["tier"]) for c in meta["checks"]]


def _files(out: Path) -> dict[str, bytes]:
    names = [
        "sft_train.jsonl",
        "dpo_train.jsonl",
        "sft_test.jsonl",
        "dpo_test.jsonl",
        "stats.json",
        "stats.md",
    ]
    return {name: (out / name).read_bytes() for name in names}


def test_offline_build_records_follow_their_meta_prompts(toy_config) -> None:
    result = run_build(toy_config)
    out = Path(toy_config.output_dir)
    sft = read_records(out / "sft_train.jsonl").records
    dpo = read_records(out / "dpo_train.jsonl").records
    # 13 train instructions x 4 meta-prompts; every transform verifies, so none is dropped
    assert len(sft) == 13 * 4 == result.stats["files"]["sft_train"]["total"]
    assert len(dpo) > len(sft)
    for record in sft:
        assert verify(_expected(record), record.messages[-1].content), record.id
    for record in dpo:
        if record.metadata.kind == "safety":  # a refusal against an answer that does not refuse
            assert already_refuses(record.chosen) and not already_refuses(record.rejected), record.id
            continue
        expected = _expected(record)
        assert verify(expected, record.chosen) and not verify(expected, record.rejected), record.id
    losers = [r for r in dpo if r.metadata.model_extra["rejected_kind"] == "loser"]
    assert losers and all(r.metadata.conflict for r in losers)
    for record in losers:  # the rejected answer follows the LOSING tier: it teaches priority
        lost = next(e for e in _expected(record) if not e.expect)
        assert check(lost.check, record.rejected)
    assert {r.metadata.winner for r in dpo if r.metadata.conflict} == {"system", "user"}


def test_leakage_pairs_reject_an_unasked_marked_format_and_leave_sft_alone(tmp_path: Path) -> None:
    run_build(load_config(None, values=toy_values(tmp_path / "a")))
    run_build(load_config(None, values=toy_values(tmp_path / "b", leakage_pairs=True)))
    plain, leaky = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert plain["sft_train.jsonl"] == leaky["sft_train.jsonl"]
    before = read_records(tmp_path / "a" / "dpo_train.jsonl").records
    after = read_records(tmp_path / "b" / "dpo_train.jsonl").records
    leaks = [r for r in after if r.metadata.model_extra["rejected_kind"] == "leak"]
    assert {r.metadata.kind for r in before} & {"none", "neutral"} == set()
    assert leaks and {r.metadata.kind for r in leaks} <= {"none", "neutral"}
    assert sorted(r.id for r in after if r not in leaks) == sorted(r.id for r in before)
    sft = {
        (r.id, r.metadata.model_extra["candidate"]): r.messages[-1].content
        for r in read_records(tmp_path / "b" / "sft_train.jsonl").records
    }
    marked = _marked_checks()
    same = [r for r in leaks if (r.id.rsplit("/c", 1)[0], r.metadata.model_extra["candidate"]) in sft]
    assert same
    for record in same:  # chosen = the SFT target of the same candidate: its raw answer
        assert record.chosen == sft[(record.id.rsplit("/c", 1)[0], record.metadata.model_extra["candidate"])]
    for record in leaks:
        added = [c for c in marked if check(c, record.rejected) and not check(c, record.chosen)]
        assert added, record.id  # the rejected answer shows a marked format the chosen one lacks


def _marked_checks() -> list[Check]:
    from metaalign.preferences import MARKED

    library = load_library(LIBRARY)
    return [p.check for p in library.all if p.check is not None and p.check.id in MARKED]


def test_held_out_instructions_and_phrasings_stay_out_of_training(toy_config) -> None:
    run_build(toy_config)
    out = Path(toy_config.output_dir)
    library = load_library(LIBRARY)
    split_of = {
        json.loads(line)["id"]: json.loads(line)["split"] for line in INSTRUCTIONS.read_text().splitlines()
    }
    for name, split in (
        ("sft_train", "train"),
        ("dpo_train", "train"),
        ("sft_test", "test"),
        ("dpo_test", "test"),
    ):
        records = read_records(out / f"{name}.jsonl").records
        assert records, name
        for record in records:
            meta = record.metadata.model_extra
            assert split_of[meta["instruction_id"]] == split
            for tier in ("system_pref", "user_pref"):
                if meta[tier] is not None:
                    assert library.by_id(meta[tier]["id"]).split == split


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    run_build(load_config(None, values=toy_values(tmp_path / "a", formats=["jsonl", "parquet"])))
    run_build(load_config(None, values=toy_values(tmp_path / "b", formats=["jsonl", "parquet"])))
    run_build(load_config(None, values=toy_values(tmp_path / "c", seed=1)))
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert (tmp_path / "a" / "dpo_train.parquet").read_bytes() == (
        tmp_path / "b" / "dpo_train.parquet"
    ).read_bytes()
    assert _files(tmp_path / "a")["sft_train.jsonl"] != _files(tmp_path / "c")["sft_train.jsonl"]


def test_rerun_resumes_without_new_work_or_duplicates(toy_config) -> None:
    first = FakeEngine(respond=fake_answer)
    run_build(toy_config, engine=first)
    out = Path(toy_config.output_dir)
    before = _files(out)
    with BuildStore(out / "store.sqlite", toy_config.fingerprint()) as store:
        counts = {t: store.count(t) for t in ("candidates", "assignments", "responses")}
    second = FakeEngine(respond=fake_answer)
    run_build(toy_config, engine=second)
    assert second.seen == []  # nothing was generated again
    assert len(first.seen) == 17 * 2
    with BuildStore(out / "store.sqlite", toy_config.fingerprint()) as store:
        assert {t: store.count(t) for t in counts} == counts
    assert _files(out) == before


def test_a_partly_sampled_store_resumes_to_the_same_export(tmp_path: Path) -> None:
    full = load_config(None, values=toy_values(tmp_path / "full"))
    run_build(full)
    part = load_config(None, values=toy_values(tmp_path / "part"))
    with BuildStore(tmp_path / "full" / "store.sqlite", full.fingerprint()) as src:
        # as if killed after two batches of 4 (batches are candidate-major, instructions in id order)
        # plus one row of a third batch that the kill cut short
        kept = {f"tr-{i:02d}/c0" for i in range(1, 10)}
        rows = [r for r in src.rows("candidates") if r["id"] in kept]
    with BuildStore(tmp_path / "part" / "store.sqlite", part.fingerprint()) as dst:
        dst.put_many("candidates", rows)
    engine = FakeEngine(respond=fake_answer)
    run_build(part, engine=engine)
    assert len(engine.seen) == 17 * 2 - 8
    assert _files(tmp_path / "part") == _files(tmp_path / "full")


def test_bad_instruction_file_fails_before_any_work(tmp_path: Path) -> None:
    bad = tmp_path / "instructions.jsonl"
    lines = INSTRUCTIONS.read_text().splitlines()
    bad.write_text("\n".join([*lines[:2], '{"id": "x", "text": ', *lines[2:]]) + "\n")
    config = load_config(None, values=toy_values(tmp_path / "out", instructions=str(bad)))
    with pytest.raises(RecordError) as info:
        run_build(config)
    assert info.value.source == str(bad) and info.value.line == 3
    assert not (tmp_path / "out").exists()


def test_bad_library_fails_before_any_work(tmp_path: Path) -> None:
    bad = tmp_path / "library.yaml"
    text = LIBRARY.read_text().replace(
        "kind: implicit, category: background", "kind: implicit, category: mood", 1
    )
    bad.write_text(text)
    config = load_config(None, values=toy_values(tmp_path / "out", library=str(bad)))
    with pytest.raises(RecordError) as info:
        run_build(config)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "category: mood" in t)
    assert (info.value.source, info.value.line, info.value.field) == (str(bad), line, "category")
    assert not (tmp_path / "out").exists()


def test_stats_cover_subsets_tiers_conflicts_and_verifiers(toy_config) -> None:
    stats = run_build(toy_config).stats
    sft = stats["files"]["sft_train"]
    assert sum(sft["subsets"].values()) == sft["total"]
    assert sum(sft["tier_placement"].values()) == sft["total"]
    assert sft["conflicts"] == sft["subsets"]["priority"] == sum(sft["winners"].values())
    assert sft["distinct_preferences"] >= 8
    verifier = stats["store"]["verifier"]
    assert verifier["unsatisfiable"] == 0 and verifier["verified"] == verifier["responses"]
    md = (Path(toy_config.output_dir) / "stats.md").read_text()
    assert "| sft_train | 52 |" in md


def test_parquet_and_datasets_exports_hold_the_same_records(tmp_path: Path) -> None:
    config = load_config(None, values=toy_values(tmp_path / "out", formats=["parquet", "datasets"]))
    paths = run_build(config).paths
    assert {"dpo_train.jsonl", "dpo_train.parquet", "dpo_train.datasets"} <= set(paths)
    jsonl = read_records(paths["dpo_train.jsonl"]).records
    assert read_records(paths["dpo_train.parquet"]).records == jsonl
    assert read_records(tmp_path / "out" / "hf" / "dpo_train").records == jsonl


def test_harmful_probe_under_a_safety_rule_gets_a_refusal_over_the_raw_answer(tmp_path: Path) -> None:
    from metaalign.build.respond import _refusals

    mix = {f"mix.{k}": 0.0 for k in ("conflict", "agree", "user_only", "background", "none", "open")}
    config = load_config(None, values=toy_values(tmp_path / "out", **mix))
    run_build(config)
    sft = read_records(tmp_path / "out" / "sft_train.jsonl").records
    dpo = read_records(tmp_path / "out" / "dpo_train.jsonl").records
    safety = [r for r in sft if r.metadata.model_extra["kind"] == "safety"]
    # only the probe (tr-13) may get `safety`; the library has 1 safety rule x 2 backgrounds
    assert {r.metadata.model_extra["instruction_id"] for r in safety} == {"tr-13"} and len(safety) == 2
    refusals, _ = _refusals()
    for record in safety:
        assert record.subset == "priority" and record.metadata.conflict and record.metadata.winner == "system"
        assert record.system_info.startswith("Prioritize safety") and record.messages[-1].content in refusals
    pairs = [r for r in dpo if r.metadata.model_extra["kind"] == "safety"]
    assert pairs and all(r.chosen in refusals and r.rejected.startswith("About How do I pick") for r in pairs)
