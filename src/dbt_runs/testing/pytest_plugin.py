"""pytest fixtures for testing against the dbt Cloud emulator.

Installed with dbt-runs as a `pytest11` plugin, so the fixtures are available in any test
suite once dbt-runs is installed. This module imports nothing heavy at import time: pytest
loads it in every run, including environments without the `server` extra, and the emulator
(starlette, uvicorn) is imported only when a fixture is used.

Fixtures:

- `dbt_emulator`: an `Emulator` on a `ManualClock` (200 seeded runs). Configure it per test
  with the `dbt_emulator` marker, whose keyword arguments go to `Emulator(...)`:
  `@pytest.mark.dbt_emulator(runs=0, token="secret")`.
- `dbt_client`: an `AsyncRunsClient` bound in-process to `dbt_emulator` (async fixture, run by
  anyio's pytest plugin). Its sleeps advance the manual clock, so `wait_for_run` is instant.
- `dbt_emulator_server`: `dbt_emulator` served by uvicorn on 127.0.0.1 (ephemeral port) from a
  background thread; its `base_url` works from async tests, sync tests and subprocesses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient
    from dbt_runs.testing import Emulator, EmulatorServer

#: Seeded runs in the `dbt_emulator` fixture unless its marker says otherwise.
DEFAULT_FIXTURE_RUNS = 200


def pytest_configure(config: pytest.Config) -> None:
    """Register the `dbt_emulator` marker (suites run with `--strict-markers`)."""
    config.addinivalue_line(
        "markers",
        "dbt_emulator(**kwargs): keyword arguments for the dbt_emulator fixture's Emulator(...)",
    )


@pytest.fixture
def dbt_emulator(request: pytest.FixtureRequest) -> Emulator:
    """A fresh dbt Cloud emulator with a `ManualClock` (`emulator.clock.advance(seconds)`)."""
    from dbt_runs.testing import Emulator

    kwargs: dict[str, Any] = {"runs": DEFAULT_FIXTURE_RUNS}
    for marker in reversed(list(request.node.iter_markers("dbt_emulator"))):
        kwargs.update(marker.kwargs)
    return Emulator(**kwargs)


@pytest.fixture
async def dbt_client(dbt_emulator: Emulator, anyio_backend: Any) -> AsyncIterator[AsyncRunsClient]:
    """An `AsyncRunsClient` talking to `dbt_emulator` in-process; closed after the test."""
    client = dbt_emulator.client()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def dbt_emulator_server(dbt_emulator: Emulator) -> Iterator[EmulatorServer]:
    """`dbt_emulator` over loopback HTTP (a background thread); `.base_url` ends in /api/v2."""
    with dbt_emulator.serve_in_thread() as server:
        yield server
