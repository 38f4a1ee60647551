"""Rows 1, 6 and 11: list every run at 25 ms added latency (1, 11) and under faults (6).

Every contender is timed the same way: one untimed warm-up listing in its own process (imports,
connections and first-call costs paid), then listings timed inside that process. dbt-runs and
the bare httpx loop run in the harness process; each peer in its own, where its driver times
its own listings (`drivers/_common.timed_runs`), so no start-up has to be estimated and
subtracted. Contenders alternate round by round, in a rotating order, so that a burst of load
from a neighbour lands on all of them rather than on whoever ran during it. Before every
listing the emulator is reset: its counters, and its random faults, which start again from
their seed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import statistics
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks import _baselines
from benchmarks._baselines import TOKEN
from benchmarks._harness import Context, median, profile_into
from benchmarks._peers import Peer
from benchmarks._results import Measurement, Row
from benchmarks._servers import ServerProcess, serve
from dbt_runs import AsyncRunsClient, _json

Lister = Callable[[], Awaitable[list[Any]]]

#: The client's own default, read from its signature so the label cannot go stale.
DEFAULT_WINDOW = inspect.signature(AsyncRunsClient).parameters["page_window"].default

OURS = f"dbt-runs (default window, {DEFAULT_WINDOW})"
BARE = "bare httpx loop"


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


@dataclass
class _Contender:
    """One contender of a listing race, and what its timed listings measured."""

    name: str
    local: Callable[[], AbstractAsyncContextManager[Lister]] | None = None
    peer: Peer | None = None
    sequential: bool = True
    work: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    count: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None

    def measurement(self, expected: int) -> Measurement:
        retries = {"requests": self.stats.get("requests"), "retries": _retries(self.stats)}
        if self.failure is not None or not self.work:
            return Measurement(
                self.name,
                retries if self.stats else {},
                ok=False,
                note=self.failure or "no timed listing",
            )
        figures: dict[str, Any] = {
            "listing_s": median(self.work),
            "listing_range": f"{min(self.work):.2f}-{max(self.work):.2f}",
            "process_wall_s": median(self.walls) if self.walls else None,
            "count": self.count,
            **retries,
            "server_cpu_s": median(self.cpus),
        }
        note = "" if self.count == expected else f"listed {self.count:,} of {expected:,} runs"
        return Measurement(self.name, figures, ok=self.count == expected, note=note)


async def _race(
    ctx: Context, server: ServerProcess, contenders: list[_Contender], rounds: int
) -> None:
    """Warm every contender up once, then time `rounds` alternating listings of each."""
    async with AsyncExitStack() as stack:
        listers: dict[str, Lister] = {}
        for c in contenders:
            if c.local is not None:
                listers[c.name] = await stack.enter_async_context(c.local())
                server.reset()
                try:
                    await listers[c.name]()  # the warm-up every contender gets
                except Exception as exc:  # a contender failing is a result, not a crash
                    c.stats, c.failure = server.stats(), f"{type(exc).__name__}: {exc}"[:200]
        for round_no in range(rounds):
            shift = round_no % len(contenders)
            for c in contenders[shift:] + contenders[:shift]:
                if c.failure is not None:
                    continue
                if c.peer is not None:
                    ctx.log(f"  {c.name} (round {round_no + 1})")
                    _peer_listing(ctx, server, c)
                else:
                    await _local_listing(server, c, listers[c.name])


async def _local_listing(server: ServerProcess, c: _Contender, list_all: Lister) -> None:
    server.reset()
    start = time.perf_counter()
    try:
        runs = await list_all()
    except Exception as exc:
        c.stats, c.failure = server.stats(), f"{type(exc).__name__}: {exc}"[:200]
        return
    c.work.append(time.perf_counter() - start)
    c.stats = server.stats()
    c.cpus.append(c.stats["cpu_s"])
    c.count = len({getattr(r, "id", None) or r["id"] for r in runs})


def _peer_listing(ctx: Context, server: ServerProcess, c: _Contender) -> None:
    assert c.peer is not None
    dest = ctx.work_dir / f"{c.peer.name}-list.out"
    proc, report, _ = ctx.run_peer(
        c.peer, "list", server, warmup=1, n=1, reset_url=server.reset_url, dest=dest
    )
    # The peer reset the emulator before its timed listing: these are that listing's.
    c.stats = server.stats()
    if not proc.ok or not report.get("work_s"):
        c.failure = _last_line(proc.stderr_tail)
        return
    c.work.append(float(report["work_s"][0]))
    c.walls.append(proc.wall_s)
    c.cpus.append(c.stats["cpu_s"])
    c.count = int(report["count"])


def _contenders(
    ctx: Context, server: ServerProcess, *, window_1: bool, peers: bool, bare: str = BARE
) -> list[_Contender]:
    out = [_Contender(OURS, lambda: _dbt_runs_list(server, window=None), sequential=False)]
    if window_1:
        out.append(
            _Contender(
                "dbt-runs (window=1)", lambda: _dbt_runs_list(server, window=1), sequential=False
            )
        )
    if peers:
        out += [_Contender(peer.name, peer=peer) for peer in ctx.peers]
    out.append(_Contender(bare, lambda: _bare_list(server)))
    return out


def _rounds_of(contenders: list[_Contender]) -> int:
    return min((len(c.work) for c in contenders if c.failure is None), default=0)


def _spread(values: list[float]) -> str:
    return f"median of {len(values)} rounds; range {min(values):.1f}x-{max(values):.1f}x"


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "exited with an error"


def _decoder_note() -> str:
    from dbt_runs import _json

    if _json.ACCELERATED:
        return (
            "dbt-runs decoded JSON with orjson (the `speedups` extra, installed by "
            "`nox -s bench`); the bare loop with httpx's `json.loads`."
        )
    return "dbt-runs decoded JSON with the standard library (the `speedups` extra is absent)."


def _timing_note(rounds: int) -> str:
    return (
        f"Each contender listed once untimed (warm-up), then {rounds} timed times, alternating "
        "with the others in a rotating order; figures are the median (and range) of its timed "
        "listings. Every listing is timed inside the contender's own process: dbt-runs and bare "
        "httpx in the harness, each peer by its driver (its process's wall time, start-up "
        "included, is shown apart). The emulator is reset before each listing; its CPU is what "
        "it spent serving that listing."
    )


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
        contenders = _contenders(ctx, server, window_1=True, peers=True)
        await _race(ctx, server, contenders, s.list_rounds)
        ours = contenders[0]
        _ratios(row, contenders, expected)
        sequential = [c for c in contenders if c.sequential and c.failure is None and c.work]
        rounds = _rounds_of([ours, *sequential])
        if ours.failure is not None or not ours.work:
            row.met, row.verdict = False, f"dbt-runs did not complete: {ours.failure}"
        elif not sequential:
            row.met, row.verdict = None, "no sequential contender completed"
        else:
            # Per round: the best sequential contender of that round against dbt-runs.
            speedups = [min(c.work[i] for c in sequential) / ours.work[i] for i in range(rounds)]
            speedup = statistics.median(speedups)
            best = min(sequential, key=lambda c: median(c.work))
            same = all(c.count == expected for c in [ours, *sequential])
            row.met = speedup >= 5 and same
            row.verdict = (
                f"{speedup:.1f}x faster than the best sequential contender ({_spread(speedups)}); "
                f"fastest on median {best.name} {median(best.work):.2f} s vs "
                f"{median(ours.work):.2f} s; counts {'equal' if same else 'differ'} "
                f"({ours.count:,})"
            )
            if not row.met:
                await _explain_miss(ctx, row, server, expected, "list", median(best.work))
        row.notes.append(_timing_note(rounds))
        row.notes.append(_decoder_note())
        row.notes.append(
            "Sequential contenders: the peers and the bare httpx loop (one request at a time); "
            "each round's verdict takes the fastest of them in that round."
        )
    row.notes += ctx.peer_notes
    return row


def floor_s(pages: int, window: int, latency_s: float) -> float:
    """The least time listing `pages` pages can take with `window` requests in flight at
    `latency_s` per round trip: the first page alone (it gives the total), then the rest in
    rounds of `window`: L * (1 + ceil((P - 1) / W))."""
    return latency_s * (1 + math.ceil((pages - 1) / window))


async def row_list_floor(ctx: Context) -> Row:
    """Row 11: dbt-runs' listing against the floor its window allows, and a sequential loop."""
    s = ctx.sizes
    pages = math.ceil(s.runs / 100)
    floor = floor_s(pages, DEFAULT_WINDOW, s.list_latency_s)
    row = Row(
        11,
        "list-floor",
        f"List {s.runs:,} runs ({pages} pages), {s.list_latency_s * 1000:.0f} ms added latency "
        "per request: against the floor",
        "contender's time / dbt-runs (default window)",
        f"within 1.3x of the floor L*(1 + ceil((P-1)/W)) = {floor:.3f} s "
        f"(P={pages}, W={DEFAULT_WINDOW}, L={s.list_latency_s * 1000:.0f} ms), and at least 7x "
        f"a bare sequential loop; iterating {s.memory_runs:,} runs holds no more than the "
        "window's pages",
    )
    config = {"role": "emulator", "runs": s.runs, "latency_s": s.list_latency_s}
    with serve(config) as server:
        expected = server.seeded["runs"]
        contenders = _contenders(ctx, server, window_1=False, peers=False)
        await _race(ctx, server, contenders, s.list_rounds)
        ours, bare = contenders
        _ratios(row, contenders, expected)
        rounds = _rounds_of(contenders)
        if ours.failure is not None or bare.failure is not None or not rounds:
            row.met, row.verdict = False, f"did not complete: {ours.failure or bare.failure}"
        else:
            to_floor = [ours.work[i] / floor for i in range(rounds)]
            speedups = [bare.work[i] / ours.work[i] for i in range(rounds)]
            over, speedup = statistics.median(to_floor), statistics.median(speedups)
            same = ours.count == bare.count == expected
            row.met = over <= 1.3 and speedup >= 7 and same
            row.verdict = (
                f"{over:.2f}x the floor ({median(ours.work):.3f} s vs {floor:.3f} s; "
                f"{_spread(to_floor)}); {speedup:.1f}x the bare loop "
                f"({median(bare.work):.2f} s; {_spread(speedups)}); counts "
                f"{'equal' if same else 'differ'} ({ours.count:,})"
            )
            if not row.met:
                await _explain_miss(ctx, row, server, expected, "list-floor", median(bare.work))
                await _explain_rounds(row, server, median(ours.work), pages)
    with serve({"role": "emulator", "runs": s.memory_runs}) as big:
        small_peak, page = await _peak_mib(big, max_items=s.runs)
        large_peak, _ = await _peak_mib(big)
    page_mib = page.body + page.parsed
    # The words: no more than the window's pages, a page counted raw and parsed.
    memory_ok = large_peak <= DEFAULT_WINDOW * page_mib
    row.met = bool(row.met) and memory_ok
    window_bodies = (DEFAULT_WINDOW + 1) * page.body
    rest = large_peak - window_bodies - 2 * page.parsed - page.scratch
    row.verdict += (
        f"; memory: iterating {s.memory_runs:,} runs peaks at {large_peak:.1f} MiB, "
        f"{large_peak / page_mib:.1f} pages of {page_mib:.2f} MiB (raw and parsed) against a "
        f"window of {DEFAULT_WINDOW} ({'within' if memory_ok else 'above'}); its first "
        f"{s.runs:,} runs {small_peak:.1f} MiB"
    )
    row.notes.append(
        "Memory: the client process's tracemalloc peak while iterating with `async for` "
        f"(nothing kept) the first {s.runs:,} and then all {s.memory_runs:,} runs of one "
        "emulator in its own process, without added latency; the target is met when the peak "
        "is at most the window's pages, each counted as the bytes received plus what parsing "
        "them allocates. The peak comes while a page is decoded, and is made of: bodies as "
        f"received, the window's {DEFAULT_WINDOW} waiting their turn and the one being decoded "
        f"(at most {DEFAULT_WINDOW + 1} x {page.body:.2f} = {window_bodies:.2f} MiB; the "
        "waiting ones may not all have arrived yet); that page's decoded JSON "
        f"and `Run` models ({page.parsed:.2f} MiB); the decoder's working memory while it "
        f"reads one body ({_json_name()}: {page.scratch:.2f} MiB beyond what it returns, "
        "freed when it returns); the first page, decoded, which the paginator keeps for "
        f"`await pager` ({page.parsed:.2f} MiB); and {rest:.2f} MiB of the rest (connection "
        "buffers, requests, the rate budget's send times). Nothing grows with the runs "
        "iterated: the previous page is let go before the next is decoded, and the bodies "
        "are read off httpx's responses, which their reference cycles keep until the "
        "garbage collector runs (when the responses kept their bodies too, the peak was "
        "9.7 MiB for 100,000 runs against 6.4 MiB for the first 10,000)."
    )
    row.notes.append(_timing_note(rounds))
    row.notes.append(_decoder_note())
    row.notes.append(
        f"The floor counts round trips only: {pages} pages, the first alone (it says how "
        f"many there are), the other {pages - 1} in rounds of {DEFAULT_WINDOW}; it leaves "
        "out the emulator's own time to render a page and the client's to read it."
    )
    return row


@dataclass
class _Page:
    """One page of runs, in MiB: its body as received, what decoding it keeps (JSON and
    models), and what decoding needs beyond that while it runs (the decoder's scratch)."""

    body: float
    parsed: float
    scratch: float


def _json_name() -> str:
    return "orjson" if _json.ACCELERATED else "json"


async def _peak_mib(server: ServerProcess, max_items: int | None = None) -> tuple[float, _Page]:
    """The client's peak traced memory (MiB) iterating the runs, and one page's parts."""
    async with AsyncRunsClient(
        token=TOKEN, base_url=server.base_url, account_id=server.seeded["account_id"]
    ) as client:
        raw = await client.with_raw_response.list_runs(limit=100)
        tracemalloc.start()
        try:
            raw.parse()
            parsed, parsing = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        async for _ in client.list_runs(max_items=200):  # connections and first calls
            pass
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            async for _ in client.list_runs(max_items=max_items):
                pass
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    page = _Page(len(raw.content) / 2**20, parsed / 2**20, (parsing - parsed) / 2**20)
    return peak / 2**20, page


def _ratios(row: Row, contenders: list[_Contender], expected: int) -> None:
    ours = contenders[0]
    for c in contenders:
        m = c.measurement(expected)
        if m.ok and ours.work and ours.failure is None:
            m.ratio = median(c.work) / median(ours.work)
        row.measurements.append(m)


async def _explain_miss(
    ctx: Context, row: Row, server: ServerProcess, expected: int, name: str, reference_s: float
) -> None:
    """Profile dbt-runs' listing and say what its CPU alone costs."""
    async with _dbt_runs_list(server, window=None) as list_all:
        await profile_into(ctx, row, name, list_all)
        server.reset()
        cpu = time.process_time()
        await list_all()
        cpu = time.process_time() - cpu
    decode_s, models_s = await _cpu_floor(server, expected)
    row.notes.append(
        f"CPU: one listing took {cpu:.2f} s of the client process's CPU. For the same "
        f"{expected:,} runs already received, `json.loads` alone takes {decode_s:.2f} s and "
        f"dbt-runs' decode into typed `Run` models (JSON included) {models_s:.2f} s, whatever "
        f"the window; against {reference_s:.2f} s for the reference, decoding alone caps the "
        f"speed-up at {reference_s / models_s:.1f}x on this machine."
    )


async def _explain_rounds(row: Row, server: ServerProcess, listing_s: float, pages: int) -> None:
    """Say what each of the floor's rounds cost beyond the added latency: a lone page's round
    trip, and the client's CPU for the window's pages, which the responses queue behind."""
    rounds = 1 + math.ceil((pages - 1) / DEFAULT_WINDOW)
    async with AsyncRunsClient(
        token=TOKEN, base_url=server.base_url, account_id=server.seeded["account_id"]
    ) as client:
        lone = []
        for offset in range(0, 20 * 100, 100):
            start = time.perf_counter()
            await client.with_raw_response.list_runs(offset=offset, limit=100)
            lone.append(time.perf_counter() - start)
        server.reset()
        cpu = time.process_time()
        async for _ in client.list_runs():
            pass
        cpu = time.process_time() - cpu
        emulator_cpu = server.stats()["cpu_s"]
    per_page = cpu / pages
    row.notes.append(
        f"Rounds: the floor counts {rounds} rounds of the added latency alone; a lone page's "
        f"round trip (request, the emulator's answer, reading 160 KB; not decoded) takes "
        f"{statistics.median(lone) * 1000:.1f} ms, and the listing's rounds took "
        f"{listing_s / rounds * 1000:.1f} ms each. The client spends {per_page * 1000:.2f} ms "
        f"of CPU per page (sending, reading, decoding, the paginator), "
        f"{per_page * DEFAULT_WINDOW * 1000:.1f} ms for a window of {DEFAULT_WINDOW}, on one "
        "thread: a response that arrives while another page is read or decoded waits for it, "
        "and so does the request that refills its slot. The emulator spent "
        f"{emulator_cpu:.2f} s of CPU on the listing, in its own process (two cores in all)."
    )


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
        contenders = _contenders(
            ctx, server, window_1=False, peers=True, bare="bare httpx loop (no retries)"
        )
        await _race(ctx, server, contenders, s.repeats)
        ours = contenders[0]
        _ratios(row, contenders, expected)
        m = row.measurements[0]
        row.met = m.ok
        row.verdict = (
            f"{m.figures.get('count', 0):,} of {expected:,} runs in "
            f"{m.figures.get('listing_s', 0):.2f} s, {m.figures.get('retries', 0)} retries"
            if m.ok
            else f"failed: {m.note}"
        )
        row.notes.append(_timing_note(_rounds_of([ours])))
        row.notes.append(
            "Retries are the responses the emulator answered with an error status, counted on "
            "the wire; a contender without retries fails at the first one. The faults are drawn "
            "from a generator seeded afresh before every listing, so the n-th request of every "
            "contender meets the same outcome: every contender that completes meets the same "
            "number of faults, though which page meets them depends on the order its requests "
            "arrive in (a concurrent client's order varies from round to round)."
        )
    return row
