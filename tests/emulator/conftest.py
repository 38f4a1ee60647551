"""Fixtures for the emulator's own tests: an emulator and a plain httpx client, no SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from emulator_support import HEADERS

from dbt_runs.testing import Emulator


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(runs=300, seed=7)


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator.test", headers=HEADERS
    ) as client:
        yield client
