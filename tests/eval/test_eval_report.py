"""Reports render: the JSON parses back, the Markdown table has a row per metric, the PNG exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaalign.errors import MetaAlignError
from metaalign.eval.metrics import Estimate
from metaalign.eval.report import Report, SystemResult, compare, fmt


def _report(names=("base", "tuned")) -> Report:
    systems = [
        SystemResult(
            name,
            f"model-{name}",
            {
                "adherence": Estimate(0.1 * (i + 1), 0.05, 0.2 + 0.1 * i, 100),
                "leakage": Estimate(0.02, 0.0, 0.05, 40),
                "type/all_caps": Estimate(0.5, 0.3, 0.7, 20),
            },
            meta_prompt=name != "base-no-meta",
        )
        for i, name in enumerate(names)
    ]
    return Report("verifiable", systems, {"suite": "verifiable.v1", "split": "verifiable-v1"})


def test_save_writes_json_markdown_and_png(tmp_path: Path) -> None:
    report = _report()
    report.save(tmp_path / "run")
    data = json.loads((tmp_path / "run" / "report.json").read_text())
    assert data["kind"] == "verifiable" and [s["name"] for s in data["systems"]] == ["base", "tuned"]
    md = (tmp_path / "run" / "report.md").read_text()
    assert "| metric | base | tuned |" in md
    assert "| adherence | 0.100 [0.050, 0.200] (n=100) | 0.200 [0.050, 0.300] (n=100) |" in md
    assert "| type/all_caps |" in md and "| leakage |" in md
    png = (tmp_path / "run" / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_a_saved_report_loads_back_equal(tmp_path: Path) -> None:
    report = _report()
    report.save(tmp_path)
    loaded = Report.load(tmp_path)
    assert loaded.to_json() == report.to_json()


def test_compare_joins_runs_and_prefixes_clashing_names(tmp_path: Path) -> None:
    _report(("base", "tuned")).save(tmp_path / "run1")
    _report(("base", "other")).save(tmp_path / "run2")
    joined = compare([tmp_path / "run1", tmp_path / "run2"], tmp_path / "cmp")
    assert [s.name for s in joined.systems] == ["run1/base", "tuned", "run2/base", "other"]
    md = (tmp_path / "cmp" / "report.md").read_text()
    assert "| metric | run1/base | tuned | run2/base | other |" in md
    assert (tmp_path / "cmp" / "report.png").exists()


def test_missing_metrics_render_as_a_dash() -> None:
    assert fmt(None) == "-"


def test_loading_something_that_is_not_a_report_says_so(tmp_path: Path) -> None:
    with pytest.raises(MetaAlignError, match="no eval report there"):
        Report.load(tmp_path)
    (tmp_path / "report.json").write_text("[]")
    with pytest.raises(MetaAlignError, match="not an eval report"):
        Report.load(tmp_path)
