"""Dataset statistics, checked against counts worked out by hand."""

from __future__ import annotations

import pytest

from metaalign.records.schema import PreferenceRecord, SFTRecord
from metaalign.records.stats import compute_stats, format_stats


@pytest.fixture
def records(sft_row, pref_row):
    no_conflict = {"conflict": False}
    rows = [
        (SFTRecord, sft_row(id="a", subset="helpful", metadata={"preference": "Bullet lists"})),
        (SFTRecord, sft_row(id="b", subset="helpful", metadata={"preference": "  bullet LISTS "})),
        (
            SFTRecord,
            sft_row(id="c", subset="consensus", system_info="  ", user_info=None, metadata=no_conflict),
        ),
        (PreferenceRecord, pref_row(id="d")),  # priority, conflict, system wins
        (
            PreferenceRecord,
            pref_row(id="e", metadata={"conflict": True, "winner": "user", "preference": "Caps"}),
        ),
    ]
    return [model.model_validate(row) for model, row in rows]


def test_counts(records):
    stats = compute_stats(records)
    assert stats["total"] == 5
    assert stats["kinds"] == {"sft": 3, "preference": 2}
    assert stats["subsets"] == {
        "priority": 2,
        "helpful": 2,
        "consensus": 1,
        "diverse_opinion": 0,
        "custom": 0,
    }
    # Preferences: "Bullet lists" twice (case and spaces differ), "Safety first", "Caps"; c has none.
    # System Info: cooking (a, b), blank (c, not counted), safety (d, e). User Info: bullets, locksmith.
    assert stats["distinct"] == {"preferences": 3, "system_info": 2, "user_info": 2}
    assert stats["conflicts"] == {"count": 2, "share": 0.4}
    assert stats["winners"] == {"system": 1, "user": 1}
    assert stats["tokens"] is None


def test_token_lengths_use_nearest_rank_percentiles(records):
    lengths = dict(zip("abcde", [40, 10, 30, 20, 100], strict=True))
    tokens = compute_stats(records, lambda r: lengths[r.id])["tokens"]
    # sorted 10 20 30 40 100: p50 is rank ceil(2.5) = 3, p95 is rank ceil(4.75) = 5
    assert tokens == {"min": 10, "mean": 40.0, "p50": 30, "p95": 100, "max": 100}


def test_twenty_lengths_percentiles(sft_row):
    records = [SFTRecord.model_validate(sft_row(id=str(i))) for i in range(1, 21)]
    tokens = compute_stats(records, lambda r: int(r.id))["tokens"]
    assert tokens == {"min": 1, "mean": 10.5, "p50": 10, "p95": 19, "max": 20}


def test_no_records():
    stats = compute_stats([], lambda r: 1)
    assert (stats["total"], stats["conflicts"], stats["tokens"]) == (0, {"count": 0, "share": 0.0}, None)
    assert format_stats(stats).splitlines()[0].split() == ["records", "0"]
    assert "conflicts                  0      -" in format_stats(stats)


def test_format_stats_table(records):
    text = format_stats(compute_stats(records, lambda r: 7))
    lines = text.splitlines()
    assert lines[0].split() == ["records", "5"]
    assert "  helpful                  2   40.0%" in lines
    assert "conflicts                  2   40.0%" in lines
    assert "  user wins                1   50.0%" in lines
    assert "  System Info texts        2" in lines
    assert lines[-1].split() == ["max", "7"]
    assert all(line == line.rstrip() for line in lines)
