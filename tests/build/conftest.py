"""Fixtures of the build tests: a toy config over the small data files in tests/build/data."""

from __future__ import annotations

from pathlib import Path

import pytest
from build_toy import toy_values

from metaalign.build import BuildConfig, load_config


@pytest.fixture
def toy_config(tmp_path: Path) -> BuildConfig:
    return load_config(None, values=toy_values(tmp_path / "out"))
