"""What dbt refuses, and how: retries dbt would not start, reruns, and jobs that do not exist.

Every refusal is dbt's envelope, checked against the captured error bodies in the reference
set (`examples/errors/`) and the document's `ResponseStatus`. A refused retry creates no run.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_support import API, example, validate_status

from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio


def assert_refused(response: httpx.Response, reason: str) -> None:
    """dbt's 400 envelope, naming the reason under `data.run_id`."""
    captured = example("errors/400_invalid_status__in.json")
    body = response.json()
    assert response.status_code == 400
    validate_status(body)
    assert body["status"] == captured["status"]
    assert list(body["data"]) == ["run_id"]
    assert reason in body["data"]["run_id"]


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404
    validate_status(response.json())
    assert response.json() == example("errors/404_not_found.json")


async def trigger(http: httpx.AsyncClient, job: int, cause: str) -> dict[str, Any]:
    response = await http.post(f"{API}/jobs/{job}/run/", json={"cause": cause})
    assert response.status_code == 200
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_retrying_a_run_that_did_not_fail(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run = await trigger(http, 1, "fine")
    emulator.clock.advance(600)
    before = emulator.run_count
    assert_refused(await http.post(f"{API}/runs/{run['id']}/retry/"), "RETRY_NOT_FAILED_RUN")
    assert_refused(await http.get(f"{API}/runs/{run['id']}/retry/"), "RETRY_NOT_FAILED_RUN")
    cancelled = await trigger(http, 1, "to cancel")
    await http.post(f"{API}/runs/{cancelled['id']}/cancel/")
    assert_refused(await http.post(f"{API}/runs/{cancelled['id']}/retry/"), "RETRY_NOT_FAILED_RUN")
    assert emulator.run_count == before + 1  # only the run that was cancelled


async def test_retrying_a_run_still_in_progress(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run = await trigger(http, 1, "slow [fail]")
    emulator.clock.advance(10)
    assert emulator.run(run["id"]).status in {2, 3}
    before = emulator.run_count
    response = await http.post(f"{API}/runs/{run['id']}/retry/")
    assert_refused(response, "RETRY_NOT_FAILED_RUN")
    assert emulator.run_count == before


async def test_retrying_a_failed_run_that_is_not_the_latest(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    failed = await trigger(http, 1, "first [fail]")
    await trigger(http, 1, "second")
    emulator.clock.advance(600)
    shown = (await http.get(f"{API}/runs/{failed['id']}/")).json()["data"]
    assert (shown["status"], shown["can_retry"]) == (20, False)
    assert shown["retry_not_supported_reason"] == "RETRY_NOT_LATEST_RUN"
    before = emulator.run_count
    assert_refused(await http.post(f"{API}/runs/{failed['id']}/retry/"), "RETRY_NOT_LATEST_RUN")
    assert emulator.run_count == before


@pytest.mark.parametrize(
    ("job", "cause", "reason"),
    [
        (7, "check [fail]", "RETRY_UNSUPPORTED_CMD"),  # `dbt source freshness` has no retry
        (1, "big [fail:memory]", "RETRY_NO_RUN_RESULTS"),  # stopped before run_results.json
    ],
)
async def test_retrying_what_dbt_retry_cannot_resume(
    http: httpx.AsyncClient, emulator: Emulator, job: int, cause: str, reason: str
) -> None:
    run = await trigger(http, job, cause)
    emulator.clock.advance(3600)
    assert_refused(await http.post(f"{API}/runs/{run['id']}/retry/"), reason)


async def test_retrying_the_latest_failed_run_is_accepted(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    failed = await trigger(http, 1, "nightly [fail]")
    emulator.clock.advance(600)
    retried = await http.post(f"{API}/runs/{failed['id']}/retry/")
    assert retried.status_code == 200
    assert retried.json()["data"]["retrying_run_id"] == failed["id"]


async def test_rerun_while_a_run_of_the_job_is_in_progress_queues_a_new_run(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    """dbt: rerun retries the job's latest run "if the run failed. Otherwise trigger a new
    run." A run in progress has not failed: a new run, which waits behind it."""
    running = await trigger(http, 1, "long")
    emulator.clock.advance(10)
    response = await http.post(f"{API}/jobs/1/rerun/")
    assert response.status_code == 200
    new = response.json()["data"]
    assert new["id"] != running["id"]
    assert new["retrying_run_id"] is None
    assert new["status"] == 1
    assert new["blocked_by"] == [running["id"]]
    assert new["trigger"]["steps_override"] is None


async def test_rerun_after_a_failure_resumes_it(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    failed = await trigger(http, 1, "nightly [fail]")
    emulator.clock.advance(600)
    new = (await http.post(f"{API}/jobs/1/rerun/")).json()["data"]
    assert new["retrying_run_id"] == failed["id"]
    assert new["trigger"]["cause_category"] == "rerun"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/jobs/999/"),
        ("POST", "/jobs/999/run/"),
        ("POST", "/jobs/999/rerun/"),
        ("GET", "/jobs/999/artifacts/manifest.json"),
        ("GET", "/runs/1/retry/"),
        ("POST", "/runs/1/retry/"),
    ],
)
async def test_what_does_not_exist_is_dbts_404(
    http: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await http.request(method, f"{API}{path}", json={"cause": "x"})
    assert_not_found(response)
