"""Running `dbt-runs serve` for tests, in this event loop on real loopback sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from dbt_runs.cli.serve import Running, Settings, serve_async

BOUNDED = 30.0
"""Seconds any wait may take before a test fails (never reached when things work)."""


def settings(**overrides: Any) -> Settings:
    """Serve settings for tests: loopback, ephemeral ports, REST only, the emulator upstream."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "rest_port": 0,
        "mcp_port": 0,
        "rest": True,
        "mcp": False,
        "stdio": False,
        "emulator": True,
        "emulator_speed": 10.0,
        "read_only": False,
        "server_token": None,
        "log_level": "warning",
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def serving(**overrides: Any) -> AsyncIterator[Running]:
    """`serve_async` in this event loop; yields once every server listens."""
    ready: list[Running] = []
    started = anyio.Event()

    def on_ready(running: Running) -> None:
        ready.append(running)
        started.set()

    async with anyio.create_task_group() as group:
        group.start_soon(serve_async, settings(**overrides), on_ready)
        with anyio.fail_after(BOUNDED):
            await started.wait()
        try:
            yield ready[0]
        finally:
            ready[0].stop()
