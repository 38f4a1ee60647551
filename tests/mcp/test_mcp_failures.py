"""When a run fails, through MCP: why (`get-run-errors`), retry, rerun, jobs, `if_running`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from mcp_testing import text_of

import mcp
from dbt_runs import AsyncRunsClient
from dbt_runs._diagnose import DEFAULT_BUDGET, as_json
from dbt_runs.expose.mcp import create_server
from dbt_runs.models import NodeResult, Run, RunErrors, RunStatus, StepFailure
from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio


def failed_run(emulator: Emulator, job_id: int | None = None) -> int:
    job = job_id or emulator.job_ids[0]
    emulator.set_job_outcome(job, "error")
    run_id = emulator.trigger_run(job)
    emulator.clock.advance(3600)  # type: ignore[attr-defined]
    emulator.set_job_outcome(job, "success")
    return run_id


def busy_run(emulator: Emulator, job_id: int) -> int:
    emulator.set_job_duration(job_id, 10_000)
    return emulator.trigger_run(job_id)


async def output_schema(session: mcp.Client, tool: str) -> dict[str, Any]:
    listed = await session.list_tools()
    (schema,) = [t.output_schema for t in listed.tools if t.name == tool]
    assert schema is not None
    return schema


# -- get-run-errors -------------------------------------------------------------------------


async def test_get_run_errors_is_the_compact_json_of_the_sdk(
    session: mcp.Client, client: AsyncRunsClient, emulator: Emulator
) -> None:
    run_id = failed_run(emulator)
    result = await session.call_tool("get-run-errors", {"runId": run_id})
    assert not result.is_error, text_of(result)
    expected = as_json(await client.get_run_errors(run_id), compact=True)
    assert result.structured_content == json.loads(json.dumps(expected))
    assert json.loads(text_of(result)) == result.structured_content
    (step,) = result.structured_content["steps"]
    assert [node["unique_id"] for node in step["nodes"]] == ["model.jaffle_shop.orders"]
    assert step["nodes"][0]["compiled_path"] == "compiled/jaffle_shop/models/orders.sql"
    jsonschema.validate(result.structured_content, await output_schema(session, "get-run-errors"))


async def test_get_run_errors_passes_its_options_and_can_be_full(
    session: mcp.Client, client: AsyncRunsClient, emulator: Emulator
) -> None:
    run_id = failed_run(emulator)
    arguments = {"runId": run_id, "include_warnings": True, "log_lines": 3, "view": "full"}
    result = await session.call_tool("get-run-errors", arguments)
    assert not result.is_error, text_of(result)
    errors = await client.get_run_errors(run_id, include_warnings=True, log_lines=3)
    assert result.structured_content == json.loads(json.dumps(as_json(errors)))
    assert all(len(step["log_tail"]) == 3 for step in result.structured_content["steps"])


async def test_get_run_errors_of_a_run_that_succeeded_has_no_steps(
    session: mcp.Client, emulator: Emulator
) -> None:
    run_id = emulator.trigger_run(emulator.job_ids[0])
    emulator.clock.advance(3600)  # type: ignore[attr-defined]
    result = await session.call_tool("get-run-errors", {"runId": run_id})
    assert not result.is_error
    assert result.structured_content["run"]["status"] == 10
    assert result.structured_content["steps"] == []


async def test_get_run_errors_of_a_huge_failure_stays_within_the_budget(
    session: mcp.Client, client: AsyncRunsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = tuple(
        NodeResult(unique_id=f"test.shop.t{i}", status="fail", step_index=4, message="x" * 2000)
        for i in range(500)
    )
    step = StepFailure(
        index=4,
        name="Invoke dbt with `dbt build`",
        status=RunStatus.ERROR,
        duration=timedelta(seconds=9),
        log_tail=tuple("y" * 400 for _ in range(1000)),
        nodes=nodes,
    )
    huge = RunErrors(run=Run(id=7, status=RunStatus.ERROR), steps=(step,) * 5)

    async def get_run_errors(run_id: int, **_: Any) -> RunErrors:
        return huge

    monkeypatch.setattr(client, "get_run_errors", get_run_errors)
    result = await session.call_tool("get-run-errors", {"runId": 7})
    assert not result.is_error, text_of(result)
    assert len(text_of(result).encode()) <= DEFAULT_BUDGET
    assert result.structured_content["truncated"] is True
    for kept in result.structured_content["steps"]:
        assert len(kept["nodes"]) + kept["more_nodes"] == 500
    jsonschema.validate(result.structured_content, await output_schema(session, "get-run-errors"))


async def test_get_run_errors_of_a_missing_run_is_dbts_404(session: mcp.Client) -> None:
    result = await session.call_tool("get-run-errors", {"runId": 999_999_999})
    assert result.is_error
    assert result.structured_content is None
    assert text_of(result).startswith("dbt Cloud answered HTTP 404")


async def test_the_instructions_send_a_model_to_get_run_errors_first(
    client: AsyncRunsClient,
) -> None:
    instructions = create_server(client).instructions or ""
    assert "When a run failed" in instructions
    assert "call get-run-errors first" in instructions


# -- retry-run and rerun-job ----------------------------------------------------------------


async def test_retry_run_starts_a_run_from_the_point_of_failure(
    session: mcp.Client, emulator: Emulator
) -> None:
    run_id = failed_run(emulator)
    before = emulator.run_count
    result = await session.call_tool("retry-run", {"runId": run_id})
    assert not result.is_error, text_of(result)
    assert emulator.run_count == before + 1
    new = result.structured_content["data"]
    assert new["id"] > run_id
    assert emulator.run_json(new["id"])["trigger_id"] == new["trigger_id"]


async def test_a_refused_retry_is_a_tool_error_with_dbts_message(
    session: mcp.Client, emulator: Emulator
) -> None:
    run_id = emulator.trigger_run(emulator.job_ids[0])
    emulator.clock.advance(3600)  # type: ignore[attr-defined]
    before = emulator.run_count
    result = await session.call_tool("retry-run", {"runId": run_id})
    assert result.is_error
    message, body = text_of(result).split("\n", 1)
    assert message.startswith("dbt Cloud answered HTTP 400")
    assert "RETRY_NOT_FAILED_RUN" in message
    assert json.loads(body)["status"]["code"] == 400
    assert emulator.run_count == before


async def test_a_lost_retry_answer_says_the_run_may_have_started(
    session: mcp.Client, emulator: Emulator
) -> None:
    job_id = emulator.job_ids[2]
    run_id = failed_run(emulator, job_id)
    emulator.clear_requests()
    emulator.faults.fail_next_trigger_response(502)
    result = await session.call_tool("retry-run", {"runId": run_id})
    assert result.is_error
    text = text_of(result)
    assert "A run may have started" in text
    assert f"list-runs with job_definition_id={job_id} and order_by '-id'" in text
    new = max(run.id for run in emulator.runs())
    assert f"Runs that may be it: {new}." in text
    assert len([r for r in emulator.requests if r.method == "POST"]) == 1


async def test_rerun_job_retries_the_jobs_failed_run(
    session: mcp.Client, emulator: Emulator
) -> None:
    job_id = emulator.job_ids[2]
    failed_run(emulator, job_id)
    result = await session.call_tool("rerun-job", {"jobId": job_id})
    assert not result.is_error, text_of(result)
    assert result.structured_content["data"]["job_definition_id"] == job_id
    assert result.structured_content["data"]["status"] == 1


# -- list-jobs ------------------------------------------------------------------------------


async def test_list_jobs_finds_a_job_by_name(session: mcp.Client) -> None:
    result = await session.call_tool("list-jobs", {"name_contains": "SNAPSHOTS"})
    assert not result.is_error, text_of(result)
    assert [job["name"] for job in result.structured_content["data"]] == ["Nightly snapshots"]
    everything = await session.call_tool("list-jobs", {"limit": 2})
    assert len(everything.structured_content["data"]) == 2
    assert everything.structured_content["extra"]["pagination"]["total_count"] > 2


async def test_list_jobs_refuses_a_bad_filter_before_dbt(
    session: mcp.Client, emulator: Emulator
) -> None:
    emulator.clear_requests()
    result = await session.call_tool("list-jobs", {"project_id": "1"})
    assert result.is_error
    assert text_of(result).startswith("Invalid arguments for list-jobs: project_id")
    assert emulator.requests == []


# -- trigger-job-run's if_running -----------------------------------------------------------


async def trigger_while_busy(
    session: mcp.Client, emulator: Emulator, if_running: str
) -> tuple[Any, int, int]:
    """Trigger a job that has a run going: (the result, that run, how many runs were created)."""
    job_id = emulator.job_ids[1]
    busy = busy_run(emulator, job_id)
    before = emulator.run_count
    arguments = {"jobId": job_id, "if_running": if_running}
    result = await session.call_tool("trigger-job-run", arguments)
    return result, busy, emulator.run_count - before


async def test_if_running_reuse_answers_the_run_going_and_says_so(
    session: mcp.Client, emulator: Emulator
) -> None:
    result, busy, created = await trigger_while_busy(session, emulator, "reuse")
    assert not result.is_error, text_of(result)
    assert result.structured_content["reused"] is True
    assert result.structured_content["data"]["id"] == busy
    assert text_of(result).startswith('{"reused":true,')
    assert created == 0
    jsonschema.validate(result.structured_content, await output_schema(session, "trigger-job-run"))


async def test_if_running_fail_is_a_tool_error_naming_the_run(
    session: mcp.Client, emulator: Emulator
) -> None:
    result, busy, created = await trigger_while_busy(session, emulator, "fail")
    assert result.is_error
    text = text_of(result)
    assert f"job {emulator.job_ids[1]} already has run {busy}" in text
    assert f"wait-for-run (runId {busy})" in text
    assert created == 0


async def test_if_running_queue_starts_another_run(session: mcp.Client, emulator: Emulator) -> None:
    result, busy, created = await trigger_while_busy(session, emulator, "queue")
    assert not result.is_error, text_of(result)
    assert result.structured_content["data"]["id"] > busy
    assert "reused" not in result.structured_content
    assert created == 1


async def test_if_running_reuse_triggers_when_nothing_is_going(
    session: mcp.Client, emulator: Emulator
) -> None:
    before = emulator.run_count
    result = await session.call_tool(
        "trigger-job-run", {"jobId": emulator.job_ids[4], "if_running": "reuse"}
    )
    assert not result.is_error, text_of(result)
    assert "reused" not in result.structured_content
    assert emulator.run_count == before + 1
