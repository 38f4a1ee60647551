"""Fixtures for the client's unit tests: a fake clock and a client bound to a script."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from dbt_runs import AsyncRunsClient

from .fakes import FakeClock, Handler, close_opened, make_client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client_for(
    clock: FakeClock,
) -> AsyncIterator[Callable[..., AsyncRunsClient]]:
    """Build clients bound to a handler; their httpx clients are closed afterwards."""
    made: list[AsyncRunsClient] = []

    def build(handler: Handler, **kwargs: Any) -> AsyncRunsClient:
        client = make_client(handler, clock, **kwargs)
        made.append(client)
        return client

    yield build
    await close_opened()
