"""Finished runs are served from pre-encoded JSON: never stale, byte for byte what a fresh
rendering gives, whatever the clock, the request's host or a later run of the job changes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from emulator_support import API, HEADERS, check_run

from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio

DAY = 86400


@pytest.fixture
def emulator() -> Emulator:
    # A fixed UI root, so that `Emulator.run_json` (uncached) renders the same `href`.
    return Emulator(runs=150, seed=11, ui_url="https://cloud.getdbt.test")


def compact(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


async def listed(
    http: httpx.AsyncClient, emulator: Emulator, related: str = "", **params: Any
) -> list[dict[str, Any]]:
    """A runs page, checked against a fresh, uncached rendering of each of its runs."""
    if related:
        params["include_related"] = related
    response = await http.get(f"{API}/runs/", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    # Same bytes as encoding the whole envelope in one go, key order included.
    assert response.content == compact(body).encode()
    assert response.headers["content-length"] == str(len(response.content))
    data: list[dict[str, Any]] = body["data"]
    names = [r.strip() for r in related.split(",") if r.strip()]
    expected = [emulator.run_json(run["id"], include_related=names) for run in data]
    assert compact(data) == compact(expected)
    assert body["extra"]["pagination"]["count"] == len(data)
    return data


async def one(http: httpx.AsyncClient, emulator: Emulator, run_id: int) -> dict[str, Any]:
    (run,) = await listed(http, emulator, pk=run_id)
    check_run(run)
    response = await http.get(f"{API}/runs/{run_id}/")
    assert response.content == compact({**response.json(), "data": run}).encode()
    return run


@pytest.mark.parametrize(
    "related",
    [
        "",
        "trigger",
        "audit",
        "trigger,audit,used_repo_cache",
        "job",
        "environment",
        "trigger,job,environment,audit",
        "run_steps",
        "run_steps,debug_logs,job",
    ],
)
async def test_pages_match_a_fresh_rendering_as_the_clock_moves(
    http: httpx.AsyncClient, emulator: Emulator, related: str
) -> None:
    job = emulator.add_job("Nightly", step_seconds=30)
    emulator.trigger_run(job)
    for advance in (0, 5, 45, 200, 3 * 3600 + 7, 2 * DAY, 9 * DAY, 40 * DAY, 400 * DAY):
        emulator.clock.advance(advance)  # type: ignore[attr-defined]
        for offset in (0, 50, 100, 140):
            await listed(http, emulator, related, offset=offset, limit=25)
        await listed(http, emulator, related, order_by="-finished_at", limit=10)
    # Runs with their steps are rendered afresh every time.
    assert (len(emulator.app._router._run_cache) > 0) == ("run_steps" not in related)


async def test_one_run_in_turn_with_every_include_related(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    for related in ("", "trigger", "audit", "", "trigger,audit", "job", "environment", "trigger"):
        (run,) = await listed(http, emulator, related, limit=1)
        assert (run["trigger"] is None) == ("trigger" not in related)
        assert (run["job"] is None) == ("job" not in related)
        assert (run["environment"] is None) == ("environment" not in related)
        assert ("audit" in run) == ("audit" in related)


async def test_a_queued_run_is_never_served_stale(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    job = emulator.add_job("Hourly", step_seconds=60)
    run_id = emulator.trigger_run(job)
    queued = await one(http, emulator, run_id)
    assert (queued["status"], queued["finished_at"]) == (1, None)
    emulator.clock.advance(10)  # type: ignore[attr-defined]
    running = await one(http, emulator, run_id)
    assert running["status"] == 3
    emulator.clock.advance(300)  # type: ignore[attr-defined]
    done = await one(http, emulator, run_id)
    assert done["status"] == 10
    assert done["finished_at"] is not None
    assert done["duration"] != running["duration"]
    # Served from the cache from now on: only the humanized instants move.
    emulator.clock.advance(3 * DAY + 2 * 3600)  # type: ignore[attr-defined]
    later = await one(http, emulator, run_id)
    assert later["created_at_humanized"] == "3 days, 2 hours ago"
    assert later["finished_at_humanized"] == "3 days, 2 hours ago"
    assert done["created_at_humanized"] != later["created_at_humanized"]
    moving = {"created_at_humanized", "finished_at_humanized"}
    assert {k: v for k, v in later.items() if k not in moving} == {
        k: v for k, v in done.items() if k not in moving
    }
    emulator.clock.advance(5 * DAY)  # type: ignore[attr-defined]
    assert (await one(http, emulator, run_id))["created_at_humanized"] == "1 week, 1 day ago"


async def test_cancel_shows_at_once_and_a_finished_run_stays_as_it_was(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    job = emulator.add_job("Long", step_seconds=600)
    run_id = emulator.trigger_run(job)
    emulator.clock.advance(30)  # type: ignore[attr-defined]
    assert (await one(http, emulator, run_id))["status"] == 3
    response = await http.post(f"{API}/runs/{run_id}/cancel/")
    assert response.status_code == 200
    cancelled = await one(http, emulator, run_id)
    assert (cancelled["status"], cancelled["status_message"]) == (30, "Cancelled by user.")
    # Cancelling a finished run changes nothing, cached or not.
    emulator.clock.advance(60)  # type: ignore[attr-defined]
    before = await one(http, emulator, run_id)
    assert (await http.post(f"{API}/runs/{run_id}/cancel/")).status_code == 200
    assert await one(http, emulator, run_id) == before


async def test_a_timeout_ends_a_listed_run(http: httpx.AsyncClient, emulator: Emulator) -> None:
    job = emulator.add_job("Bounded", step_seconds=500, timeout_seconds=60)
    run_id = emulator.trigger_run(job)
    emulator.clock.advance(20)  # type: ignore[attr-defined]
    assert (await one(http, emulator, run_id))["status"] == 3
    emulator.clock.advance(120)  # type: ignore[attr-defined]
    timed_out = await one(http, emulator, run_id)
    assert timed_out["status"] == 30
    assert "timed out" in timed_out["status_message"]
    assert timed_out["run_duration"] == "00:01:00"


async def test_a_retry_takes_can_retry_away_from_the_cached_failed_run(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    job = emulator.add_job("Flaky", step_seconds=20, outcome="error")
    failed_id = emulator.trigger_run(job)
    emulator.clock.advance(300)  # type: ignore[attr-defined]
    failed = await one(http, emulator, failed_id)
    assert (failed["status"], failed["can_retry"]) == (20, True)
    assert (await one(http, emulator, failed_id)) == failed  # now from the cache
    response = await http.post(f"{API}/runs/{failed_id}/retry/")
    assert response.status_code == 200, response.text
    retry_id = response.json()["data"]["id"]
    again = await one(http, emulator, failed_id)
    assert again["can_retry"] is False
    assert again["retry_not_supported_reason"] == "RETRY_NOT_LATEST_RUN"
    assert (await one(http, emulator, retry_id))["retrying_run_id"] == failed_id


async def test_an_embedded_job_follows_the_jobs_later_runs(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    job = emulator.add_job("Broken", step_seconds=20, outcome="error")
    first = emulator.trigger_run(job)
    emulator.clock.advance(300)  # type: ignore[attr-defined]
    for _ in range(2):  # rendered, then from the cache
        (run,) = await listed(http, emulator, "job", pk=first)
        assert run["job"]["run_failure_count"] == 1
    emulator.trigger_run(job)
    emulator.clock.advance(300)  # type: ignore[attr-defined]
    (run,) = await listed(http, emulator, "job", pk=first)
    assert run["job"]["run_failure_count"] == 2
    emulator.set_job_outcome(job, "success")
    emulator.trigger_run(job)
    emulator.clock.advance(300)  # type: ignore[attr-defined]
    (run,) = await listed(http, emulator, "job", pk=first)
    assert run["job"]["run_failure_count"] == 0


async def test_href_follows_the_host_each_request_came_to() -> None:
    emulator = Emulator(runs=20, seed=2)
    hrefs = []
    for host in ("http://one.test", "http://two.test", "http://one.test"):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=emulator.app), base_url=host, headers=HEADERS
        ) as http:
            response = await http.get(f"{API}/runs/", params={"limit": 3})
            hrefs.append([run["href"] for run in response.json()["data"]])
    assert all(h.startswith("http://one.test/") for h in hrefs[0])
    assert all(h.startswith("http://two.test/") for h in hrefs[1])
    assert hrefs[2] == hrefs[0]


@pytest.fixture
async def nul_http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator.test", headers=HEADERS
    ) as client:
        yield client


@pytest.mark.parametrize("cause", ["\x00", "\x01", "\x02", "\x03", "\x00 and \x01"])
async def test_control_characters_in_a_cause_are_encoded_like_any_other(
    nul_http: httpx.AsyncClient, emulator: Emulator, cause: str
) -> None:
    run_id = emulator.trigger_run(emulator.add_job("Odd"), cause=cause)
    emulator.clock.advance(600)  # type: ignore[attr-defined]
    for _ in range(2):
        (run,) = await listed(nul_http, emulator, "trigger,job,environment", pk=run_id)
        assert run["trigger"]["cause"] == cause
        assert run["created_at_humanized"] == "10 minutes ago"


def _reference_humanize(seconds: float) -> str:
    """Django's timesince as dbt shows it, unit by unit, with no shortcut."""
    units = [(365 * DAY, "year"), (30 * DAY, "month"), (7 * DAY, "week"), (DAY, "day")]
    units += [(3600, "hour"), (60, "minute"), (1, "second")]

    def unit(count: int, name: str) -> str:
        return f"{count} {name}" + ("" if count == 1 else "s")

    total = max(0, int(seconds))
    if total == 0:
        return "0 minutes"
    for i, (size, name) in enumerate(units):
        if total >= size:
            text = unit(total // size, name)
            if i + 1 < len(units):
                rest = (total % size) // units[i + 1][0]
                if rest:
                    text += f", {unit(rest, units[i + 1][1])}"
            return text
    raise AssertionError


def test_humanized_durations_from_the_cache_match_the_plain_rule() -> None:
    import random

    from dbt_runs.testing._humanize import humanize_seconds

    rng = random.Random(5)
    values: list[float] = [rng.uniform(-5, 3e8) for _ in range(20_000)]
    for edge in (60, 3600, DAY, 7 * DAY, 30 * DAY, 365 * DAY, 13 * 30 * DAY, 2 * 365 * DAY):
        values += [edge + d + f for d in range(-90, 90) for f in (0.0, 0.5)]
    values += [3 * DAY + 2 * 3600 + 59.9, 35 * DAY + 6 * DAY + 23 * 3600]
    for value in values:
        assert humanize_seconds(value) == _reference_humanize(value), value
