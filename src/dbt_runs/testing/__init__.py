"""A faithful local dbt Cloud for tests, demos and benchmarks.

`Emulator` serves dbt Cloud's v2 runs API (trigger, list, get, cancel, retry, artifacts, jobs,
steps) and its v3 webhook subscriptions (with signed deliveries to your receiver) from its own
state, on a clock you control, with faults you can inject. Reach it
in-process (`emulator.app`, `emulator.client()`) or over loopback HTTP (`emulator.serve()`,
`emulator.serve_in_thread()`, `dbt-runs emulator`). The pytest fixtures live in
`dbt_runs.testing.pytest_plugin`.

Needs the server extra: `pip install "dbt-runs[server]"`.

Names are imported on first use, so that pytest can load the fixtures module (which lives in
this package) in environments without the server extra.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbt_runs.testing._account import RequestRecord
    from dbt_runs.testing._clock import Clock, ManualClock, RealClock
    from dbt_runs.testing._emulator import Emulator, RunInfo, StepInfo
    from dbt_runs.testing._faults import FaultKind, Faults, RateLimit, WebhookFault
    from dbt_runs.testing._server import EmulatorServer
    from dbt_runs.testing._webhooks import DeliveryRecord, Webhooks, WebhookSubscription

__all__ = [
    "Clock",
    "DeliveryRecord",
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
    "WebhookFault",
    "WebhookSubscription",
    "Webhooks",
]

_HOMES = {
    "Clock": "_clock",
    "ManualClock": "_clock",
    "RealClock": "_clock",
    "Emulator": "_emulator",
    "RequestRecord": "_account",
    "RunInfo": "_emulator",
    "StepInfo": "_emulator",
    "FaultKind": "_faults",
    "Faults": "_faults",
    "RateLimit": "_faults",
    "EmulatorServer": "_server",
    "WebhookFault": "_faults",
    "DeliveryRecord": "_webhooks",
    "WebhookSubscription": "_webhooks",
    "Webhooks": "_webhooks",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dbt_runs.testing' has no attribute {name!r}")
    if importlib.util.find_spec("starlette") is None:
        raise ImportError(
            "dbt_runs.testing (the dbt Cloud emulator) needs starlette: "
            'pip install "dbt-runs[server]"'
        )
    value = getattr(importlib.import_module(f"dbt_runs.testing.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
