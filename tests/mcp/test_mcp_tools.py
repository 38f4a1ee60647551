"""Each tool, in-process through `mcp.Client`, against the emulator."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from mcp_testing import DBT_TOKEN, text_of

import mcp
from dbt_runs import AsyncRunsClient
from dbt_runs.expose.mcp import ARTIFACT_INLINE_LIMIT, DEFAULT_CAUSE, create_server
from dbt_runs.expose.mcp._schemas import COMPACT_RUN_FIELDS
from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio


async def call(session: mcp.Client, name: str, arguments: dict[str, Any]) -> Any:
    result = await session.call_tool(name, arguments)
    text = text_of(result)
    assert DBT_TOKEN not in text
    assert DBT_TOKEN not in json.dumps(result.structured_content)
    if result.is_error:
        # Only text: structuredContent would have to match the tool's output schema.
        assert result.structured_content is None
    return result


async def finished_run(emulator: Emulator, **overrides: Any) -> int:
    run_id = emulator.trigger_run(emulator.job_ids[0], **overrides)
    emulator.clock.advance(3600)  # type: ignore[attr-defined]
    assert emulator.run(run_id).is_complete
    return run_id


# -- the seed's tools: dbt's body, as received ---------------------------------------------


async def test_get_run_returns_dbts_body_as_structured_content_and_text(
    session: mcp.Client, client: AsyncRunsClient, emulator: Emulator
) -> None:
    run_id = await finished_run(emulator)
    result = await call(session, "get-run", {"runId": run_id})
    direct = await client.with_raw_response.get_run(run_id)
    assert not result.is_error
    assert text_of(result) == direct.content.decode()
    assert result.structured_content == direct.json()
    assert result.structured_content["data"]["id"] == run_id


async def test_get_run_passes_include_related(session: mcp.Client, emulator: Emulator) -> None:
    run_id = await finished_run(emulator)
    result = await call(session, "get-run", {"runId": run_id, "include_related": ["run_steps"]})
    steps = result.structured_content["data"]["run_steps"]
    assert [step["index"] for step in steps] == list(range(1, len(steps) + 1))
    assert steps


async def test_list_runs_defaults_to_ten_recent_runs_as_dbt_sends_them(
    session: mcp.Client, client: AsyncRunsClient, emulator: Emulator
) -> None:
    result = await call(session, "list-runs", {})
    body = result.structured_content
    ids = [run["id"] for run in body["data"]]
    assert len(ids) == 10
    assert ids == sorted(ids, reverse=True)
    assert ids[0] == max(run.id for run in emulator.runs())
    assert body["extra"]["pagination"] == {"count": 10, "total_count": emulator.run_count}
    direct = await client.with_raw_response.list_runs(limit=10, order_by="-id")
    assert text_of(result) == direct.content.decode()
    assert body == direct.json()


async def test_list_runs_compact_view_keeps_the_fields_to_pick_a_run(
    session: mcp.Client, client: AsyncRunsClient
) -> None:
    result = await call(session, "list-runs", {"view": "compact", "limit": 3, "offset": 2})
    body = result.structured_content
    full = (await client.with_raw_response.list_runs(limit=3, offset=2, order_by="-id")).json()
    assert body["extra"] == full["extra"]
    assert [run["id"] for run in body["data"]] == [run["id"] for run in full["data"]]
    for run, original in zip(body["data"], full["data"], strict=True):
        assert set(run) <= set(COMPACT_RUN_FIELDS)
        assert {"id", "status", "status_humanized", "job_definition_id", "href"} <= set(run)
        assert run == {key: original[key] for key in run}
    assert json.loads(text_of(result)) == body


async def test_list_runs_filters_reach_dbt(session: mcp.Client, emulator: Emulator) -> None:
    job_id = emulator.job_ids[0]
    result = await call(
        session,
        "list-runs",
        {"job_definition_id": job_id, "status": 10, "order_by": "id", "limit": 100},
    )
    runs = result.structured_content["data"]
    expected = [r.id for r in emulator.runs(job_id=job_id, status=10)]
    assert [run["id"] for run in runs] == expected
    assert expected


async def test_list_runs_takes_several_statuses(session: mcp.Client, emulator: Emulator) -> None:
    result = await call(session, "list-runs", {"status": [20, 30], "limit": 100})
    statuses = {run["status"] for run in result.structured_content["data"]}
    expected = {r.id for r in emulator.runs() if r.status in (20, 30)}
    assert statuses <= {20, 30}
    assert {run["id"] for run in result.structured_content["data"]} == expected
    assert expected


async def test_default_list_runs_answer_stays_small(session: mcp.Client) -> None:
    default = text_of(await call(session, "list-runs", {}))
    compact = text_of(await call(session, "list-runs", {"view": "compact"}))
    dbt_default_page = text_of(await call(session, "list-runs", {"limit": 40}))
    # Tokens are about characters / 4: the default answer is under 5,000 tokens and the
    # compact view under a third of it; every 10 more runs cost as much again.
    assert len(default) / 4 < 5000
    assert len(compact) * 3 < len(default)
    assert len(default) * 3.5 < len(dbt_default_page)


async def test_list_run_artifacts_returns_dbts_body(
    session: mcp.Client, client: AsyncRunsClient, emulator: Emulator
) -> None:
    run_id = await finished_run(emulator)
    result = await call(session, "list-run-artifacts", {"runId": run_id})
    direct = await client.with_raw_response.list_run_artifacts(run_id)
    assert result.structured_content == direct.json()
    assert "run_results.json" in result.structured_content["data"]


async def test_list_run_artifacts_can_leave_the_sql_out(
    session: mcp.Client, client: AsyncRunsClient, emulator: Emulator
) -> None:
    run_id = await finished_run(emulator)
    result = await call(session, "list-run-artifacts", {"runId": run_id, "include_sql": False})
    everything = (await client.with_raw_response.list_run_artifacts(run_id)).json()["data"]
    kept = result.structured_content["data"]
    assert kept == [p for p in everything if not p.startswith(("compiled/", "run/"))]
    assert "run_results.json" in kept
    assert len(kept) < len(everything)


async def test_trigger_job_run_starts_exactly_one_run_with_the_default_cause(
    session: mcp.Client, emulator: Emulator
) -> None:
    before = emulator.run_count
    job_id = emulator.job_ids[0]
    result = await call(session, "trigger-job-run", {"jobId": job_id, "git_branch": "feature"})
    assert emulator.run_count == before + 1
    run = result.structured_content["data"]
    assert run["job_definition_id"] == job_id
    assert run["status"] == 1
    assert run["trigger"]["cause"].startswith(DEFAULT_CAUSE + " [dbt-runs:")
    assert run["trigger"]["git_branch"] == "feature"


async def test_trigger_job_run_sends_the_given_cause_and_overrides(
    session: mcp.Client, emulator: Emulator
) -> None:
    result = await call(
        session,
        "trigger-job-run",
        {
            "jobId": emulator.job_ids[0],
            "cause": "Agent asked",
            "steps_override": ["dbt build --select orders+"],
            "threads_override": 8,
        },
    )
    trigger = result.structured_content["data"]["trigger"]
    assert trigger["cause"].startswith("Agent asked [dbt-runs:")
    assert trigger["steps_override"] == ["dbt build --select orders+"]
    assert trigger["threads_override"] == 8


async def test_a_lost_trigger_response_is_never_retried_into_a_second_run(
    session: mcp.Client, emulator: Emulator
) -> None:
    before = emulator.run_count
    emulator.faults.fail_next_trigger_response(502)
    result = await call(session, "trigger-job-run", {"jobId": emulator.job_ids[0]})
    # The client found the run the lost response was about instead of posting again.
    assert not result.is_error
    assert emulator.run_count == before + 1
    assert result.structured_content["data"]["id"] == max(run.id for run in emulator.runs())
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert len(posts) == 1


async def test_an_unknown_trigger_outcome_tells_the_model_not_to_trigger_again(
    session: mcp.Client, emulator: Emulator
) -> None:
    before = emulator.run_count
    job_id = emulator.job_ids[0]
    emulator.faults.fail_next_trigger_response(502)
    emulator.faults.fail_next(500, times=20, method="GET", path="/runs/")
    result = await call(session, "trigger-job-run", {"jobId": job_id})
    assert result.is_error
    text = text_of(result)
    assert "Do not trigger again before checking" in text
    assert f"list-runs with job_definition_id={job_id}" in text
    assert emulator.run_count == before + 1


async def test_cancel_run_cancels_and_is_idempotent(
    session: mcp.Client, emulator: Emulator
) -> None:
    run_id = emulator.trigger_run(emulator.job_ids[0])
    first = await call(session, "cancel-run", {"runId": run_id})
    assert not first.is_error
    assert first.structured_content["data"]["status"] == 30
    again = await call(session, "cancel-run", {"runId": run_id})
    assert not again.is_error
    assert again.structured_content["data"]["status"] == 30


# -- errors ---------------------------------------------------------------------------------


async def test_a_dbt_error_is_a_tool_error_with_dbts_message_and_status(
    session: mcp.Client,
) -> None:
    result = await call(session, "get-run", {"runId": 999_999_999})
    assert result.is_error
    text = text_of(result)
    message, body = text.split("\n", 1)
    assert message.startswith("dbt Cloud answered HTTP 404: The requested resource was not found")
    # dbt's body follows the message in the text; an error result has no structuredContent,
    # which could not match the tool's output schema (a run).
    assert json.loads(body)["status"]["code"] == 404
    assert result.structured_content is None


async def test_a_wrong_account_gets_dbts_403(session: mcp.Client) -> None:
    result = await call(session, "list-runs", {"accountId": 4242})
    assert result.is_error
    assert "HTTP 403: Access denied: Token is not scoped to account." in text_of(result)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "Invalid arguments for get-run: runId is required"),
        ({"runId": "abc"}, "Invalid arguments for get-run: runId must be an integer, got 'abc'"),
        ({"runId": 0}, "runId must be a positive 64-bit integer, got 0"),
        ({"run_id": 5}, "unknown argument(s) run_id; valid arguments: runId, accountId"),
        (
            {"runId": 5, "include_related": ["everything"]},
            "include_related has an unknown value 'everything'; valid values: trigger, job",
        ),
    ],
)
async def test_bad_arguments_are_clear_tool_errors(
    session: mcp.Client, emulator: Emulator, arguments: dict[str, Any], message: str
) -> None:
    emulator.clear_requests()
    result = await call(session, "get-run", arguments)
    assert result.is_error
    assert message in text_of(result)
    assert "pydantic" not in text_of(result)
    assert emulator.requests == []


async def test_a_too_long_cause_is_refused_before_any_run_starts(
    session: mcp.Client, emulator: Emulator
) -> None:
    before = emulator.run_count
    result = await call(
        session, "trigger-job-run", {"jobId": emulator.job_ids[0], "cause": "x" * 256}
    )
    assert result.is_error
    assert "cause must be at most 255 characters, got 256" in text_of(result)
    assert emulator.run_count == before


async def test_a_missing_account_is_refused_naming_the_argument(emulator: Emulator) -> None:
    async with (
        emulator.client(account_id=None) as no_default,
        mcp.Client(create_server(no_default)) as session,
    ):
        emulator.clear_requests()
        result = await call(session, "get-run", {"runId": 1})
    assert result.is_error
    assert text_of(result).startswith("accountId is required")
    assert emulator.requests == []


async def test_a_failing_gateway_is_a_tool_error_after_the_clients_retries(
    session: mcp.Client, emulator: Emulator
) -> None:
    emulator.faults.fail_next(502, times=10)
    emulator.clear_requests()
    result = await call(session, "get-run", {"runId": emulator.runs()[0].id})
    assert result.is_error
    assert text_of(result).startswith(
        "dbt Cloud answered HTTP 502: dbt Cloud answered 502 Bad Gateway (an HTML page"
    )
    assert len(emulator.requests) == 4  # the first attempt and the client's 3 retries


@pytest.mark.parametrize("tool", ["get-run", "list-runs"])
async def test_a_2xx_body_that_is_not_json_is_a_clear_tool_error(
    emulator: Emulator, tool: str
) -> None:
    from dbt_runs import RetryPolicy

    emulator.faults.fail_next("malformed")
    arguments = {"runId": emulator.runs()[0].id} if tool == "get-run" else {}
    async with (
        emulator.client(retry=RetryPolicy.disabled()) as no_retry,
        mcp.Client(create_server(no_retry)) as session,
    ):
        result = await call(session, tool, arguments)
    assert result.is_error
    assert text_of(result).startswith("dbt Cloud answered HTTP 200 with a body that is not valid")


async def test_the_dbt_token_is_never_logged(
    session: mcp.Client, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    run_id = await finished_run(emulator)
    for name, arguments in [
        ("get-run", {"runId": run_id}),
        ("get-run", {"runId": 999_999_999}),
        ("list-runs", {"accountId": 4242}),
        ("wait-for-run", {"runId": run_id}),
    ]:
        await call(session, name, arguments)
    assert caplog.records
    assert DBT_TOKEN not in caplog.text


# -- wait-for-run ---------------------------------------------------------------------------


async def test_wait_for_run_reports_progress_at_every_poll(
    session: mcp.Client, emulator: Emulator
) -> None:
    run_id = emulator.trigger_run(emulator.job_ids[0])
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    result = await session.call_tool(
        "wait-for-run",
        {"runId": run_id, "timeout_seconds": 3600, "poll_interval_seconds": 10},
        progress_callback=on_progress,
    )
    assert not result.is_error
    wait = result.structured_content["wait"]
    assert wait["outcome"] == "success"
    assert wait["finished"] is True
    assert wait["polls"] == len(progress) >= 3
    assert [done for done, _, _ in progress] == list(range(1, len(progress) + 1))
    assert progress[0][2].startswith(f"run {run_id}: Queued (check 1")
    assert "Running" in " ".join(message or "" for _, _, message in progress)
    assert result.structured_content["data"]["id"] == run_id
    assert result.structured_content["data"]["status"] == 10


async def test_wait_for_a_failing_run_is_an_answer_not_an_error(
    session: mcp.Client, emulator: Emulator
) -> None:
    job_id = emulator.job_ids[0]
    emulator.set_job_outcome(job_id, "error")
    run_id = emulator.trigger_run(job_id)
    result = await call(session, "wait-for-run", {"runId": run_id, "timeout_seconds": 3600})
    assert not result.is_error
    assert result.structured_content["wait"]["outcome"] == "error"
    assert result.structured_content["data"]["status"] == 20


async def test_wait_for_run_is_bounded_and_says_to_call_again(
    session: mcp.Client, emulator: Emulator
) -> None:
    job_id = emulator.job_ids[0]
    emulator.set_job_duration(job_id, 10_000)
    run_id = emulator.trigger_run(job_id)
    result = await call(
        session,
        "wait-for-run",
        {"runId": run_id, "timeout_seconds": 60, "poll_interval_seconds": 20},
    )
    assert not result.is_error
    wait = result.structured_content["wait"]
    assert wait["outcome"] == "timeout"
    assert wait["finished"] is False
    assert "call wait-for-run again" in wait["message"]
    assert result.structured_content["data"]["in_progress"] is True


async def test_wait_for_a_missing_run_is_dbts_404(session: mcp.Client) -> None:
    result = await call(session, "wait-for-run", {"runId": 999_999_999, "timeout_seconds": 30})
    assert result.is_error
    assert "HTTP 404" in text_of(result)


# -- get-run-artifact -------------------------------------------------------------------------


async def test_a_small_json_artifact_is_inlined(
    session: mcp.Client, client: AsyncRunsClient, emulator: Emulator
) -> None:
    run_id = await finished_run(emulator)
    result = await call(session, "get-run-artifact", {"runId": run_id, "path": "run_results.json"})
    body = result.structured_content
    assert body["inlined"] is True
    assert body["content"] == await client.get_run_artifact_json(run_id, "run_results.json")
    assert body["size_bytes"] == len(await client.get_run_artifact(run_id, "run_results.json"))
    assert body["content_type"].startswith("application/json")


async def test_step_picks_the_artifact_of_that_step(
    session: mcp.Client, client: AsyncRunsClient, emulator: Emulator
) -> None:
    job_id = emulator.add_job("build then docs", execute_steps=("dbt build",), generate_docs=True)
    run_id = emulator.trigger_run(job_id)
    emulator.clock.advance(3600)  # type: ignore[attr-defined]
    build = next(step.index for step in emulator.steps(run_id) if step.command == "dbt build")
    arguments = {"runId": run_id, "path": "run_results.json", "pointer": "/results"}
    at_build = await call(session, "get-run-artifact", {**arguments, "step": build})
    at_last = await call(session, "get-run-artifact", arguments)
    expected = await client.get_run_artifact_json(run_id, "run_results.json", step=build)
    assert at_build.structured_content["step"] == build
    assert at_build.structured_content["content"] == expected["results"]
    assert at_build.structured_content["content"] != at_last.structured_content["content"]


async def test_pointer_and_fields_narrow_an_artifact(
    session: mcp.Client, client: AsyncRunsClient, emulator: Emulator
) -> None:
    run_id = await finished_run(emulator)
    result = await call(
        session,
        "get-run-artifact",
        {
            "runId": run_id,
            "path": "run_results.json",
            "pointer": "/results",
            "fields": ["unique_id", "status"],
        },
    )
    document = await client.get_run_artifact_json(run_id, "run_results.json")
    expected = [{"unique_id": r["unique_id"], "status": r["status"]} for r in document["results"]]
    assert result.structured_content["content"] == expected


async def test_a_large_artifact_answers_with_an_outline_and_a_hint(
    client: AsyncRunsClient, emulator: Emulator
) -> None:
    emulator.artifact_size = 3 * ARTIFACT_INLINE_LIMIT
    run_id = await finished_run(emulator)
    async with mcp.Client(create_server(client)) as session:
        result = await call(session, "get-run-artifact", {"runId": run_id, "path": "manifest.json"})
        body = result.structured_content
        assert not result.is_error
        assert body["inlined"] is False
        assert "content" not in body
        assert body["size_bytes"] >= 3 * ARTIFACT_INLINE_LIMIT
        assert body["outline"]["kind"] == "object"
        assert "nodes" in body["outline"]["keys"]
        assert "pointer" in body["hint"]
        assert len(text_of(result)) < 20_000
        narrowed = await call(
            session,
            "get-run-artifact",
            {"runId": run_id, "path": "manifest.json", "pointer": "/metadata"},
        )
    assert narrowed.structured_content["inlined"] is True
    assert narrowed.structured_content["content"]["project_name"]


async def test_a_wrong_pointer_names_the_keys_available(
    session: mcp.Client, emulator: Emulator
) -> None:
    run_id = await finished_run(emulator)
    result = await call(
        session,
        "get-run-artifact",
        {"runId": run_id, "path": "run_results.json", "pointer": "/nope"},
    )
    assert result.is_error
    assert "no key 'nope' at the artifact's top level; keys there: 'metadata'" in text_of(result)


async def test_a_text_artifact_is_inlined_as_text(session: mcp.Client, emulator: Emulator) -> None:
    run_id = await finished_run(emulator)
    sql = next(path for path in emulator.artifact_paths(run_id) if path.endswith(".sql"))
    result = await call(session, "get-run-artifact", {"runId": run_id, "path": sql})
    assert result.structured_content["inlined"] is True
    assert "select" in result.structured_content["content"].lower()
    refused = await call(
        session, "get-run-artifact", {"runId": run_id, "path": sql, "pointer": "/x"}
    )
    assert refused.is_error
    assert "apply to JSON artifacts only" in text_of(refused)


async def test_a_missing_artifact_is_a_404_that_points_to_list_run_artifacts(
    session: mcp.Client, emulator: Emulator
) -> None:
    run_id = await finished_run(emulator)
    result = await call(
        session, "get-run-artifact", {"runId": run_id, "path": "nothing.json", "step": 1}
    )
    assert result.is_error
    text = text_of(result)
    assert text.startswith("dbt Cloud answered HTTP 404")
    assert "step 1" in text
    assert "list-run-artifacts" in text
