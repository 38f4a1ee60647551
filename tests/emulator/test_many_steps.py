"""A job of many steps (seeded job 6): a failure in the middle, and the steps after it.

dbt Cloud stops a run at its first failing command: the steps after it never run, `GET
runs/{id}/retry/` lists them as skipped, and without `step` an artifact is the one the last
step that ran left (its `target/` directory at that point).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_support import API

from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio

PIPELINE = 6
COMMANDS = [
    "dbt deps",
    "dbt seed",
    "dbt source freshness",
    "dbt run --select staging",
    "dbt run --exclude staging",
    "dbt test",
    "dbt snapshot",
]


async def finished_run(http: httpx.AsyncClient, emulator: Emulator, cause: str) -> dict[str, Any]:
    response = await http.post(f"{API}/jobs/{PIPELINE}/run/", json={"cause": cause})
    run_id = response.json()["data"]["id"]
    emulator.clock.advance(3600)
    body: dict[str, Any] = (
        await http.get(f"{API}/runs/{run_id}/?include_related=run_steps")
    ).json()["data"]
    return body


async def results_of(http: httpx.AsyncClient, run_id: int, step: int | None = None) -> list[Any]:
    query = "" if step is None else f"?step={step}"
    response = await http.get(f"{API}/runs/{run_id}/artifacts/run_results.json{query}")
    assert response.status_code == 200, response.text
    results: list[Any] = response.json()["results"]
    return results


async def test_the_seeded_job_has_one_step_per_command(http: httpx.AsyncClient) -> None:
    job = (await http.get(f"{API}/jobs/{PIPELINE}/")).json()["data"]
    assert job["execute_steps"] == COMMANDS[1:]
    assert len(job["execute_steps"]) >= 5


async def test_a_success_runs_every_step(http: httpx.AsyncClient, emulator: Emulator) -> None:
    run = await finished_run(http, emulator, "nightly")
    assert run["status"] == 10
    names = [step["name"] for step in run["run_steps"]]
    assert names == [
        "Clone git repository",
        "Create profile from connection Snowflake",
        *(f"Invoke dbt with `{command}`" for command in COMMANDS),
    ]
    assert [step["index"] for step in run["run_steps"]] == list(range(1, 10))
    staging = await results_of(http, run["id"], 6)
    assert {r["unique_id"] for r in staging} == {
        "model.jaffle_shop.stg_customers",
        "model.jaffle_shop.stg_orders",
        "model.jaffle_shop.stg_payments",
    }
    rest = await results_of(http, run["id"], 7)
    assert {r["unique_id"] for r in rest} == {
        "model.jaffle_shop.customers",
        "model.jaffle_shop.orders",
    }


async def test_a_failure_in_the_middle_skips_the_steps_after_it(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run = await finished_run(http, emulator, "nightly [fail]")
    assert (run["status"], run["status_message"]) == (20, None)
    steps = run["run_steps"]
    assert [s["status"] for s in steps] == [10] * 6 + [20]
    assert steps[-1]["name"] == "Invoke dbt with `dbt run --exclude staging`"
    assert steps[-1]["index"] == 7
    details = (await http.get(f"{API}/runs/{run['id']}/retry/")).json()["data"]
    assert details == {
        "failed_step": "dbt run --exclude staging",
        "skipped_steps": ["dbt test", "dbt snapshot"],
    }
    # Without `step`, run_results.json is the failing step's: the last that ran.
    last = await results_of(http, run["id"])
    assert last == await results_of(http, run["id"], 7)
    assert "error" in {r["status"] for r in last}
    assert all(r["status"] == "success" for r in await results_of(http, run["id"], 6))
    for index in (8, 9):
        missing = await http.get(f"{API}/runs/{run['id']}/artifacts/run_results.json?step={index}")
        assert missing.status_code == 404
    assert run["can_retry"] is True


async def test_a_stale_source_stops_the_run_at_the_freshness_step(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run = await finished_run(http, emulator, "nightly [fail:freshness]")
    steps = run["run_steps"]
    assert [s["status"] for s in steps] == [10] * 4 + [20]
    assert steps[-1]["name"] == "Invoke dbt with `dbt source freshness`"
    details = (await http.get(f"{API}/runs/{run['id']}/retry/")).json()["data"]
    assert details["skipped_steps"] == COMMANDS[3:]
    sources = (await http.get(f"{API}/runs/{run['id']}/artifacts/sources.json")).json()
    assert "error" in {r["status"] for r in sources["results"]}


async def test_a_failing_test_stops_the_run_before_the_snapshot(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run = await finished_run(http, emulator, "nightly [fail:test]")
    assert [s["status"] for s in run["run_steps"]][-2:] == [10, 20]
    assert run["run_steps"][-1]["name"] == "Invoke dbt with `dbt test`"
    details = (await http.get(f"{API}/runs/{run['id']}/retry/")).json()["data"]
    assert details["skipped_steps"] == ["dbt snapshot"]


async def test_seeded_history_has_failures_in_the_middle(emulator: Emulator) -> None:
    failed = emulator.runs(job_id=PIPELINE, status=20)
    assert failed
    stopped_at = {len(emulator.steps(info.id)) for info in failed}
    assert stopped_at - {9}, "some seeded runs fail before the last step"
    assert all(len(emulator.steps(i.id)) == 9 for i in emulator.runs(job_id=PIPELINE, status=10))
