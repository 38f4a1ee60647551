"""Row 3: trigger a run of fixed length and wait: how late each waiter notices, at what cost."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import httpx

from benchmarks import _baselines
from benchmarks._baselines import TOKEN
from benchmarks._harness import Context
from benchmarks._results import Measurement, Row
from benchmarks._servers import ServerProcess, serve

TERMINAL = {10, 20, 30}


def _finished_real(server: ServerProcess, run_id: int) -> float:
    """When the run finished, in real epoch seconds: the emulator's speed shortens runs, but
    its timestamps stay on the wall clock."""
    url = f"{_baselines.api(server.base_url, server.seeded['account_id'])}/runs/{run_id}/"
    data = httpx.get(url, headers=_baselines.HEADERS, timeout=10).json()["data"]
    return _parse(data["finished_at"])


def _parse(value: str) -> float:
    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


async def _dbt_runs(
    server: ServerProcess, job_id: int, poll: float, polls: list[float]
) -> tuple[int, float]:
    from dbt_runs import AsyncRunsClient

    async with AsyncRunsClient(
        token=TOKEN, base_url=server.base_url, account_id=server.seeded["account_id"]
    ) as client:
        run = await client.trigger_run(job_id, cause="benchmark")
        triggered = time.perf_counter()

        def on_poll(_: object) -> None:
            polls.append(time.perf_counter() - triggered)

        done = await client.wait_for_run(run, poll_interval=poll, timeout=300, on_poll=on_poll)
        return done.id, time.time()


async def _fixed_poller(
    server: ServerProcess, job_id: int, poll: float, polls: list[float]
) -> tuple[int, float]:
    api = _baselines.api(server.base_url, server.seeded["account_id"])
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{api}/jobs/{job_id}/run/", json={"cause": "benchmark"}, headers=_baselines.HEADERS
        )
        response.raise_for_status()
        run_id = response.json()["data"]["id"]
        triggered = time.perf_counter()
        while True:
            await asyncio.sleep(poll)
            run = await _baselines.get_run(
                client, server.base_url, server.seeded["account_id"], run_id
            )
            polls.append(time.perf_counter() - triggered)
            if run["status"] in TERMINAL:
                return run_id, time.time()


async def row_wait(ctx: Context) -> Row:
    """Row 3: dbt-runs `wait_for_run` vs a fixed-interval poller vs each peer's wait."""
    s = ctx.sizes
    poll = s.poll_interval_s
    row = Row(
        3,
        "wait",
        f"Trigger, then wait for a run that takes {s.run_seconds:g} s (poll interval {poll:g} s)",
        "requests / the fixed-interval poller's",
        "notices no later than the poll interval, with no more requests than a "
        "fixed-interval poller",
    )
    config = {"role": "emulator", "runs": 1, "run_seconds": s.run_seconds, "speed": s.wait_speed}
    with serve(config) as server:
        job_id = server.seeded["job_id"]
        results: list[Measurement] = []
        timelines: dict[str, list[float]] = {}
        for name, fn in (
            ("dbt-runs wait_for_run", _dbt_runs),
            ("fixed-interval poller (httpx)", _fixed_poller),
        ):
            server.reset()
            started = time.perf_counter()
            timelines[name] = []
            try:
                run_id, known_at = await fn(server, job_id, poll, timelines[name])
            except Exception as exc:
                results.append(
                    Measurement(name, ok=False, note=f"{type(exc).__name__}: {exc}"[:200])
                )
                continue
            wall = time.perf_counter() - started
            stats = server.stats()
            results.append(
                Measurement(
                    name,
                    {
                        "wall_s": wall,
                        "notice_delay_s": known_at - _finished_real(server, run_id),
                        "poll_interval_s": poll,
                        "requests": stats["requests"],
                    },
                )
            )
        for peer in ctx.peers:
            ctx.log(f"  wait: {peer.name}")
            server.reset()
            dest = ctx.work_dir / f"{peer.name}-wait.json"
            proc, report, _ = ctx.run_peer(
                peer, "trigger_wait", server, job_id=job_id, poll=poll, dest=dest
            )
            stats = server.stats()
            peer_run_id = report.get("run_id") or _last_run_id(server)
            if not proc.ok or peer_run_id is None:
                results.append(Measurement(peer.name, ok=False, note=proc.stderr_tail[-200:]))
                continue
            fixed = peer.name == "dbt-cloud-cli"
            results.append(
                Measurement(
                    peer.name,
                    {
                        "wall_s": proc.wall_s,
                        "notice_delay_s": report["known_at"] - _finished_real(server, peer_run_id),
                        "poll_interval_s": 5.0 if fixed else poll,
                        "requests": stats["requests"],
                    },
                    note="its poll interval is fixed at 5 s" if fixed else "",
                )
            )
        row.measurements = results
    by = {m.contender: m for m in results if m.ok}
    ours, fixed_m = by.get("dbt-runs wait_for_run"), by.get("fixed-interval poller (httpx)")
    for m in results:
        if m.ok and fixed_m:
            m.ratio = m.num("requests") / fixed_m.num("requests")
    if ours is None or fixed_m is None:
        row.met, row.verdict = False, "dbt-runs or the fixed-interval poller did not complete"
        return row
    delay, reqs = ours.num("notice_delay_s"), int(ours.num("requests"))
    fixed_reqs = int(fixed_m.num("requests"))
    row.met = delay <= poll and reqs <= fixed_reqs
    if reqs > fixed_reqs:
        # The evidence for a request-count miss is when each waiter asked, not a CPU profile.
        row.notes.append(
            "Polls, in seconds after the trigger returned: "
            + "; ".join(
                f"{name}: " + ", ".join(f"+{t:.2f}" for t in times)
                for name, times in timelines.items()
            )
            + "."
        )
    row.verdict = (
        f"noticed {delay:.2f} s after the finish (poll {poll:g} s); "
        f"{reqs} requests vs {fixed_reqs} for the fixed-interval poller"
    )
    row.notes.append(
        "Notice delay: when the caller had the finished run, minus the run's `finished_at` "
        "(converted from the emulator's sped-up clock to real time). Requests include the "
        "trigger, counted on the wire."
    )
    return row


def _last_run_id(server: ServerProcess) -> int | None:
    url = f"{_baselines.api(server.base_url, server.seeded['account_id'])}/runs/"
    body = httpx.get(
        url, params={"order_by": "-id", "limit": 1}, headers=_baselines.HEADERS, timeout=10
    ).json()
    return int(body["data"][0]["id"]) if body["data"] else None
