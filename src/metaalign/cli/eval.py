"""`metaalign eval`: placeholder until its issue lands; registers nothing yet."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Adds this command group's parsers to `sub`."""
