"""Row 2: sequential get-run calls with no added latency: the SDK's own per-call overhead."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from benchmarks import _baselines
from benchmarks._baselines import TOKEN
from benchmarks._harness import Context, median, profile_into
from benchmarks._results import Measurement, Row
from benchmarks._servers import serve

ROUNDS = 25
WARMUP = 10


async def _per_call(call: Callable[[], Awaitable[Any]], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - start) / n


async def row_get(ctx: Context) -> Row:
    """Row 2: dbt-runs `get_run` vs a bare httpx GET + JSON decode (and the peers' get)."""
    from dbt_runs import AsyncRunsClient

    s = ctx.sizes
    row = Row(
        2,
        "get",
        f"{s.gets} sequential get-run calls, no added latency",
        "per-call time / bare httpx request + JSON decode",
        "within 1.2x of bare httpx",
    )
    with serve({"role": "emulator", "runs": 10}) as server:
        account, run_id = server.seeded["account_id"], server.seeded["run_ids"][0]
        async with (
            AsyncRunsClient(token=TOKEN, base_url=server.base_url, account_id=account) as ours,
            httpx.AsyncClient(timeout=30) as bare,
        ):

            async def ours_call() -> Any:
                return await ours.get_run(run_id)

            async def bare_call() -> Any:
                return await _baselines.get_run(bare, server.base_url, account, run_id)

            # Warm both connection pools, then alternate rounds so that any drift in the
            # machine's load lands on both contenders alike.
            await _per_call(ours_call, WARMUP)
            await _per_call(bare_call, WARMUP)
            ours_rounds, bare_rounds = [], []
            rounds = min(ROUNDS, s.gets)
            per_round = max(1, s.gets // rounds)
            for _ in range(rounds):
                ours_rounds.append(await _per_call(ours_call, per_round))
                bare_rounds.append(await _per_call(bare_call, per_round))
            # The median round: one burst of load from a neighbour moves a mean, not a median.
            ours_t, bare_t = median(ours_rounds), median(bare_rounds)
            row.measurements.append(
                Measurement("dbt-runs get_run", {"per_call_ms": ours_t * 1000}, ours_t / bare_t)
            )
            row.measurements.append(
                Measurement("bare httpx GET + json()", {"per_call_ms": bare_t * 1000}, 1.0)
            )
            for peer in ctx.peers:
                ctx.log(f"  get: {peer.name}")
                proc, report, _ = ctx.run_peer(peer, "get", server, run_id=run_id, n=s.gets)
                if not proc.ok:
                    row.measurements.append(Measurement(peer.name, ok=False, note=proc.stderr_tail))
                    continue
                per_call = report["per_call_median_s"]
                row.measurements.append(
                    Measurement(
                        peer.name,
                        {"per_call_ms": per_call * 1000},
                        per_call / bare_t,
                        note="sync; median call, timed inside its own process",
                    )
                )
            ratio = ours_t / bare_t
            row.met = ratio <= 1.2
            row.verdict = (
                f"{ratio:.2f}x bare httpx ({ours_t * 1000:.2f} ms vs {bare_t * 1000:.2f} ms)"
            )
            if not row.met:
                await profile_into(ctx, row, "get", lambda: _per_call(ours_call, s.gets))
        row.notes.append(
            f"dbt-runs and bare httpx share the harness process and alternate in {rounds} "
            f"rounds of {per_round} calls after {WARMUP} warm-up calls each; each figure is the "
            "median round. The emulator runs in its own process."
        )
    return row
