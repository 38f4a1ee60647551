"""Build the emulator a row needs, inside the server process (see `benchmarks._server`).

Everything is configured through `dbt_runs.testing`'s public surface: `Emulator(runs=...,
clock=..., faults=..., artifact_size=...)`, `add_job` and `artifact_paths`.
"""

from __future__ import annotations

import time
from typing import Any

from dbt_runs.testing import Emulator, Faults, RateLimit, RealClock

#: Emulated seconds dbt Cloud spends on a run around the job's own command: the queue, the
#: pod start, clone, profile and `dbt deps` (see `dbt_runs.testing`'s run timeline).
_OVERHEAD_S = 15.0


def build_emulator(config: dict[str, Any]) -> tuple[Emulator, dict[str, Any]]:
    """The emulator for `config`, and what it seeded (ids the contenders need).

    Config keys: `runs` (seeded history), `latency_s`, `fault_503`, `fault_429`,
    `retry_after_s`, `artifact_bytes`, `run_seconds` (a job whose runs take about that many
    real seconds), `spread_seconds` (one CI job per value, whose runs take about that many
    real seconds: their ids are `spread_job_ids`), `speed` (of the emulator's clock), `seed`.
    """
    start = time.time()
    speed = float(config.get("speed", 1.0))
    emulator = Emulator(
        runs=config["runs"],
        seed=config.get("seed", 0),
        clock=RealClock(speed=speed, start=start),
        faults=build_faults(config),
        artifact_size=config.get("artifact_bytes"),
    )
    seeded: dict[str, Any] = {
        "account_id": emulator.account_id,
        "runs": emulator.run_count,
        "run_ids": [],
        "clock_start": start,
        "speed": speed,
    }
    if config.get("artifact_bytes"):
        for info in emulator.runs(status=10):
            if "manifest.json" in emulator.artifact_paths(info.id):
                seeded["run_ids"] = [info.id]
                seeded["artifact_path"] = "manifest.json"
                break
        else:
            raise RuntimeError("no seeded run has a manifest.json")
    else:
        seeded["run_ids"] = [info.id for info in emulator.runs()[-10:]]
    if config.get("run_seconds"):
        step = max(1.0, config["run_seconds"] * speed - _OVERHEAD_S)
        seeded["job_id"] = emulator.add_job("Benchmark wait", step_seconds=step)
    seeded["spread_job_ids"] = [
        emulator.add_job(
            f"Benchmark fleet {n}", job_type="ci", step_seconds=max(0.0, s * speed - _OVERHEAD_S)
        )
        for n, s in enumerate(config.get("spread_seconds", ()))
    ]
    return emulator, seeded


def build_faults(config: dict[str, Any]) -> Faults:
    """The row's faults, drawing from a generator seeded afresh.

    Building them again before each contender's listing gives every contender the same
    sequence of outcomes: the n-th request to arrive meets the n-th draw. A client that
    retries every failure until it has its 100 pages therefore meets the same number of
    faults, whatever its order or concurrency; which page meets them follows its order.
    """
    error_rates = {
        status: rate
        for status, rate in (
            (503, config.get("fault_503", 0.0)),
            (429, config.get("fault_429", 0.0)),
        )
        if rate
    }
    return Faults(
        latency_ms=config.get("latency_s", 0.0) * 1000,
        error_rates=error_rates,
        seed=config.get("seed", 0),
        # A 429 drawn from `error_rates` carries the rate limit's cooldown as its Retry-After;
        # a limit no benchmark can reach gives the 429s the short Retry-After we want.
        rate_limit=RateLimit(
            requests=10**9, per_seconds=60.0, cooldown_seconds=config.get("retry_after_s", 1)
        )
        if 429 in error_rates
        else None,
    )
