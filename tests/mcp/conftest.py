"""Fixtures for the MCP server's tests: an emulator, a client bound to it, the MCP server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp_testing import DBT_TOKEN

import mcp
from dbt_runs import AsyncRunsClient
from dbt_runs.expose.mcp import create_server
from dbt_runs.testing import Emulator


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(runs=40, token=DBT_TOKEN)


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[AsyncRunsClient]:
    async with emulator.client() as bound:
        yield bound


@pytest.fixture
async def session(client: AsyncRunsClient) -> AsyncIterator[mcp.Client]:
    """An MCP client connected in-process to the server over the emulator-bound client."""
    async with mcp.Client(create_server(client), raise_exceptions=True) as connected:
        yield connected
