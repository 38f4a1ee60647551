"""Rows 1 and 6: list every run, at 25 ms added latency (1) and under faults (6)."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx

from benchmarks import _baselines
from benchmarks._baselines import TOKEN
from benchmarks._harness import Context, median, profile_into, timed
from benchmarks._results import Measurement, Row
from benchmarks._servers import ServerProcess, serve
from dbt_runs import AsyncRunsClient

Lister = Callable[[], Awaitable[list[Any]]]

#: The client's own default, read from its signature so the label cannot go stale.
DEFAULT_WINDOW = inspect.signature(AsyncRunsClient).parameters["page_window"].default


@asynccontextmanager
async def _dbt_runs_list(server: ServerProcess, *, window: int | None) -> AsyncIterator[Lister]:
    kw: dict[str, Any] = {} if window is None else {"page_window": window}
    async with AsyncRunsClient(
        token=TOKEN, base_url=server.base_url, account_id=server.seeded["account_id"], **kw
    ) as client:

        async def list_all() -> list[Any]:
            return [run async for run in client.list_runs()]

        yield list_all


@asynccontextmanager
async def _bare_list(server: ServerProcess) -> AsyncIterator[Lister]:
    async with httpx.AsyncClient(timeout=60) as client:

        async def list_all() -> list[Any]:
            return await _baselines.list_all(client, server.base_url, server.seeded["account_id"])

        yield list_all


def _retries(stats: dict[str, Any]) -> int:
    """Requests answered with an error status: each one cost its caller a retry (or a failure)."""
    return sum(n for status, n in stats["statuses"].items() if int(status) >= 400)


async def _measure_local(
    ctx: Context,
    server: ServerProcess,
    name: str,
    make: Callable[[], AbstractAsyncContextManager[Lister]],
    expected: int,
) -> Measurement:
    """Time an in-process contender: its client is built and warmed (one untimed listing, so
    imports, connection set-up and first-call code generation are paid) before the clock runs,
    as a peer's start-up is subtracted from its time."""
    walls: list[float] = []
    cpus: list[float] = []
    count, stats = 0, {}
    try:
        async with make() as list_all:
            await list_all()
            for _ in range(ctx.sizes.repeats):
                server.reset()
                cpu = server.cpu_seconds()
                wall, runs = await timed(list_all)
                cpus.append(server.cpu_seconds() - cpu)
                stats = server.stats()
                walls.append(wall)
                count = len({getattr(r, "id", None) or r["id"] for r in runs})
    except Exception as exc:  # a contender failing is a result, not a crash
        stats = server.stats()
        return Measurement(
            name,
            {"requests": stats["requests"], "retries": _retries(stats)},
            ok=False,
            note=f"{type(exc).__name__}: {exc}"[:200],
        )
    figures: dict[str, Any] = {
        "wall_s": median(walls),
        "count": count,
        "requests": stats["requests"],
        "retries": _retries(stats),
        "server_cpu_s": median(cpus),
    }
    return Measurement(name, figures, ok=count == expected, note=_count_note(count, expected))


def _count_note(count: int, expected: int) -> str:
    return "" if count == expected else f"listed {count:,} of {expected:,} runs"


def _measure_peer(ctx: Context, server: ServerProcess, peer: Any, expected: int) -> Measurement:
    startup = ctx.startup(peer, server)
    walls, cpus, count, stats, proc = [], [], 0, {}, None
    for _ in range(ctx.sizes.repeats):
        server.reset()
        cpu = server.cpu_seconds()
        proc, report, stdout = ctx.run_peer(peer, "list", server)
        cpus.append(server.cpu_seconds() - cpu)
        stats = server.stats()
        if not proc.ok:
            return Measurement(
                peer.name,
                {"requests": stats["requests"], "retries": _retries(stats)},
                ok=False,
                note=_last_line(proc.stderr_tail),
            )
        walls.append(proc.wall_s)
        # dbtc reports what it collected; dbt-cloud-cli prints the merged pages as JSON.
        count = report["count"] if "count" in report else len(_ids(stdout.read_text()))
    wall = median(walls)
    figures = {
        "wall_s": wall,
        "startup_s": startup.wall_s,
        "work_s": wall - startup.wall_s,
        "count": count,
        "requests": stats["requests"],
        "retries": _retries(stats),
        "server_cpu_s": median(cpus),
    }
    return Measurement(peer.name, figures, ok=count == expected, note=_count_note(count, expected))


async def _cpu_floor(server: ServerProcess, expected: int) -> tuple[float, float]:
    """Seconds to decode every page: plain `json.loads`, and dbt-runs' `RawResponse.parse()`
    (JSON plus the typed models), with the bodies already in memory."""
    async with AsyncRunsClient(
        token=TOKEN, base_url=server.base_url, account_id=server.seeded["account_id"]
    ) as client:
        gate = asyncio.Semaphore(10)

        async def page(offset: int) -> Any:
            async with gate:
                return await client.with_raw_response.list_runs(offset=offset, limit=100)

        raws = await asyncio.gather(*(page(o) for o in range(0, expected, 100)))
    start = time.perf_counter()
    for raw in raws:
        json.loads(raw.content)
    decode = time.perf_counter() - start
    start = time.perf_counter()
    for raw in raws:
        raw.parse()
    return decode, time.perf_counter() - start


def _ids(text: str) -> set[int]:
    return {run["id"] for run in json.loads(text)["data"]}


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "exited with an error"


def _work(m: Measurement) -> float | None:
    value = m.figures.get("work_s", m.figures.get("wall_s"))
    return float(value) if isinstance(value, int | float) and m.ok else None


async def row_list(ctx: Context) -> Row:
    """Row 1: list every run at added latency; dbt-runs vs each peer vs a bare httpx loop."""
    s = ctx.sizes
    row = Row(
        1,
        "list",
        f"List {s.runs:,} runs, {s.list_latency_s * 1000:.0f} ms added latency per request",
        "contender's time / dbt-runs (default window)",
        "at least 5x faster than the best sequential peer, same count",
    )
    config = {"role": "emulator", "runs": s.runs, "latency_s": s.list_latency_s}
    with serve(config) as server:
        expected = server.seeded["runs"]
        default = await _measure_local(
            ctx,
            server,
            f"dbt-runs (default window, {DEFAULT_WINDOW})",
            lambda: _dbt_runs_list(server, window=None),
            expected,
        )
        row.measurements.append(default)
        row.measurements.append(
            await _measure_local(
                ctx,
                server,
                "dbt-runs (window=1)",
                lambda: _dbt_runs_list(server, window=1),
                expected,
            )
        )
        for peer in ctx.peers:
            ctx.log(f"  list: {peer.name}")
            row.measurements.append(_measure_peer(ctx, server, peer, expected))
        row.measurements.append(
            await _measure_local(
                ctx, server, "bare httpx loop", lambda: _bare_list(server), expected
            )
        )
        ours = _work(default)
        for m in row.measurements:
            work = _work(m)
            m.ratio = work / ours if work is not None and ours else None
        row.notes.append(
            "Peers run in their own processes: their time is wall minus an import-only start-up "
            "run of the same interpreter (both shown); dbt-runs and bare httpx run in the "
            "harness process, already imported."
        )
        peers = [m for m in row.measurements if m.contender in {p.name for p in ctx.peers}]
        best = min(
            (m for m in peers if _work(m) is not None), key=lambda m: _work(m) or 0.0, default=None
        )
        if best is None or ours is None:
            row.verdict = "no peer completed" if ours else "dbt-runs did not complete"
            row.met = None if ours else False
        else:
            speedup = (_work(best) or 0) / ours
            same = default.figures["count"] == best.figures["count"] == expected
            row.met = speedup >= 5 and same
            row.verdict = (
                f"{speedup:.1f}x faster than {best.contender} "
                f"({_work(best):.2f} s vs {ours:.2f} s); counts "
                f"{'equal' if same else 'differ'} ({default.figures['count']:,})"
            )
            if not row.met:
                async with _dbt_runs_list(server, window=None) as list_all:
                    await profile_into(ctx, row, "list", list_all)
                decode_s, models_s = await _cpu_floor(server, expected)
                row.notes.append(
                    f"CPU floor: for the same {expected:,} runs already received, `json.loads` "
                    f"alone takes {decode_s:.2f} s and dbt-runs' decode into typed `Run` models "
                    f"{models_s:.2f} s in this process, whatever the window. With {best.contender} "
                    f"at {_work(best):.2f} s, that caps the attainable speed-up at "
                    f"{(_work(best) or 0) / models_s:.1f}x on this machine."
                )
                server_cpu = default.num("server_cpu_s")
                row.notes.append(
                    f"The emulator, one process on one core, spent {server_cpu:.2f} s of CPU "
                    f"serving dbt-runs' {default.figures['requests']} pages: pages asked for "
                    "together are rendered one after another, so a wider window buys less here "
                    "than against dbt Cloud's many servers."
                )
    row.notes += ctx.peer_notes
    return row


async def row_faults(ctx: Context) -> Row:
    """Row 6: list every run while the emulator fails some responses with 503 and 429."""
    s = ctx.sizes
    row = Row(
        6,
        "faults",
        f"List {s.runs:,} runs with {s.fault_503:.0%} of responses 503 and {s.fault_429:.0%} 429 "
        f"(Retry-After: {s.retry_after_s})",
        "contender's time / dbt-runs",
        "completes with the right count (time and retries reported)",
    )
    config = {
        "role": "emulator",
        "runs": s.runs,
        "fault_503": s.fault_503,
        "fault_429": s.fault_429,
        "retry_after_s": s.retry_after_s,
        "seed": 7,
    }
    with serve(config) as server:
        expected = server.seeded["runs"]
        ours_m = await _measure_local(
            ctx,
            server,
            f"dbt-runs (default window, {DEFAULT_WINDOW})",
            lambda: _dbt_runs_list(server, window=None),
            expected,
        )
        row.measurements.append(ours_m)
        for peer in ctx.peers:
            ctx.log(f"  faults: {peer.name}")
            row.measurements.append(_measure_peer(ctx, server, peer, expected))
        bare = await _measure_local(
            ctx, server, "bare httpx loop (no retries)", lambda: _bare_list(server), expected
        )
        row.measurements.append(bare)
        ours = _work(ours_m)
        for m in row.measurements:
            work = _work(m)
            m.ratio = work / ours if work is not None and ours else None
        row.met = ours_m.ok
        row.verdict = (
            f"{ours_m.figures.get('count', 0):,} of {expected:,} runs in "
            f"{ours_m.figures.get('wall_s', 0):.2f} s, {ours_m.figures.get('retries', 0)} retries"
            if ours_m.ok
            else f"failed: {ours_m.note}"
        )
        row.notes.append(
            "Retries are the responses the emulator answered with an error status, counted on "
            "the wire; a contender without retries fails at the first one."
        )
    return row
