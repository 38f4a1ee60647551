"""Row 10: a thousand runs waited on at once, shared polls against independent ones.

Time is emulated: the emulator's clock runs `fleet_speed` times real time, the poll interval
is 10 emulated seconds and the runs take one to two emulated minutes, so the row fits in well
under a minute. Requests per minute are counted on the wire (the emulator process counts
them) per emulated minute: real seconds times the speed. dbt Cloud's limit, 5,000 requests
a minute per account, is in the same emulated minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
from collections.abc import Iterator
from typing import Any

from benchmarks._baselines import TOKEN
from benchmarks._harness import Context, profile_into
from benchmarks._results import Measurement, Row
from benchmarks._servers import ServerProcess, serve
from dbt_runs import AsyncRunsClient, RateBudget, Run
from dbt_runs._budget import DBT_LIMIT_PER_MINUTE

#: Emulated seconds: dbt's default poll, and the CI jobs' own commands (the emulator adds
#: about 15 s of queue, clone and deps around each).
POLL_S = 10.0
JOB_SECONDS = (60, 90, 120)
#: Emulated seconds each wait may last.
WAIT_TIMEOUT_S = 600.0
#: Emulated seconds after the longest run's end by which every wait has had time to see it
#: (six polls); what is left then is counted as not finished.
GRACE_S = 6 * POLL_S
#: Emulated seconds dbt Cloud spends on a run around the job's own command.
_OVERHEAD_S = 15.0
#: Real seconds between two looks at the wire count (for the busiest minute).
SAMPLE_S = 0.25
SHARED = "dbt-runs: independent wait_for_run calls, shared polls (default)"
ALONE = "dbt-runs: independent wait_for_run calls, each polling alone (before)"


class _WireSamples:
    """The emulator's request count, read every `SAMPLE_S` in a thread (its reads are sync)."""

    def __init__(self, server: ServerProcess) -> None:
        self._server = server
        self.samples: list[tuple[float, int]] = []
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            count = (await asyncio.to_thread(self._server.stats))["requests"]
            self.samples.append((time.perf_counter(), count))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), SAMPLE_S)

    def stop(self) -> None:
        self._stop.set()

    def busiest(self, window: float) -> int:
        """The most requests counted within any `window` real seconds (rounded up to whole
        samples, so never understated)."""
        best, start = 0, 0
        for when, count in self.samples:
            while self.samples[start][0] < when - window:
                start += 1
            before = self.samples[start - 1][1] if start else 0
            best = max(best, count - before)
        return best


@contextlib.contextmanager
def _fleet_server(speed: float) -> Iterator[ServerProcess]:
    # `spread_seconds` are real seconds a run takes, dbt's overhead included.
    spread = [(seconds + _OVERHEAD_S) / speed for seconds in JOB_SECONDS]
    config = {"role": "emulator", "runs": 0, "speed": speed, "spread_seconds": spread}
    with serve(config) as server:
        yield server


async def _trigger(server: ServerProcess, count: int) -> list[Run]:
    """Start `count` runs of the CI jobs, round robin, with a client of their own."""
    jobs = server.seeded["spread_job_ids"]
    async with AsyncRunsClient(
        token=TOKEN, base_url=server.base_url, account_id=server.seeded["account_id"]
    ) as client:
        gate = asyncio.Semaphore(16)

        async def one(i: int) -> Run:
            async with gate:
                return await client.trigger_run(jobs[i % len(jobs)], cause=f"fleet {i}")

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _wait_all(
    server: ServerProcess, runs: list[Run], speed: float, *, share: bool
) -> dict[str, Any]:
    """Await every run with its own `wait_for_run`, as independent callers would."""
    budget = RateBudget(requests=4500, per=60.0 / speed) if share else None
    async with AsyncRunsClient(
        token=TOKEN,
        base_url=server.base_url,
        account_id=server.seeded["account_id"],
        rate_limit=budget,
    ) as client:
        client._share_waits = share
        known: dict[int, float] = {}

        async def wait(run: Run) -> Run:
            done = await client.wait_for_run(
                run, poll_interval=POLL_S / speed, timeout=WAIT_TIMEOUT_S / speed
            )
            known[done.id] = time.time()
            return done

        wire = _WireSamples(server)
        sampler = asyncio.ensure_future(wire.run())
        started = time.perf_counter()
        tasks = [asyncio.ensure_future(wait(run)) for run in runs]
        done, pending = await asyncio.wait(tasks, timeout=_cap(speed))
        wall = time.perf_counter() - started
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        wire.stop()
        await sampler
    finished = [t.result() for t in done if not t.cancelled() and t.exception() is None]
    failures = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
    delays = [
        (known[run.id] - run.finished_at.timestamp()) * speed
        for run in finished
        if run.finished_at is not None
    ]
    return {
        "wall": wall,
        "finished": len(finished),
        "failed": len(failures) + len(pending),
        "why": _why(failures, len(pending)),
        "requests": server.stats()["requests"],
        "busiest": wire.busiest(60.0 / speed),
        "delay_p50": statistics.median(delays) if delays else None,
    }


def _cap(speed: float) -> float:
    """Real seconds the waits get: the longest run, then `GRACE_S` (emulated) to see it end."""
    return (max(JOB_SECONDS) + _OVERHEAD_S + GRACE_S) / speed


def _why(failures: list[BaseException | None], unfinished: int) -> str:
    kinds: dict[str, int] = {}
    for exc in failures:
        if exc is not None:
            name = f"{type(exc).__name__}: {exc}"[:90]
            kinds[name] = kinds.get(name, 0) + 1
    parts = [f"{n:,} x {name}" for name, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:2]]
    if unfinished:
        parts.append(f"{unfinished:,} still waiting when the row stopped them")
    return "; ".join(parts)


def _measurement(name: str, figures: dict[str, Any], speed: float) -> Measurement:
    minutes = figures["wall"] * speed / 60
    m = Measurement(
        name,
        {
            "count": figures["finished"],
            "failed_waits": figures["failed"],
            "wall_s": figures["wall"],
            "emulated_min": minutes,
            "requests": figures["requests"],
            "per_min_mean": figures["requests"] / minutes,
            "per_min_peak": figures["busiest"],
            "notice_p50_s": figures["delay_p50"],
        },
        ok=figures["finished"] > 0,
    )
    if figures["failed"]:
        m.note = f"{figures['failed']:,} waits did not end with their run: {figures['why']}"
    return m


async def row_fleet(ctx: Context) -> Row:
    """Row 10: `fleet_runs` runs waited on at once, by independent `wait_for_run` calls."""
    s = ctx.sizes
    count, speed = s.fleet_runs, s.fleet_speed
    asked = count * 60 / POLL_S  # polls a minute when each wait polls alone
    per_poll = math.ceil(count / 100)
    row = Row(
        10,
        "fleet",
        f"{count:,} runs waited on at once, poll interval {POLL_S:g} s (emulated time, "
        f"clock x{speed:g})",
        "requests / the shared polls'",
        f"about {per_poll} request{'s' if per_poll > 1 else ''} per {POLL_S:g}-s poll "
        f"({per_poll * 60 / POLL_S:.0f} a minute, at most twice that), far under dbt Cloud's "
        f"{DBT_LIMIT_PER_MINUTE:,} a minute, where {count:,} waits polling alone ask for "
        f"{asked:,.0f}",
    )
    figures: dict[str, dict[str, Any]] = {}
    for name, share in ((SHARED, True), (ALONE, False)):
        ctx.log(f"  fleet: {name}")
        with _fleet_server(speed) as server:
            runs = await _trigger(server, count)
            server.reset()
            figures[name] = await _wait_all(server, runs, speed, share=share)
        row.measurements.append(_measurement(name, figures[name], speed))
    shared, alone = row.measurements
    for m in row.measurements:
        m.ratio = m.num("requests") / shared.num("requests") if shared.num("requests") else None
    peak = shared.num("per_min_peak")
    row.met = (
        shared.num("failed_waits") == 0
        and peak <= 2 * per_poll * 60 / POLL_S
        and peak < DBT_LIMIT_PER_MINUTE
    )
    row.verdict = (
        f"shared: all {shared.figures['count']:,} finished in "
        f"{shared.num('emulated_min'):.1f} emulated min, {shared.num('requests'):,.0f} requests, "
        f"busiest minute {peak:,.0f} (dbt's limit {DBT_LIMIT_PER_MINUTE:,}); each alone: asked "
        f"for {asked:,.0f} a minute, managed {alone.num('per_min_peak'):,.0f} in its busiest, "
        f"{alone.num('failed_waits'):,.0f} of {count:,} waits did not end with their run"
    )
    shortest, longest = min(JOB_SECONDS) + _OVERHEAD_S, max(JOB_SECONDS) + _OVERHEAD_S
    row.notes += [
        f"Emulated time: the emulator's clock runs {speed:g} times real time; the poll interval "
        f"is {POLL_S:g} emulated s ({POLL_S / speed:g} real s) and the runs take about "
        f"{shortest:g} to {longest:g} emulated s; a wait still waiting {GRACE_S:g} emulated s "
        "after the longest run ended is stopped and counted as failed. Requests a minute are "
        "per emulated minute (real seconds times the speed), counted on the wire by the "
        "emulator process; the busiest minute from its count, read every "
        f"{SAMPLE_S:g} real s. Notice delay: when the caller had the finished run, minus its "
        "finished_at, in emulated seconds.",
        f"Both sides trigger the {count:,} runs first (with another client, not counted), then "
        "await each with its own wait_for_run, holding the triggered run. Shared: the default "
        "client (its request budget, 4,500 a minute, scaled to the clock). Alone: the same "
        "client with sharing off (`client._share_waits = False`) and no budget, which is what "
        "wait_for_run did before the watcher.",
    ]
    if alone.num("failed_waits"):
        row.notes.append(
            f"Why waits polling alone do not finish: {count:,} polls at a time queue for the "
            "client's 100 connections, and httpcore's pool matches every queued request "
            "against every connection at each change, so the client's CPU goes to the queue "
            f"(the emulator answered {alone.num('requests'):,.0f} requests in all) and it "
            "drains ever slower; a request that waits past the pool timeout fails with "
            "APITimeoutError (PoolTimeout). Shared polls send about ten at a time."
        )
    if asked > DBT_LIMIT_PER_MINUTE:
        row.notes.append(
            f"Against dbt Cloud, {count:,} waits polling alone ask for {asked:,.0f} requests a "
            "minute, over its limit: a 429 and a five-minute cooldown for the whole account."
        )
    if not row.met:
        with _fleet_server(speed) as server:
            runs = await _trigger(server, count)

            async def again() -> None:
                await _wait_all(server, runs, speed, share=True)

            await profile_into(ctx, row, "fleet", again)
    return row
