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

    @property
    def reset_url(self) -> str:
        """What a contender in another process POSTs to for `reset()`."""
        return self.base_url + RESET_PATH

    def stats(self) -> dict[str, Any]:
        """Since the last reset: requests counted on the wire, by response status
        (`requests`, `statuses`), and the server's CPU seconds (`cpu_s`)."""
        return httpx.get(self.base_url + STATS_PATH, timeout=10).json()  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Zero the counters and start the emulator's random faults again from their seed."""
        httpx.post(self.reset_url, timeout=10)


def _spawn(config: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks._server", json.dumps(config)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _ready(proc: subprocess.Popen[str], role: str) -> ServerProcess:
    assert proc.stdout is not None
    seeded: dict[str, Any] = {}
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"server {role} exited before it was ready")
        if line.startswith("SEEDED "):
            seeded = json.loads(line.removeprefix("SEEDED "))
        elif line.startswith("READY "):
            return ServerProcess(line.split()[1], proc.pid, seeded)


def _stop(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    assert proc.stdout is not None
    if not proc.stdin.closed:
        proc.stdin.close()  # the server exits when its stdin closes
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()


@contextmanager
def serve(config: dict[str, Any]) -> Iterator[ServerProcess]:
    """Run `benchmarks._server` with `config` in a child process for the duration of the block."""
    with serve_all([config]) as (server,):
        yield server


@contextmanager
def serve_all(configs: list[dict[str, Any]]) -> Iterator[tuple[ServerProcess, ...]]:
    """Like `serve`, for several servers started side by side (their imports overlap)."""
    procs: list[subprocess.Popen[str]] = []
    try:
        for config in configs:
            procs.append(_spawn(config))
        yield tuple(_ready(p, c["role"]) for p, c in zip(procs, configs, strict=True))
    finally:
        for proc in procs:  # all told to stop first, so they shut down side by side
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            _stop(proc)
