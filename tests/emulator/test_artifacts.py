"""Artifacts per step: what exists, what each contains, and large ones as a stream."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from emulator_support import API

from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio


async def finished_run(http: httpx.AsyncClient, emulator: Emulator, job: int, **body: Any) -> int:
    body.setdefault("cause", "artifacts test")
    response = await http.post(f"{API}/jobs/{job}/run/", json=body)
    run_id: int = response.json()["data"]["id"]
    emulator.clock.advance(900)
    return run_id


async def test_listing_is_the_last_steps_target_directory(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run_id = await finished_run(http, emulator, 2)
    body = (await http.get(f"{API}/runs/{run_id}/artifacts/")).json()
    assert body["status"]["code"] == 200
    assert "extra" not in body
    paths = body["data"]
    assert paths == sorted(paths)
    for name in ("manifest.json", "run_results.json", "catalog.json", "sources.json"):
        assert name in paths
    assert any(p.startswith("compiled/jaffle_shop/models/") for p in paths)
    assert any(p.startswith("run/jaffle_shop/models/") for p in paths)
    assert paths == emulator.artifact_paths(run_id)


async def test_json_artifacts_are_raw_json_without_the_envelope(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run_id = await finished_run(http, emulator, 2)
    for name in ("manifest.json", "run_results.json", "catalog.json", "sources.json"):
        response = await http.get(f"{API}/runs/{run_id}/artifacts/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == "application/json"
        assert int(response.headers["content-length"]) == len(response.content)
        doc = response.json()
        assert "status" not in doc
        assert doc["metadata"]["dbt_schema_version"].startswith("https://schemas.getdbt.com/dbt/")
        assert doc["metadata"]["env"]["DBT_CLOUD_RUN_ID"] == str(run_id)
    sql = await http.get(f"{API}/runs/{run_id}/artifacts/compiled/jaffle_shop/models/orders.sql")
    assert sql.status_code == 200
    assert sql.headers["content-type"].startswith("text/plain")
    assert "ref('stg_orders')" in sql.text


async def test_without_step_you_get_the_last_steps_version(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    """dbt's footgun, reproduced: the last step of job 2 is `dbt docs generate`."""
    run_id = await finished_run(http, emulator, 2, cause="[fail] in dbt test")
    steps = {s.command: s.index for s in emulator.steps(run_id)}
    assert "dbt docs generate" not in steps  # the run stopped at the failing dbt test step
    last = (await http.get(f"{API}/runs/{run_id}/artifacts/run_results.json")).json()
    assert last["args"]["which"] == "test"
    assert any(r["status"] == "fail" for r in last["results"])

    ok = await finished_run(http, emulator, 2)
    steps = {s.command: s.index for s in emulator.steps(ok)}
    latest = (await http.get(f"{API}/runs/{ok}/artifacts/run_results.json")).json()
    assert latest["args"]["which"] == "generate"
    assert latest["results"] == []
    run_step = (
        await http.get(f"{API}/runs/{ok}/artifacts/run_results.json?step={steps['dbt run']}")
    ).json()
    assert run_step["args"]["which"] == "run"
    assert {r["status"] for r in run_step["results"]} == {"success"}
    assert all(r["unique_id"].startswith("model.jaffle_shop.") for r in run_step["results"])


async def test_a_failing_build_reports_the_error_and_skips_downstream(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run_id = await finished_run(http, emulator, 1, cause="please [fail]")
    results = (await http.get(f"{API}/runs/{run_id}/artifacts/run_results.json")).json()
    by_id = {r["unique_id"]: r for r in results["results"]}
    assert by_id["model.jaffle_shop.orders"]["status"] == "error"
    assert "Database Error in model orders" in by_id["model.jaffle_shop.orders"]["message"]
    assert by_id["test.jaffle_shop.unique_orders_order_id"]["status"] == "skipped"
    assert by_id["model.jaffle_shop.customers"]["status"] == "success"


async def test_not_produced_is_404(http: httpx.AsyncClient, emulator: Emulator) -> None:
    run_id = await finished_run(http, emulator, 1)
    for path, step in (
        ("catalog.json", None),  # job 1 does not generate docs
        ("sources.json", None),
        ("manifest.json", 1),  # step 1 clones the repository: nothing in target/ yet
        ("manifest.json", 3),  # dbt deps writes nothing either
        ("manifest.json", 99),
        ("no/such/file.sql", None),
    ):
        query = f"?step={step}" if step is not None else ""
        response = await http.get(f"{API}/runs/{run_id}/artifacts/{path}{query}")
        assert response.status_code == 404, (path, step)
        assert response.json()["status"]["code"] == 404
    assert (
        await http.get(f"{API}/runs/{run_id}/artifacts/manifest.json?step=4")
    ).status_code == 200


async def test_a_run_without_artifacts_lists_null(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    queued = (await http.post(f"{API}/jobs/1/run/", json={"cause": "x"})).json()["data"]["id"]
    await http.post(f"{API}/runs/{queued}/cancel/")
    body = (await http.get(f"{API}/runs/{queued}/artifacts/")).json()
    assert body["data"] is None
    running = (await http.post(f"{API}/jobs/4/run/", json={"cause": "x"})).json()["data"]["id"]
    emulator.clock.advance(8)
    assert (await http.get(f"{API}/runs/{running}/artifacts/")).json()["data"] is None
    assert (await http.get(f"{API}/runs/{running}/artifacts/manifest.json")).status_code == 404


async def test_job_artifact_is_the_latest_runs(http: httpx.AsyncClient, emulator: Emulator) -> None:
    run_id = await finished_run(http, emulator, 2)
    doc = (await http.get(f"{API}/jobs/2/artifacts/catalog.json")).json()
    assert doc["metadata"]["env"]["DBT_CLOUD_RUN_ID"] == str(run_id)
    assert (await http.get(f"{API}/jobs/1/artifacts/catalog.json")).status_code == 404


async def test_a_padded_manifest_is_valid_json_of_the_announced_size() -> None:
    size = 3 * 1024 * 1024 + 17
    emulator = Emulator(runs=0, artifact_size=size)
    run_id = emulator.trigger_run(1)
    emulator.clock.advance(600)  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://e") as client:
        response = await client.get(
            f"{API}/runs/{run_id}/artifacts/manifest.json", headers={"Authorization": "Token t"}
        )
    assert response.status_code == 200
    length = int(response.headers["content-length"])
    assert length == len(response.content)
    assert size <= length < size + 4200
    doc = json.loads(response.content)
    assert "model.jaffle_shop.orders" in doc["nodes"]
    assert len(doc["nodes"]) > 700
    assert doc["parent_map"]["model.jaffle_shop.orders"]
