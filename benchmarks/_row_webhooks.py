"""Row 9: trigger and wait for 100 runs that finish over 60 s: webhook-driven waits vs polling.

The emulator (its own process) sends signed `job.run.completed` deliveries as runs finish; the
receiver (`create_webhook_app`) serves in this process and publishes to an `EventHub`. The
webhook contender is the public path, `wait_for_run(run, events=hub)`: each wait ends on its
run's event with one read of the run, and polls only every `DEFAULT_SAFETY_POLL` seconds
meanwhile. Polling is `wait_for_run(poll_interval=10)`, as a client shares its polls by default
(one list request per 100 runs), and with each wait polling alone (sharing off), as a
client without shared polls would.

Every contender triggers its own 100 runs of 100 CI jobs (parallel runs) whose durations are
spread evenly up to 60 s, on a fresh emulator, one contender after the other.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from benchmarks._baselines import HEADERS, TOKEN
from benchmarks._harness import Context
from benchmarks._results import Measurement, Row
from benchmarks._servers import ServerProcess, serve
from benchmarks._sizes import SMOKE


@dataclass(frozen=True)
class _Size:
    runs: int
    longest_s: float  # the last run finishes about this long after the triggers
    shortest_s: float
    poll_s: float  # the polling contender's interval
    speed: float  # of the emulator's clock: dbt's ~15 s around a job's command, shortened


FULL = _Size(runs=100, longest_s=60.0, shortest_s=6.0, poll_s=10.0, speed=5.0)
TINY = _Size(runs=10, longest_s=3.0, shortest_s=1.0, poll_s=0.5, speed=20.0)

Waiter = Callable[..., Awaitable[tuple[int, float, bool]]]


def _polling(share: bool) -> Waiter:
    async def wait(client: Any, hub: Any, run: Any, size: _Size) -> tuple[int, float, bool]:
        client._share_waits = share
        done = await client.wait_for_run(run, poll_interval=size.poll_s, timeout=600)
        return done.id, time.time(), False

    return wait


async def _webhooks(client: Any, hub: Any, run: Any, size: _Size) -> tuple[int, float, bool]:
    # The public path: an event ends the wait (one read of the run); the safety poll stays.
    # The second subscription only tells whether the event had come when the wait ended.
    with hub.subscribe(run.id) as arrived:
        done = await client.wait_for_run(run, events=hub, timeout=600)
        return done.id, time.time(), arrived.get_nowait() is not None


async def _serve_receiver(hub: Any) -> tuple[Any, Any, asyncio.Task[None], str]:
    import socket

    import uvicorn

    from dbt_runs.expose.webhooks import WEBHOOK_PATH, create_webhook_app

    app = create_webhook_app(hub, secret="set once the emulator answers")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn has no event)
        await asyncio.sleep(0.01)
    return app, server, task, f"http://127.0.0.1:{sock.getsockname()[1]}{WEBHOOK_PATH}"


async def _finished_at(server: ServerProcess, run_ids: list[int]) -> dict[int, float]:
    """Each run's `finished_at` in real epoch seconds (the emulator's clock is real time)."""
    import datetime as dt

    api = f"{server.base_url}/api/v2/accounts/{server.seeded['account_id']}"
    found: dict[int, float] = {}
    async with httpx.AsyncClient(timeout=30) as http:
        for offset in range(0, len(run_ids), 100):
            page = await http.get(
                f"{api}/runs/",
                params={"pk__in": run_ids[offset : offset + 100], "limit": 100},
                headers=HEADERS,
            )
            for run in page.json()["data"]:
                when = dt.datetime.fromisoformat(run["finished_at"])
                found[run["id"]] = when.timestamp()
    return found


async def _contender(name: str, waiter: Waiter, size: _Size, *, events: bool) -> Measurement:
    from dbt_runs import AsyncRunsClient
    from dbt_runs.webhooks import EventHub

    step = (size.longest_s - size.shortest_s) / max(1, size.runs - 1)
    spread = [size.shortest_s + n * step for n in range(size.runs)]
    config = {"role": "emulator", "runs": 0, "speed": size.speed, "spread_seconds": spread}
    hub = EventHub()
    receiver = None
    with serve(config) as server:
        if events:
            app, listener, serving, url = await _serve_receiver(hub)
            async with httpx.AsyncClient(base_url=server.base_url, headers=HEADERS) as http:
                created = await http.post(
                    f"/api/v3/accounts/{server.seeded['account_id']}/webhooks/subscriptions",
                    json={"name": "bench", "client_url": url, "event_types": ["job.run.completed"]},
                )
                created.raise_for_status()
            app.state.receiver.set_secret(created.json()["data"]["hmac_secret"])
            receiver = app.state.receiver
        server.reset()
        jobs = server.seeded["spread_job_ids"]
        async with AsyncRunsClient(
            token=TOKEN, base_url=server.base_url, account_id=server.seeded["account_id"]
        ) as client:
            started = time.perf_counter()
            runs = await asyncio.gather(*(client.trigger_run(j, cause="bench") for j in jobs))
            results = await asyncio.gather(*(waiter(client, hub, run, size) for run in runs))
            wall = time.perf_counter() - started
        stats = server.stats()
        finished = await _finished_at(server, [run_id for run_id, _, _ in results])
        if events:
            listener.should_exit = True
            await serving
    delays = sorted(known - finished[run_id] for run_id, known, _ in results)
    figures: dict[str, Any] = {
        "wall_s": wall,
        "requests": stats["requests"],
        "wait_requests": stats["requests"] - len(runs),  # one trigger each, on both sides
        "notice_delay_s": statistics.median(delays),
        "notice_p90_s": delays[int(0.9 * (len(delays) - 1))],
    }
    note = ""
    if events:
        figures["events"] = receiver.accepted if receiver is not None else 0
        polled = sum(1 for _, _, woken in results if not woken)
        if polled:
            note = f"{polled} run(s) noticed by the safety poll, not by an event"
    else:
        figures["poll_interval_s"] = size.poll_s
    non_2xx = {k: v for k, v in stats["statuses"].items() if not k.startswith("2")}
    if non_2xx:
        note = (note + "; " if note else "") + f"non-2xx answers: {non_2xx}"
    return Measurement(name, figures, note=note)


async def row_webhooks(ctx: Context) -> Row:
    """Row 9: webhook-driven waits (EventHub + safety poll) vs polling every 10 s."""
    from dbt_runs.webhooks import DEFAULT_SAFETY_POLL

    size = TINY if ctx.sizes is SMOKE else FULL
    row = Row(
        9,
        "webhooks",
        f"Trigger and wait for {size.runs} runs that finish over {size.longest_s:g} s: "
        f"webhook-driven waits vs polling every {size.poll_s:g} s",
        "wait requests: polling's / the contender's",
        "at least 10x fewer requests, and a median notice delay under 0.5 s",
    )
    contenders: list[tuple[str, Waiter, bool]] = [
        (f"polling every {size.poll_s:g} s, shared (wait_for_run)", _polling(True), False),
        (f"polling every {size.poll_s:g} s, each wait alone", _polling(False), False),
        ("webhooks: wait_for_run(events=hub)", _webhooks, True),
    ]
    for name, waiter, events in contenders:
        ctx.log(f"  {name}")
        try:
            row.measurements.append(await _contender(name, waiter, size, events=events))
        except Exception as exc:
            note = f"{type(exc).__name__}: {exc}"[:200]
            row.measurements.append(Measurement(name, ok=False, note=note))
    ok = [m for m in row.measurements if m.ok]
    if len(ok) != len(contenders):
        row.met, row.verdict = False, "a contender did not complete"
        return row
    shared, alone, webhooks = ok
    base = shared.num("wait_requests")
    for m in ok:
        m.ratio = base / m.num("wait_requests") if m.num("wait_requests") else None

    def fewer(m: Measurement, than: Measurement) -> str:
        theirs, ours = than.num("wait_requests"), m.num("wait_requests")
        if not ours:
            return f"none vs {int(theirs)}"
        return f"{theirs / ours:.1f}x fewer" if ours <= theirs else f"{ours / theirs:.1f}x more"

    row.met = webhooks.ratio is not None and webhooks.ratio >= 10
    row.met = row.met and webhooks.num("notice_delay_s") < 0.5
    row.verdict = (
        f"webhooks: {int(webhooks.num('wait_requests'))} wait requests "
        f"({fewer(webhooks, shared)} than shared polling's {int(base)}; "
        f"{fewer(webhooks, alone)} than lone polling's {int(alone.num('wait_requests'))}), "
        f"median notice {webhooks.num('notice_delay_s'):.3f} s against "
        f"{shared.num('notice_delay_s'):.2f} s and {alone.num('notice_delay_s'):.2f} s"
    )
    row.notes += [
        "Wait requests: every request the emulator answered during the contender's run, less "
        f"the {size.runs} triggers (one each, the same for all); `requests` counts them too. "
        "The ratio is against shared polling, what `wait_for_run` does by default; the "
        "webhook waits read each run once after its event (a full `Run`, its end confirmed), "
        "so they cost about one request per run whatever the runs' length, where polling "
        "costs one list request per 100 runs per interval while any runs.",
        f"Safety poll: {DEFAULT_SAFETY_POLL:g} s (`dbt_runs.webhooks.DEFAULT_SAFETY_POLL`), "
        f"longer than these runs, so no run here needs it; a run of {DEFAULT_SAFETY_POLL:g} s "
        f"or more costs one request per {DEFAULT_SAFETY_POLL:g} s, against one per "
        f"{size.poll_s:g} s polled.",
        "Notice delay: when the waiter had its answer (real time in this process) minus the "
        "run's `finished_at` (the emulator's clock is real time; its speed shortens runs). "
        "The emulator sends `job.run.completed` when the run's artifacts can be read, at its "
        "finish here (no artifact delay), over loopback HTTP to the receiver in this process.",
    ]
    return row
