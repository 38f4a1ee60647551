"""Running `dbt-runs serve` for tests: in this event loop (real sockets) or as a subprocess."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO, Any

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


class ServeProcess:
    """`python -m dbt_runs serve ARGS` in a subprocess; its stdout and stderr read as they come.

    Use it as a context manager: on the way out a process still running is killed.
    """

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dbt_runs", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "PYTHONUNBUFFERED": "1"},
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._stderr_lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.process.stdout, None), daemon=True),
            threading.Thread(
                target=self._pump, args=(self.process.stderr, self._stderr_lines), daemon=True
            ),
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self, stream: IO[str], lines: queue.Queue[str] | None) -> None:
        kept = self.stderr if lines is not None else self.stdout
        for line in stream:
            kept.append(line)
            if lines is not None:
                lines.put(line)

    def wait_for(self, pattern: str) -> re.Match[str]:
        """The first stderr line (from now on) matching `pattern`; fails after `BOUNDED` s."""
        deadline = time.monotonic() + BOUNDED
        while True:
            line = self._stderr_lines.get(timeout=max(0.0, deadline - time.monotonic()))
            found = re.search(pattern, line)
            if found is not None:
                return found

    def stop(self) -> int:
        """SIGTERM, then wait for the exit and the last line; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=BOUNDED)
        for pump in self._pumps:
            pump.join(timeout=BOUNDED)
        return status

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=BOUNDED)
        for pump in self._pumps:
            pump.join(timeout=BOUNDED)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
