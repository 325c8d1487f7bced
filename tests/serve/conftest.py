"""Fixtures for the server tests (see serve_fixtures.py): a module-wide fake-engine server and `serve`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from serve_fixtures import Server, running


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A module-wide server with a FakeEngine and the default test config."""
    with running() as s:
        yield s


@pytest.fixture
def serve() -> Callable:
    """`with serve(engine, config) as s:` starts a server for one test."""
    return running
