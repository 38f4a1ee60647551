"""A fast emulator shortens runs and keeps its timestamps on the wall clock.

`serve --emulator` runs at speed 10. When speed scaled the clock itself, every timestamp ran
ahead of real time (by 9 s per second of uptime), so after about 13 s a client's
`created_after=` filter, and with it trigger reconciliation, missed the runs it had just made.
Time is injected (`RealClock(wall=...)`): nothing here sleeps.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from emulator_support import API, HEADERS, check_run

from dbt_runs.testing import Emulator, RealClock, RunInfo

pytestmark = pytest.mark.anyio

HOUR = 3600.0


class Wall:
    """Real time, held `behind` seconds back until the test lets it pass."""

    def __init__(self, behind: float = 0.0) -> None:
        self.behind = behind

    def __call__(self) -> float:
        return time.time() - self.behind


class FakeWall:
    """A wall clock that moves only when told (epoch seconds)."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fast() -> AsyncIterator[tuple[Emulator, httpx.AsyncClient]]:
    """An emulator at speed 10 that has been up for an hour, and a plain client to it."""
    wall = Wall(behind=HOUR)
    emulator = Emulator(runs=50, clock=RealClock(speed=10, wall=wall))
    wall.behind = 0.0  # the hour passes: the old clock would be nine hours ahead by now
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator.test", headers=HEADERS
    ) as http:
        yield emulator, http


def parse(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def window(around: datetime, seconds: float = 5.0) -> str:
    low, high = around - timedelta(seconds=seconds), around + timedelta(seconds=seconds)
    return f'["{low.isoformat()}", "{high.isoformat()}"]'


async def test_a_run_triggered_after_an_hour_at_speed_10_is_stamped_now(
    fast: tuple[Emulator, httpx.AsyncClient],
) -> None:
    _, http = fast
    response = await http.post(f"{API}/jobs/1/run/", json={"cause": "after an hour"})
    assert response.status_code == 200
    run = response.json()["data"]
    now = datetime.now(UTC)
    check_run(run)
    assert abs((parse(run["created_at"]) - now).total_seconds()) < 2
    assert abs((parse(run["trigger"]["created_at"]) - now).total_seconds()) < 2


async def test_a_created_at_range_around_now_finds_the_run_just_triggered(
    fast: tuple[Emulator, httpx.AsyncClient],
) -> None:
    _, http = fast
    response = await http.post(f"{API}/jobs/1/run/", json={"cause": "find me"})
    run_id = response.json()["data"]["id"]
    listed = await http.get(f"{API}/runs/", params={"created_at__range": window(datetime.now(UTC))})
    assert listed.status_code == 200
    # The seeded history ends a minute before the clock started: only the new run is near now.
    assert [run["id"] for run in listed.json()["data"]] == [run_id]


async def test_the_sdk_reconciles_a_lost_trigger_with_its_own_wall_clock(
    fast: tuple[Emulator, httpx.AsyncClient],
) -> None:
    emulator, _ = fast
    emulator.faults.fail_next_trigger_response(502)
    # The client reads the real time, as one in another process does, not the emulator's.
    async with emulator.client(wall_clock=lambda: datetime.now(UTC)) as client:
        raw = await client.with_raw_response.trigger_run(1, cause="lost answer")
    assert raw.reconciled
    assert raw.parse().id == emulator.runs()[-1].id
    assert emulator.run_count == 51


def finished_timeline(emulator: Emulator, wall: FakeWall | None, job_id: int) -> RunInfo:
    """Trigger a run of `job_id` and let it finish (a day of nominal time is plenty)."""
    run_id = emulator.trigger_run(job_id, cause="timeline")
    if wall is None:
        emulator.clock.advance(24 * HOUR)  # type: ignore[attr-defined]
    else:
        wall.now += 24 * HOUR / 10
    info = emulator.run(run_id)
    assert info.is_complete
    return info


def spans(info: RunInfo) -> list[float]:
    """Seconds queued, starting and running."""
    return [
        _length(info.created_at, info.dequeued_at),
        _length(info.dequeued_at, info.started_at),
        _length(info.started_at, info.finished_at),
    ]


@pytest.mark.parametrize("job_id", [1, 2, 3, 4, 5])
def test_speed_divides_every_phase_and_keeps_every_outcome(job_id: int) -> None:
    nominal = Emulator(runs=0)
    wall = FakeWall()
    fast = Emulator(runs=0, clock=RealClock(speed=10, wall=wall))
    wall.now += HOUR
    triggered_at = wall()
    slow_run = finished_timeline(nominal, None, job_id)
    fast_run = finished_timeline(fast, wall, job_id)
    # The same outcome (job 3 fails, job 5 hits its 10-minute timeout), with dbt's message.
    assert (fast_run.status, fast_run.status_message) == (
        slow_run.status,
        slow_run.status_message,
    )
    assert fast_run.created_at.timestamp() == pytest.approx(triggered_at, abs=0.1)
    assert fast_run.finished_at is not None
    assert fast_run.finished_at.timestamp() <= wall()  # nothing is stamped in the future
    assert spans(fast_run) == pytest.approx([s / 10 for s in spans(slow_run)], rel=1e-6)
    slow_steps = nominal.steps(slow_run.id)
    fast_steps = fast.steps(fast_run.id)
    assert [s.status for s in fast_steps] == [s.status for s in slow_steps]
    assert [_length(s.started_at, s.finished_at) for s in fast_steps] == pytest.approx(
        [_length(s.started_at, s.finished_at) / 10 for s in slow_steps], rel=1e-6
    )


def _length(start: datetime | None, end: datetime | None) -> float:
    assert start is not None
    assert end is not None
    return (end - start).total_seconds()


async def test_finished_runs_are_found_by_a_finished_at_range_around_the_wall_clock() -> None:
    wall = FakeWall()
    emulator = Emulator(runs=50, clock=RealClock(speed=10, wall=wall))
    wall.now += HOUR
    run_id = emulator.trigger_run(1, cause="finish me")
    wall.now += 60  # ten nominal minutes: job 1 takes about one
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator.test", headers=HEADERS
    ) as http:
        now = datetime.fromtimestamp(wall(), UTC)
        body = (await http.get(f"{API}/runs/{run_id}/")).json()["data"]
        assert body["status"] == 10
        assert now - timedelta(seconds=60) < parse(body["finished_at"]) < now
        listed = await http.get(f"{API}/runs/", params={"finished_at__range": window(now, 60)})
    assert [run["id"] for run in listed.json()["data"]] == [run_id]


def test_a_wall_clock_stepped_back_does_not_unfinish_a_run() -> None:
    wall = FakeWall()
    emulator = Emulator(runs=0, clock=RealClock(speed=10, wall=wall))
    run_id = emulator.trigger_run(1)
    wall.now += 60
    assert emulator.run(run_id).status == 10
    wall.now -= 30  # NTP steps the system clock back
    assert emulator.run(run_id).status == 10
    assert emulator.clock.now() == wall() + 30


def test_start_sets_where_a_real_clock_reads_and_it_moves_at_the_real_rate() -> None:
    wall = FakeWall()
    clock = RealClock(speed=60, start=datetime(2024, 1, 1, tzinfo=UTC), wall=wall)
    assert clock.now() == datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    wall.now += 10
    assert clock.now() == datetime(2024, 1, 1, 0, 0, 10, tzinfo=UTC).timestamp()


async def test_what_a_step_wrote_happened_inside_the_step_at_speed_60() -> None:
    # At speed 60 a 40-second `dbt build` lasts two thirds of a second: the node timings in
    # its run_results.json must shrink with it, not spill past its end.
    wall = FakeWall()
    emulator = Emulator(runs=0, clock=RealClock(speed=60, wall=wall))
    run_id = emulator.trigger_run(1, cause="artifacts")
    wall.now += 60
    (build,) = [s for s in emulator.steps(run_id) if s.command == "dbt build"]
    assert build.finished_at is not None
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator.test", headers=HEADERS
    ) as http:
        response = await http.get(f"{API}/runs/{run_id}/artifacts/run_results.json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert results
    times = [parse(t[key]) for r in results for t in r["timing"] for key in t if key != "name"]
    assert build.started_at <= min(times)
    assert max(times) <= build.finished_at


def test_the_artifact_upload_delay_shrinks_like_the_other_phases() -> None:
    wall = FakeWall()
    emulator = Emulator(runs=0, clock=RealClock(speed=10, wall=wall))
    emulator.faults.artifact_delay_seconds = 30
    triggered = wall.now
    run_id = emulator.trigger_run(1)  # 55 nominal seconds: 5.5 at speed 10
    wall.now = triggered + 5.5 + 2.9
    finished = emulator.run(run_id).finished_at
    assert finished is not None
    assert finished.timestamp() == pytest.approx(triggered + 5.5)
    assert emulator.artifact_paths(run_id) == []
    wall.now = triggered + 5.5 + 3.1
    assert "run_results.json" in emulator.artifact_paths(run_id)


class NoSpeed:
    """A clock of the user's own, with no speed: runs take their nominal time."""

    def __init__(self, speed: object = None) -> None:
        self.at = 1_750_000_000.0
        if speed is not None:
            self.speed = speed

    def now(self) -> float:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.at += seconds


def test_a_clock_without_a_speed_runs_at_the_nominal_pace_and_a_bad_one_is_refused() -> None:
    clock = NoSpeed()
    emulator = Emulator(runs=0, clock=clock)
    run_id = emulator.trigger_run(1)
    clock.at += 30
    assert emulator.run(run_id).status == 3  # job 1 takes 55 nominal seconds
    clock.at += 30
    assert emulator.run(run_id).status == 10
    for bad in (0, -1.0, True, "10"):
        emulator = Emulator(runs=0, clock=NoSpeed(speed=bad))
        with pytest.raises(ValueError, match="speed"):
            emulator.trigger_run(1)
