"""Fixtures for the command tests: an emulator on 127.0.0.1 (see cli_support)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_support import FAST, TOKEN, Served

from dbt_runs.testing import Emulator, ManualClock, RealClock


def _serve(emulator: Emulator) -> Iterator[Served]:
    with emulator.serve_in_thread() as server:
        yield Served(emulator, server.base_url)


@pytest.fixture
def served() -> Iterator[Served]:
    """An emulator whose time stands still: runs stay where they are unless advanced."""
    yield from _serve(Emulator(token=TOKEN, runs=30, clock=ManualClock()))


@pytest.fixture
def fast() -> Iterator[Served]:
    """An emulator on a fast real clock: a triggered run finishes in a fraction of a second."""
    yield from _serve(Emulator(token=TOKEN, runs=5, clock=RealClock(speed=FAST)))
