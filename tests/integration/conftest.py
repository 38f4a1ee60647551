"""The client against the emulator: in-process (ASGI) and over loopback HTTP.

Both clients take their clock and sleep from the emulator's `ManualClock`, so polling and
back-off advance emulated time instead of waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from dbt_runs import AsyncRunsClient
from dbt_runs.testing import Emulator, ManualClock

TOKEN = "dbtc_integration_token_never_logged"


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(token=TOKEN, runs=250)


def clock_kwargs(emulator: Emulator) -> dict[str, Any]:
    clock = emulator.clock
    assert isinstance(clock, ManualClock)
    return {
        "clock": clock.now,
        "sleep": clock.sleep,
        "wall_clock": lambda: datetime.fromtimestamp(clock.now(), UTC),
    }


@pytest.fixture(params=["in-process", "loopback"])
async def make_client(
    request: pytest.FixtureRequest, emulator: Emulator
) -> AsyncIterator[Callable[..., AsyncRunsClient]]:
    """Build clients for the emulator, in-process or over a real loopback socket."""
    made: list[AsyncRunsClient] = []
    if request.param == "in-process":

        def build(**kwargs: Any) -> AsyncRunsClient:
            client = emulator.client(**{**clock_kwargs(emulator), **kwargs})
            made.append(client)
            return client

        yield build
    else:
        async with emulator.serve() as server:

            def build(**kwargs: Any) -> AsyncRunsClient:
                options = {
                    "token": TOKEN,
                    "base_url": server.base_url,
                    "account_id": emulator.account_id,
                    **clock_kwargs(emulator),
                    **kwargs,
                }
                client = AsyncRunsClient(**options)
                made.append(client)
                return client

            yield build
            for client in made:
                await client.aclose()
            made.clear()
    for client in made:
        await client.aclose()
