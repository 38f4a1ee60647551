"""The trust review's findings, each where it was reproduced: never claim a run you did not
start, never hide one you did, and refuse hostile input without a 500 or an amplified echo."""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from dbt_runs import (
    AsyncRunsClient,
    InvalidArgumentError,
    RawResponse,
    RetryPolicy,
    Run,
    TriggerOutcomeUnknownError,
    _client,
    _reconcile,
)
from dbt_runs.expose.rest import create_app
from dbt_runs.testing import Emulator, Faults, RealClock

from .conftest import TOKEN, clock_kwargs

pytestmark = pytest.mark.anyio

CAUSE = "Triggered via dbt-runs"
_sent_marker: contextvars.ContextVar[str] = contextvars.ContextVar("sent_marker")


@pytest.fixture
def recorded_markers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remember, in each task, the marker its trigger was sent with."""
    real = _reconcile.new_marker

    def recording() -> str:
        marker = real()
        _sent_marker.set(marker)
        return marker

    monkeypatch.setattr(_client, "new_marker", recording)


async def _trigger(client: AsyncRunsClient) -> tuple[str, RawResponse[Run] | BaseException]:
    try:
        raw = await client.with_raw_response.trigger_run(1, cause=CAUSE)
    except TriggerOutcomeUnknownError as exc:
        return _sent_marker.get(), exc
    return _sent_marker.get(), raw


@pytest.mark.usefixtures("recorded_markers")
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_concurrent_identical_triggers_each_end_with_their_own_run_or_unknown(
    emulator: Emulator, seed: int
) -> None:
    # Twenty callers, same job, same cause, at once; some requests are lost on the way
    # (a gateway's 502 before dbt saw them), some answers on the way back (the run exists).
    emulator.faults = Faults(error_rates={502: 0.3}, ambiguous_trigger_rate=0.4, seed=seed)
    clients = [
        emulator.client(**clock_kwargs(emulator), retry=RetryPolicy(max_retries=4))
        for _ in range(20)
    ]
    try:
        outcomes = await asyncio.gather(*(_trigger(client) for client in clients))
    finally:
        for client in clients:
            await client.aclose()

    adopted: list[int] = []
    for marker, outcome in outcomes:
        if isinstance(outcome, TriggerOutcomeUnknownError):
            assert outcome.marker == marker
            continue
        assert isinstance(outcome, RawResponse)
        run = outcome.parse()
        # The run returned is the one this caller's request created: it carries its marker.
        assert emulator.run(run.id).cause == f"{CAUSE} {marker}"
        adopted.append(run.id)
    assert len(adopted) == len(set(adopted))
    kinds = {type(outcome).__name__ for _, outcome in outcomes}
    assert kinds == {"RawResponse", "TriggerOutcomeUnknownError"}, kinds  # both paths taken
    reconciled = [o for _, o in outcomes if isinstance(o, RawResponse) and o.reconciled]
    assert reconciled, "no answer was lost: the faults did not fire"
    # Every run created is accounted for: returned to its caller, or named as possibly
    # created to a caller told "unknown" (whose request may have reached dbt after all).
    created = {r.id for r in emulator.runs(job_id=1) if r.cause.startswith(CAUSE + " [")}
    unknown = {o.marker for _, o in outcomes if isinstance(o, TriggerOutcomeUnknownError)}
    for run_id in created - set(adopted):
        assert emulator.run(run_id).cause.removeprefix(CAUSE + " ") in unknown


@pytest.fixture
def real_time() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(token=TOKEN, runs=3, clock=RealClock(speed=1))
    with emulator.serve_in_thread() as server:
        yield emulator, server.base_url


def _cli(base_url: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update(DBT_API_KEY=TOKEN, DBT_CLOUD_BASE_URL=base_url, DBT_CLOUD_ACCOUNT_ID="1")
    script = Path(sys.executable).parent / "dbt-runs"
    return subprocess.Popen(
        [str(script), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_two_cli_triggers_where_one_request_is_lost_never_print_the_same_run(
    real_time: tuple[Emulator, str],
) -> None:
    emulator, base_url = real_time
    emulator.faults.fail_next(502, method="POST")  # lost before dbt saw it: no run
    processes = [_cli(base_url, "runs", "trigger", "1", "-q") for _ in range(2)]
    results = [(p.wait(timeout=60), *p.communicate()) for p in processes]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 5], results
    printed = [out.strip() for code, out, _ in results if code == 0]
    created = [r.id for r in emulator.runs(job_id=1) if r.cause.startswith(CAUSE + " [")]
    assert printed == [str(created[0])]
    assert len(created) == 1
    refused = next(err for code, _, err in results if code == 5)
    assert "may have reached dbt Cloud" in refused
    assert str(created[0]) not in refused


@pytest.fixture
async def adapter(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        emulator.client(**clock_kwargs(emulator)) as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(client)), base_url="http://127.0.0.1"
        ) as http,
    ):
        yield http


async def test_rest_never_answers_a_caller_with_another_callers_run(
    emulator: Emulator, adapter: httpx.AsyncClient
) -> None:
    emulator.faults.fail_next(502, method="POST")  # the first trigger is lost on the way
    first, second = await asyncio.gather(
        adapter.post("/v1/accounts/1/jobs/1/run"), adapter.post("/v1/accounts/1/jobs/1/run")
    )
    by_status = {first.status_code: first, second.status_code: second}
    assert sorted(by_status) == [200, 502], (first.text, second.text)
    assert "x-dbt-runs-reconciled" not in by_status[200].headers
    unknown = by_status[502].json()
    assert "may or may not have started" in unknown["status"]["user_message"]
    assert unknown["data"]["marker"].startswith("[dbt-runs:")
    assert unknown["data"]["candidate_run_ids"] == []


async def test_rest_a_trigger_answered_with_a_cut_body_is_reconciled_not_a_502(
    emulator: Emulator, adapter: httpx.AsyncClient
) -> None:
    before = emulator.run_count
    emulator.faults.fail_next_trigger_response("malformed")
    response = await adapter.post("/v1/accounts/1/jobs/1/run", json={"cause": "cut"})
    assert response.status_code == 200, response.text
    assert response.headers["x-dbt-runs-reconciled"] == "true"
    assert emulator.run_count == before + 1


# -- hostile input ----------------------------------------------------------------------------


async def test_deeply_nested_json_is_a_400_naming_the_body(
    emulator: Emulator, adapter: httpx.AsyncClient
) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    for content in (nested, b'{"cause": ' + nested + b"}"):
        response = await adapter.post(
            "/v1/accounts/1/jobs/1/run",
            content=content,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert set(response.json()["data"]) & {"body", "cause"}
    assert emulator.requests == []


async def test_a_lone_surrogate_is_refused_by_name_everywhere(
    emulator: Emulator, adapter: httpx.AsyncClient
) -> None:
    response = await adapter.post(
        "/v1/accounts/1/jobs/1/run",
        content=b'{"cause": "bad \\ud800 text"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "cause" in response.json()["data"]
    async with emulator.client() as client:
        with pytest.raises(InvalidArgumentError, match="cause must be valid Unicode"):
            await client.trigger_run(1, cause="bad \ud800 text")
    assert emulator.requests == []


async def test_an_error_never_amplifies_what_was_sent(adapter: httpx.AsyncClient) -> None:
    names = "&".join(f"unknown_parameter_{i:05d}=1" for i in range(2_500))
    assert len(names) > 59_000
    response = await adapter.get(f"/v1/accounts/1/runs?{names}")
    assert response.status_code == 400
    assert len(response.content) < 4_000
    body = response.json()
    assert len(body["data"]) == 11  # ten named, and a count of the rest
    assert "2490 more" in json.dumps(body)
    long_name = "x" * 10_000
    response = await adapter.get(f"/v1/accounts/1/runs?{long_name}=1")
    assert len(response.content) < 2_000


async def test_a_huge_artifact_path_is_refused_before_any_url_is_built(
    emulator: Emulator,
) -> None:
    async with emulator.client() as client:
        with pytest.raises(InvalidArgumentError, match="path must be at most 1024"):
            await client.get_run_artifact(1, "a" * 70_000)
    assert emulator.requests == []
