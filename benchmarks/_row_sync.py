"""Rows 7 and 8: the synchronous client, `RunsClient`, per call and listing at latency.

Both rows alternate their contenders round by round in the harness process (its event loop is
running meanwhile, as a notebook's would be), so that a drift in the machine's load lands on
every contender alike; each figure is the median round.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from benchmarks import _baselines
from benchmarks._baselines import TOKEN
from benchmarks._harness import Context, median, profile_into
from benchmarks._results import Measurement, Row
from benchmarks._row_get import ROUNDS, WARMUP
from benchmarks._row_get import _per_call as _per_call_async
from benchmarks._row_list import DEFAULT_WINDOW, _cpu_floor, _retries
from benchmarks._servers import ServerProcess, serve
from dbt_runs import AsyncRunsClient, InvalidArgumentError, RunsClient

#: How a contender is timed: a sync call, or an async one awaited in the harness's loop.
Call = tuple[str, Callable[[], Any]]


def _per_call_sync(call: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n


async def _timed(kind: str, call: Callable[[], Any], n: int) -> float:
    if kind == "sync":
        return _per_call_sync(call, n)
    return await _per_call_async(call, n)


async def row_sync_get(ctx: Context) -> Row:
    """Row 7: `RunsClient.get_run` vs a bare `httpx.Client` GET + JSON decode."""
    s = ctx.sizes
    row = Row(
        7,
        "sync-get",
        f"{s.gets} sequential get-run calls from synchronous code, no added latency",
        "per-call time / bare httpx.Client request + JSON decode",
        "within 1.2x of a bare httpx.Client request plus JSON decode",
    )
    with serve({"role": "emulator", "runs": 10}) as server:
        account, run_id = server.seeded["account_id"], server.seeded["run_ids"][0]
        config = {"token": TOKEN, "base_url": server.base_url, "account_id": account}
        with RunsClient(**config) as ours, httpx.Client(timeout=30) as bare:
            async with AsyncRunsClient(**config) as ours_async, httpx.AsyncClient(timeout=30) as b:

                async def bare_async() -> Any:
                    return await _baselines.get_run(b, server.base_url, account, run_id)

                async def ours_awaited() -> Any:
                    return await ours_async.get_run(run_id)

                def refused() -> None:
                    # Checked and refused in the loop thread, nothing sent: the round trip
                    # alone, measured through the public API.
                    with contextlib.suppress(InvalidArgumentError):
                        ours.get_run(0)

                contenders: dict[str, Call] = {
                    "dbt-runs RunsClient.get_run": ("sync", lambda: ours.get_run(run_id)),
                    "bare httpx.Client GET + json()": (
                        "sync",
                        lambda: _baselines.get_run_sync(bare, server.base_url, account, run_id),
                    ),
                    "dbt-runs AsyncRunsClient.get_run (awaited)": ("async", ours_awaited),
                    "bare httpx.AsyncClient GET + json() (awaited)": ("async", bare_async),
                    "RunsClient.get_run(0): refused in the loop, nothing sent": (
                        "sync",
                        refused,
                    ),
                }
                for kind, call in contenders.values():
                    await _timed(kind, call, WARMUP)
                rounds = min(ROUNDS, s.gets)
                per_round = max(1, s.gets // rounds)
                timings: dict[str, list[float]] = {name: [] for name in contenders}
                for _ in range(rounds):
                    for name, (kind, call) in contenders.items():
                        timings[name].append(await _timed(kind, call, per_round))
                per_call = {name: median(values) for name, values in timings.items()}
                sync_t, bare_t, async_t, bare_async_t, trip_t = per_call.values()
                for name, value in per_call.items():
                    row.measurements.append(
                        Measurement(name, {"per_call_ms": value * 1000}, value / bare_t)
                    )
                ratio = sync_t / bare_t
                row.met = ratio <= 1.2
                row.verdict = (
                    f"{ratio:.2f}x bare httpx.Client ({sync_t * 1000:.2f} ms vs "
                    f"{bare_t * 1000:.2f} ms)"
                )
                row.notes.append(
                    f"What makes up the {(sync_t - bare_t) * 1000:.2f} ms between them, each "
                    "part measured on its own (they add up only roughly on a shared machine): "
                    f"the round trip to the client's loop thread and back "
                    f"{trip_t * 1000:.2f} ms; httpx's async transport against its sync one "
                    f"(bare httpx.AsyncClient - bare httpx.Client) "
                    f"{(bare_async_t - bare_t) * 1000:.2f} ms; the client's own work, retry "
                    "wrapper, request building and the typed Run (AsyncRunsClient - bare "
                    f"httpx.AsyncClient) {(async_t - bare_async_t) * 1000:.2f} ms."
                )
                if not row.met:
                    # pyinstrument follows one thread: profile what the loop thread runs.
                    await profile_into(
                        ctx, row, "sync-get", lambda: _per_call_async(ours_awaited, s.gets)
                    )
                    row.notes.append(
                        "The profile is of `AsyncRunsClient.get_run` awaited in a loop: the "
                        "work `RunsClient` hands to its loop thread (the calling thread only "
                        "waits)."
                    )
        row.notes.append(
            f"All share the harness process and alternate in {rounds} rounds of "
            f"{per_round} calls after {WARMUP} warm-up calls each; each figure is the median "
            "round. The emulator runs in its own process."
        )
    return row


Lister = Callable[[], Awaitable[list[Any]]]


@contextlib.asynccontextmanager
async def _listers(server: ServerProcess) -> AsyncIterator[dict[str, Lister]]:
    """Every contender of row 8, built and connected."""
    account = server.seeded["account_id"]
    config = {"token": TOKEN, "base_url": server.base_url, "account_id": account}
    with (
        RunsClient(**config) as ours,
        RunsClient(**config, page_window=1) as ours_sequential,
        httpx.Client(timeout=60) as bare,
    ):
        async with AsyncRunsClient(**config) as ours_async:

            async def sync_default() -> list[Any]:
                return list(ours.list_runs())

            async def sync_sequential() -> list[Any]:
                return list(ours_sequential.list_runs())

            async def async_default() -> list[Any]:
                return [run async for run in ours_async.list_runs()]

            async def bare_loop() -> list[Any]:
                return _baselines.list_all_sync(bare, server.base_url, account)

            yield {
                f"dbt-runs RunsClient (default window, {DEFAULT_WINDOW})": sync_default,
                f"dbt-runs AsyncRunsClient (default window, {DEFAULT_WINDOW})": async_default,
                "dbt-runs RunsClient (window=1)": sync_sequential,
                "bare httpx.Client loop (sequential)": bare_loop,
            }


async def row_sync_list(ctx: Context) -> Row:
    """Row 8: list every run at added latency with `RunsClient` vs a sequential sync loop."""
    s = ctx.sizes
    row = Row(
        8,
        "sync-list",
        f"List {s.runs:,} runs from synchronous code, {s.list_latency_s * 1000:.0f} ms added "
        "latency per request",
        "contender's time / RunsClient (default window)",
        "the async client's concurrency win: at least 5x a sequential loop",
    )
    config = {"role": "emulator", "runs": s.runs, "latency_s": s.list_latency_s}
    with serve(config) as server:
        expected = server.seeded["runs"]
        async with _listers(server) as listers:
            walls: dict[str, list[float]] = {name: [] for name in listers}
            counts: dict[str, int] = {}
            stats: dict[str, dict[str, Any]] = {}
            for list_all in listers.values():
                await list_all()  # imports, connections, first-call costs: paid before timing
            for _ in range(s.repeats):
                for name, list_all in listers.items():
                    server.reset()
                    start = time.perf_counter()
                    runs = await list_all()
                    walls[name].append(time.perf_counter() - start)
                    counts[name] = len({r.id if hasattr(r, "id") else r["id"] for r in runs})
                    stats[name] = server.stats()
            wall = {name: median(values) for name, values in walls.items()}
            ours_name, async_name, sequential_name, bare_name = listers
            ours = wall[ours_name]
            for name in listers:
                row.measurements.append(
                    Measurement(
                        name,
                        {
                            "wall_s": wall[name],
                            "count": counts[name],
                            "requests": stats[name]["requests"],
                            "retries": _retries(stats[name]),
                        },
                        wall[name] / ours,
                        ok=counts[name] == expected,
                        note="" if counts[name] == expected else f"listed {counts[name]:,}",
                    )
                )
            speedup = wall[bare_name] / ours
            same = counts[ours_name] == counts[bare_name] == expected
            row.met = speedup >= 5 and same
            row.verdict = (
                f"{speedup:.1f}x a sequential httpx.Client loop ({wall[bare_name]:.2f} s vs "
                f"{ours:.2f} s), {wall[sequential_name] / ours:.1f}x its own window=1; the "
                f"async client {wall[bare_name] / wall[async_name]:.1f}x the same loop; "
                f"counts {'equal' if same else 'differ'} ({counts[ours_name]:,})"
            )
            if not row.met:
                await profile_into(ctx, row, "sync-list", listers[async_name])
                row.notes.append(
                    "The profile is of the async listing: the work `RunsClient` hands to its "
                    "loop thread (the calling thread only waits for pages)."
                )
                decode_s, models_s = await _cpu_floor(server, expected)
                row.notes.append(
                    f"CPU floor: for the same {expected:,} runs already received, `json.loads` "
                    f"alone takes {decode_s:.2f} s and the decode into typed `Run` models "
                    f"{models_s:.2f} s; with the loop at {wall[bare_name]:.2f} s, the typed "
                    f"models alone cap the speed-up at {wall[bare_name] / models_s:.1f}x on "
                    "this machine."
                )
        row.notes.append(
            f"All four run in the harness process, alternating, {s.repeats} rounds, each "
            "figure the median; every client is built and has listed once before the clock "
            "runs. The bare loop decodes JSON only (no typed models)."
        )
    return row
