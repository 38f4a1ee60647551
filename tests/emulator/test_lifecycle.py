"""Runs move 1 -> 2 -> 3 -> 10/20/30 on the clock, with every derived field kept true."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_support import API, check_run

from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio


async def trigger(http: httpx.AsyncClient, job_id: int, **body: Any) -> dict[str, Any]:
    body.setdefault("cause", "Triggered by a test")
    response = await http.post(f"{API}/jobs/{job_id}/run/", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def get(http: httpx.AsyncClient, run_id: int, related: str = "") -> dict[str, Any]:
    query = f"?include_related={related}" if related else ""
    response = await http.get(f"{API}/runs/{run_id}/{query}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    check_run(data)
    return data


async def test_trigger_returns_the_queued_run_with_trigger_and_job(
    http: httpx.AsyncClient,
) -> None:
    run = await trigger(
        http,
        1,
        cause="Kicked off from CI",
        git_branch="feature/x",
        schema_override="dbt_pr_12",
        threads_override=8,
        steps_override=["dbt seed", "dbt build --select orders+"],
        generate_docs_override=True,
        timeout_seconds_override=3000,
    )
    check_run(run)
    assert run["status"] == 1
    assert run["git_branch"] is None
    assert run["git_sha"] is None
    trig = run["trigger"]
    assert trig["cause"] == trig["cause_humanized"] == "Kicked off from CI"
    assert trig["cause_category"] == "api"
    assert trig["git_branch"] == "feature/x"
    assert trig["schema_override"] == "dbt_pr_12"
    assert trig["threads_override"] == 8
    assert trig["steps_override"] == ["dbt seed", "dbt build --select orders+"]
    assert trig["generate_docs_override"] is True
    assert trig["timeout_seconds_override"] == 3000
    assert trig["id"] == run["trigger_id"]
    assert run["job"]["id"] == 1
    assert run["job"]["execute_steps"] == ["dbt build"]
    assert run["environment"] is None
    assert run["run_steps"] == []


async def test_a_run_goes_through_every_status(http: httpx.AsyncClient, emulator: Emulator) -> None:
    run = await trigger(http, 1)
    seen = [run["status"]]
    for _ in range(70):
        emulator.clock.advance(1)
        current = await get(http, run["id"])
        if current["status"] != seen[-1]:
            seen.append(current["status"])
    assert seen == [1, 2, 3, 10]
    final = await get(http, run["id"], "run_steps")
    assert final["git_branch"] == "main"
    assert len(final["git_sha"]) == 40
    assert final["artifacts_saved"] is True
    assert final["artifact_s3_path"] == f"prod-us-c1/runs/{run['id']}/artifacts/target"
    assert final["notifications_sent"] is True
    names = [step["name"] for step in final["run_steps"]]
    assert names == [
        "Clone git repository",
        "Create profile from connection Snowflake",
        "Invoke dbt with `dbt deps`",
        "Invoke dbt with `dbt build`",
    ]
    assert [step["index"] for step in final["run_steps"]] == [1, 2, 3, 4]
    assert all(step["status"] == 10 for step in final["run_steps"])
    assert "Completed successfully" in final["run_steps"][-1]["logs"]


async def test_steps_appear_as_they_start_and_logs_grow(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run = await trigger(http, 1)
    emulator.clock.advance(5.5)
    early = await get(http, run["id"], "run_steps")
    assert early["status"] == 3
    assert [s["status"] for s in early["run_steps"]] == [3]
    emulator.clock.advance(20)
    mid = await get(http, run["id"], "run_steps")
    build = mid["run_steps"][-1]
    assert build["name"] == "Invoke dbt with `dbt build`"
    assert build["status"] == 3
    assert build["finished_at"] is None
    emulator.clock.advance(30)
    done = await get(http, run["id"], "run_steps")
    assert len(done["run_steps"][-1]["logs"]) > len(build["logs"])


async def test_runs_of_one_job_wait_for_each_other(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    first = await trigger(http, 1)
    second = await trigger(http, 1)
    third = await trigger(http, 1)
    assert second["blocked_by"] == [first["id"]]
    assert third["blocked_by"] == [first["id"], second["id"]]
    emulator.clock.advance(30)
    assert (await get(http, first["id"]))["status"] == 3
    blocked = await get(http, second["id"])
    assert blocked["status"] == 1
    assert blocked["blocked_by"] == [first["id"]]
    emulator.clock.advance(40)
    one, two = await get(http, first["id"]), await get(http, second["id"])
    assert one["status"] == 10
    assert two["status"] in {2, 3}
    assert two["dequeued_at"] >= one["finished_at"]
    assert (await get(http, third["id"]))["blocked_by"] == [second["id"]]


async def test_ci_runs_run_in_parallel(http: httpx.AsyncClient, emulator: Emulator) -> None:
    first, second = await trigger(http, 4), await trigger(http, 4)
    assert second["blocked_by"] == []
    emulator.clock.advance(10)
    assert (await get(http, first["id"]))["status"] == 3
    assert (await get(http, second["id"]))["status"] == 3


@pytest.mark.parametrize("wait", [0, 2, 20])
async def test_cancel_in_any_state(http: httpx.AsyncClient, emulator: Emulator, wait: int) -> None:
    run = await trigger(http, 1)
    emulator.clock.advance(wait)
    before = (await get(http, run["id"]))["status"]
    assert before == {0: 1, 2: 2, 20: 3}[wait]
    response = await http.post(f"{API}/runs/{run['id']}/cancel/")
    assert response.status_code == 200
    cancelled = response.json()["data"]
    check_run(cancelled)
    assert cancelled["status"] == 30
    assert cancelled["status_message"] == "Cancelled by user."
    assert cancelled["trigger"] is None
    assert cancelled["job"] is None
    if before == 1:
        assert cancelled["dequeued_at"] is None
        assert cancelled["started_at"] is None
    emulator.clock.advance(600)
    later = await get(http, run["id"], "run_steps")
    assert later["status"] == 30
    assert later["finished_at"] == cancelled["finished_at"]
    if before == 3:
        assert later["run_steps"][-1]["status"] == 30


async def test_cancel_does_nothing_to_a_finished_run(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run = await trigger(http, 1)
    emulator.clock.advance(120)
    done = await get(http, run["id"])
    response = await http.post(f"{API}/runs/{run['id']}/cancel/")
    assert response.status_code == 200
    after = response.json()["data"]
    assert after["status"] == 10
    assert after["finished_at"] == done["finished_at"]


async def test_cancelling_the_running_run_unblocks_the_next(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    first, second = await trigger(http, 1), await trigger(http, 1)
    emulator.clock.advance(20)
    await http.post(f"{API}/runs/{first['id']}/cancel/")
    emulator.clock.advance(2)
    assert (await get(http, second["id"]))["status"] in {2, 3}


async def test_a_run_past_its_timeout_ends_cancelled_with_dbts_message(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run = await trigger(http, 5)
    emulator.clock.advance(3600)
    done = await get(http, run["id"], "run_steps")
    assert done["status"] == 30
    assert done["status_message"] == (
        "This run timed out after running for 10 minutes, which exceeded the configured "
        "timeout of 600 seconds."
    )
    assert done["run_duration"] == "00:10:00"
    assert done["run_steps"][-1]["status"] == 30


async def test_timeout_override_applies(http: httpx.AsyncClient, emulator: Emulator) -> None:
    run = await trigger(http, 1, timeout_seconds_override=20)
    emulator.clock.advance(600)
    done = await get(http, run["id"])
    assert done["status"] == 30
    assert "configured timeout of 20 seconds" in done["status_message"]


async def test_a_fail_cause_ends_in_error_at_the_failing_step(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run = await trigger(http, 2, cause="Nightly [fail] please")
    emulator.clock.advance(600)
    done = await get(http, run["id"], "run_steps")
    assert done["status"] == 20
    assert done["is_error"] is True
    steps = done["run_steps"]
    assert steps[-1]["name"] == "Invoke dbt with `dbt test`"
    assert steps[-1]["status"] == 20
    assert all(s["status"] == 10 for s in steps[:-1])
    assert "Completed with 1 error" in steps[-1]["logs"]
    assert done["has_docs_generated"] is False
    assert done["has_sources_generated"] is True
    assert done["can_retry"] is True
    assert done["retry_not_supported_reason"] is None


async def test_job_outcome_is_settable(http: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.set_job_outcome(1, "error")
    failing = await trigger(http, 1)
    emulator.clock.advance(120)
    assert (await get(http, failing["id"]))["status"] == 20
    emulator.set_job_outcome(1, "cancelled")
    cancelled = await trigger(http, 1)
    emulator.clock.advance(120)
    assert (await get(http, cancelled["id"]))["status"] == 30
    with pytest.raises(ValueError, match="outcome must be one of"):
        emulator.set_job_outcome(1, "exploded")  # type: ignore[arg-type]


async def test_job_duration_is_settable(http: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.set_job_duration(1, 600)
    run = await trigger(http, 1)
    emulator.clock.advance(300)
    assert (await get(http, run["id"]))["status"] == 3
    emulator.clock.advance(400)
    assert (await get(http, run["id"]))["status"] == 10


async def test_retry_only_where_dbt_allows_it(http: httpx.AsyncClient, emulator: Emulator) -> None:
    ok = await trigger(http, 1)
    emulator.clock.advance(120)
    refused = await http.post(f"{API}/runs/{ok['id']}/retry/")
    assert refused.status_code == 400
    assert "RETRY_NOT_FAILED_RUN" in refused.json()["data"]["run_id"]

    failed = await trigger(http, 3)
    emulator.clock.advance(300)
    details = await http.get(f"{API}/runs/{failed['id']}/retry/")
    assert details.status_code == 200
    assert details.json()["data"] == {
        "failed_step": "dbt run --select orders+",
        "skipped_steps": [],
    }
    retried = await http.post(f"{API}/runs/{failed['id']}/retry/")
    assert retried.status_code == 200
    new = retried.json()["data"]
    check_run(new)
    assert new["id"] != failed["id"]
    assert new["retrying_run_id"] == failed["id"]
    assert new["trigger"]["cause_category"] == "rerun"
    # The failed run is no longer its job's latest run: dbt refuses a second retry.
    again = await get(http, failed["id"])
    assert again["can_retry"] is False
    assert again["retry_not_supported_reason"] == "RETRY_NOT_LATEST_RUN"


async def test_rerun_retries_a_failed_job_or_triggers_a_new_run(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    failed = await trigger(http, 1, cause="[fail]")
    emulator.clock.advance(120)
    rerun = (await http.post(f"{API}/jobs/1/rerun/")).json()["data"]
    assert rerun["retrying_run_id"] == failed["id"]
    emulator.clock.advance(120)
    fresh = (await http.post(f"{API}/jobs/1/rerun")).json()["data"]
    assert fresh["retrying_run_id"] is None
    assert fresh["trigger"]["cause_category"] == "api"


async def test_step_endpoint(http: httpx.AsyncClient, emulator: Emulator) -> None:
    run = await trigger(http, 1)
    emulator.clock.advance(120)
    full = await get(http, run["id"], "run_steps")
    step = full["run_steps"][3]
    response = await http.get(f"{API}/steps/{step['id']}/?include_related=debug_logs")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == step["id"]
    assert data["run_id"] == run["id"]
    assert data["index"] == 4
    assert data["run_step_command"] == {"run_step_id": step["id"], "dbt_command": "dbt build"}
    assert "[debug]" in data["debug_logs"]
    assert (await http.get(f"{API}/steps/{step['id'] + 50}/")).status_code == 404


async def test_python_api_mirrors_the_wire(emulator: Emulator) -> None:
    run_id = emulator.trigger_run(1, cause="from Python", git_branch="dev")
    assert emulator.run(run_id).status_humanized == "Queued"
    emulator.clock.advance(120)
    info = emulator.run(run_id)
    assert info.status == 10
    assert info.is_complete
    assert info.cause == "from Python"
    assert [s.index for s in emulator.steps(run_id)] == [1, 2, 3, 4]
    assert emulator.run_json(run_id)["git_branch"] == "dev"
    assert "manifest.json" in emulator.artifact_paths(run_id)
    assert emulator.runs(job_id=1)[-1].id == run_id
    with pytest.raises(ValueError, match="cause"):
        emulator.trigger_run(1, cause="")
    with pytest.raises(KeyError):
        emulator.run(1)
    job = emulator.add_job("Parse only", execute_steps=["dbt parse"], outcome="success")
    parsed = emulator.trigger_run(job)
    emulator.clock.advance(120)
    assert emulator.artifact_paths(parsed) == ["manifest.json"]


async def test_cell_sized_ids_stay_exact() -> None:
    emulator = Emulator(runs=3, first_run_id=70403110257794, account_id=70403103922125)
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://e", headers={"Authorization": "Token t"}
    ) as client:
        root = "/api/v2/accounts/70403103922125"
        listed = (await client.get(f"{root}/runs/")).json()
        assert [r["id"] for r in listed["data"]] == [70403110257794, 70403110257795, 70403110257796]
        assert listed["extra"]["filters"]["account_id"] == 70403103922125
        run = (await client.get(f"{root}/runs/70403110257796/?include_related=run_steps")).json()
        assert run["data"]["run_steps"][0]["id"] == 7040311025779601
    with pytest.raises(ValueError, match="first_run_id"):
        Emulator(first_run_id=0)
