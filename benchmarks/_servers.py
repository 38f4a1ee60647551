"""Start and stop the server processes of `benchmarks._server` from the harness."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks._server import RESET_PATH, STATS_PATH

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServerProcess:
    """A running server process.

    Attributes:
        base_url: `http://127.0.0.1:PORT`, the root the role serves under.
        pid: Its process id (its CPU is not the caller's).
        seeded: What the emulator role seeded (account, job and run ids), else empty.
    """

    base_url: str
    pid: int
    seeded: dict[str, Any] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        """Requests counted on the wire since the last reset, by response status."""
        return httpx.get(self.base_url + STATS_PATH, timeout=10).json()  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Zero the request counters."""
        httpx.post(self.base_url + RESET_PATH, timeout=10)


@contextmanager
def serve(config: dict[str, Any]) -> Iterator[ServerProcess]:
    """Run `benchmarks._server` with `config` in a child process for the duration of the block."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._server", json.dumps(config)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    try:
        seeded: dict[str, Any] = {}
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"server {config['role']} exited before it was ready")
            if line.startswith("SEEDED "):
                seeded = json.loads(line.removeprefix("SEEDED "))
            elif line.startswith("READY "):
                yield ServerProcess(line.split()[1], proc.pid, seeded)
                break
    finally:
        proc.stdin.close()  # the server exits when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
