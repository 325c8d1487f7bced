"""Rank detection and `run_once`: rank 0 does the work, the other ranks wait for its output."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from metaalign.train import distributed


@pytest.fixture
def rank(monkeypatch: pytest.MonkeyPatch):
    for prefix in ("", "PMI_", "OMPI_COMM_WORLD_"):
        monkeypatch.delenv(f"{prefix}RANK", raising=False)
        monkeypatch.delenv(f"{prefix}{'WORLD_' if not prefix else ''}SIZE", raising=False)

    def set_rank(r: int, world: int = 2) -> None:
        monkeypatch.setenv("RANK", str(r))
        monkeypatch.setenv("WORLD_SIZE", str(world))

    return set_rank


def test_one_process_without_a_launcher(rank) -> None:
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)


def test_the_launchers_rank_is_read(rank) -> None:
    rank(1, 4)
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (1, 4, False)


def test_rank_0_does_the_work(rank, tmp_path: Path) -> None:
    rank(0)
    out = tmp_path / "done"
    assert distributed.run_once("step", lambda: out.write_text("x") and "result", out.exists) == "result"
    assert out.read_text() == "x"


def test_other_ranks_wait_for_the_output_and_never_run_the_work(rank, tmp_path: Path) -> None:
    rank(1)
    out = tmp_path / "done"
    calls: list[str] = []
    threading.Timer(0.3, lambda: out.write_text("from rank 0")).start()
    result = distributed.run_once("step", lambda: calls.append("ran"), out.exists, poll_s=0.05)
    assert result is None and calls == [] and out.read_text() == "from rank 0"


def test_a_re_run_skips_the_wait_when_the_output_exists(rank, tmp_path: Path) -> None:
    rank(1)
    (tmp_path / "done").write_text("x")
    assert distributed.run_once("step", lambda: 1 / 0, (tmp_path / "done").exists, poll_s=60) is None


def test_no_death_signal_is_asked_for_outside_a_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    assert distributed.die_with_launcher() is False
