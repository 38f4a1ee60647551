"""How big each row is: the issue's sizes, and the smoke sizes that only prove the harness."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """Every knob that scales a row.

    Attributes:
        runs: Runs to list (rows 1 and 6).
        list_latency_s: Added latency per request on row 1.
        gets: Sequential get-run calls (row 2).
        run_seconds: How long the emulated run of row 3 takes, in real seconds.
        wait_speed: How much faster than real time the emulator's clock runs on row 3 (dbt
            Cloud's own queue, start-up, clone and deps take about 15 emulated seconds).
        poll_interval_s: The poll interval every waiter of row 3 is given (where it takes one).
        artifact_mb: Size of the artifact of row 4.
        adapter_requests: Requests per adapter measurement (row 5).
        adapter_concurrency: Concurrent callers for the REST throughput figure (row 5).
        fault_503: Share of responses turned into 503 (row 6).
        fault_429: Share of responses turned into 429 (row 6).
        retry_after_s: The `Retry-After` the 429s carry (row 6).
        repeats: Timed repetitions per contender; the median is kept.
        fleet_runs: Runs waited on at once (row 10).
        fleet_speed: How much faster than real time the emulator's clock runs on row 10.
    """

    runs: int
    list_latency_s: float
    gets: int
    run_seconds: float
    wait_speed: float
    poll_interval_s: float
    artifact_mb: int
    adapter_requests: int
    adapter_concurrency: int
    fault_503: float
    fault_429: float
    retry_after_s: int
    repeats: int
    fleet_runs: int
    fleet_speed: float


FULL = Sizes(
    runs=10_000,
    list_latency_s=0.025,
    gets=500,
    # Not a multiple of the poll interval, so the finish falls between two polls, as it would.
    run_seconds=4.5,
    wait_speed=10.0,
    poll_interval_s=1.0,
    artifact_mb=200,
    adapter_requests=1_000,
    adapter_concurrency=8,
    fault_503=0.10,
    fault_429=0.01,
    retry_after_s=1,
    repeats=3,
    fleet_runs=1_000,
    fleet_speed=10.0,
)

SMOKE = Sizes(
    runs=300,
    list_latency_s=0.005,
    gets=20,
    run_seconds=0.6,
    wait_speed=40.0,
    poll_interval_s=0.25,
    artifact_mb=2,
    adapter_requests=20,
    adapter_concurrency=4,
    fault_503=0.10,
    fault_429=0.01,
    retry_after_s=1,
    repeats=1,
    fleet_runs=60,
    fleet_speed=40.0,
)
