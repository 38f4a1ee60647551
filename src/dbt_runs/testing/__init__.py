"""A faithful local dbt Cloud for tests, demos and benchmarks.

`Emulator` serves dbt Cloud's v2 runs API (trigger, list, get, cancel, retry, artifacts, jobs,
steps) from its own state, on a clock you control, with faults you can inject. Reach it
in-process (`emulator.app`, `emulator.client()`) or over loopback HTTP (`emulator.serve()`,
`emulator.serve_in_thread()`, `dbt-runs emulator`). The pytest fixtures live in
`dbt_runs.testing.pytest_plugin`.

Needs the server extra: `pip install "dbt-runs[server]"`.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError:  # pragma: no cover - exercised in the core-only install check
    raise ImportError(
        'dbt_runs.testing (the dbt Cloud emulator) needs starlette: pip install "dbt-runs[server]"'
    ) from None

from dbt_runs.testing._clock import Clock, ManualClock, RealClock
from dbt_runs.testing._emulator import Emulator, RequestRecord, RunInfo, StepInfo
from dbt_runs.testing._faults import FaultKind, Faults, RateLimit
from dbt_runs.testing._server import EmulatorServer

__all__ = [
    "Clock",
    "Emulator",
    "EmulatorServer",
    "FaultKind",
    "Faults",
    "ManualClock",
    "RateLimit",
    "RealClock",
    "RequestRecord",
    "RunInfo",
    "StepInfo",
]
