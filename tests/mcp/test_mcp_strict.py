"""Arguments: declared once in `dbt_runs._fields`, published as is, checked strictly.

The MCP server must accept and refuse exactly what the SDK and the REST adapter do: no
coercion of `"8"` to 8 or `"yes"` to true, no JSON hidden in strings, 64-bit ids. A refused
call sends nothing to dbt (the emulator's request log stays empty), and the published input
schema refuses the same values the server does.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from mcp_testing import text_of

import mcp
from dbt_runs import AsyncRunsClient
from dbt_runs import _fields as core
from dbt_runs.expose.mcp import _schemas as extra
from dbt_runs.expose.mcp import create_server
from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio

ARGUMENTS: dict[str, tuple[core.Field[Any], ...]] = {
    "trigger-job-run": (core.JOB_ID, core.ACCOUNT_ID, *core.TRIGGER_FIELDS, core.IF_RUNNING),
    "list-runs": (core.ACCOUNT_ID, *core.LIST_FILTERS, core.LIMIT, core.OFFSET, extra.VIEW),
    "get-run": (core.RUN_ID, core.ACCOUNT_ID, core.INCLUDE_RELATED_RUN),
    "list-run-artifacts": (core.RUN_ID, core.ACCOUNT_ID, extra.INCLUDE_SQL),
    "get-run-artifact": (
        core.RUN_ID,
        core.ARTIFACT_PATH,
        core.ACCOUNT_ID,
        core.STEP,
        extra.POINTER,
        extra.FIELDS,
    ),
    "wait-for-run": (core.RUN_ID, core.ACCOUNT_ID, extra.WAIT_TIMEOUT, extra.POLL_INTERVAL),
    "get-run-errors": (
        core.RUN_ID,
        core.ACCOUNT_ID,
        core.INCLUDE_WARNINGS,
        core.LOG_LINES,
        extra.ERRORS_VIEW,
    ),
    "cancel-run": (core.RUN_ID, core.ACCOUNT_ID),
    "retry-run": (core.RUN_ID, core.ACCOUNT_ID),
    "rerun-job": (core.JOB_ID, core.ACCOUNT_ID),
    "list-jobs": (core.ACCOUNT_ID, *core.JOB_FILTERS, core.LIMIT, core.OFFSET),
}
"""Each tool's arguments, in the order the tool lists them."""

RUN = 100_001  # the emulator's first run


async def input_schemas(client: AsyncRunsClient) -> dict[str, dict[str, Any]]:
    async with mcp.Client(create_server(client)) as session:
        listed = await session.list_tools()
    return {tool.name: tool.input_schema for tool in listed.tools}


async def test_each_argument_schema_is_its_fields_own(client: AsyncRunsClient) -> None:
    schemas = await input_schemas(client)
    assert set(schemas) == set(ARGUMENTS)
    for name, declared in ARGUMENTS.items():
        assert schemas[name]["properties"] == {
            field.mcp_name: field.described_schema() for field in declared
        }, name
        assert list(schemas[name]["properties"]) == [field.mcp_name for field in declared]
        assert schemas[name]["additionalProperties"] is False


CALLS = {  # a valid call of each tool, to which one bad argument is added
    "trigger-job-run": {"jobId": 1},
    "list-runs": {},
    "get-run": {"runId": RUN},
    "list-run-artifacts": {"runId": RUN},
    "get-run-artifact": {"runId": RUN, "path": "run_results.json"},
    "wait-for-run": {"runId": RUN},
    "get-run-errors": {"runId": RUN},
    "retry-run": {"runId": RUN},
    "rerun-job": {"jobId": 1},
    "list-jobs": {},
}

# (tool, argument, value, the problem named): refused by the server AND by the schema.
REFUSED = [
    ("trigger-job-run", "threads_override", "8", "must be an integer, got '8'"),
    ("trigger-job-run", "threads_override", 8.5, "must be an integer, got 8.5"),
    ("trigger-job-run", "generate_docs_override", "yes", "must be true or false, got 'yes'"),
    ("trigger-job-run", "generate_docs_override", 1, "must be true or false, got 1"),
    ("trigger-job-run", "steps_override", ["rm -rf /"], 'each starting with "dbt "'),
    ("trigger-job-run", "steps_override", '["dbt build"]', "must be a list of dbt commands"),
    ("trigger-job-run", "steps_override", [], "must hold at least one dbt command"),
    ("trigger-job-run", "cause", " \t", "must not be empty or blank"),
    ("trigger-job-run", "git_branch", "main\x00", "must not contain NUL characters"),
    ("trigger-job-run", "jobId", 2**63, "must be a positive 64-bit integer"),
    ("get-run", "runId", True, "must be an integer, got True"),
    ("get-run", "runId", "5", "must be an integer, got '5'"),
    ("get-run", "runId", 2**63, "must be a positive 64-bit integer, got 9223372036854775808"),
    ("get-run", "accountId", "1", "must be an integer, got '1'"),
    ("get-run", "include_related", '["run_steps"]', "has an unknown value '[\"run_steps\"]'"),
    ("list-runs", "limit", "5", "must be an integer, got '5'"),
    ("list-runs", "limit", 101, "must be between 1 and 100, got 101"),
    ("list-runs", "status", "[20]", "has an unknown run status '[20]'"),
    ("list-runs", "status", True, "has an unknown run status True"),
    ("list-runs", "view", "tiny", "must be one of full, compact, got 'tiny'"),
    ("list-runs", "created_after", "yesterday", "must be an ISO 8601 timestamp"),
    ("list-runs", "project_id", [1, "2"], "must be an integer, got '2'"),
    ("list-run-artifacts", "include_sql", "false", "must be true or false, got 'false'"),
    ("get-run-artifact", "path", "run\x00results.json", "must not contain NUL characters"),
    ("get-run-artifact", "path", "../secrets", "must not have empty, '.' or '..' segments"),
    ("get-run-artifact", "path", "/etc/passwd", "must be relative to the run's target/"),
    ("get-run-artifact", "fields", '["status"]', "must be a non-empty list of keys"),
    ("get-run-artifact", "step", 0, "must be a positive 64-bit integer, got 0"),
    ("wait-for-run", "timeout_seconds", "30", "must be a number, got '30'"),
    ("wait-for-run", "timeout_seconds", 3601, "must be more than 0 and at most 3600"),
    ("wait-for-run", "poll_interval_seconds", 0.5, "must be at least 1 and at most 300"),
    ("trigger-job-run", "if_running", "skip", "must be one of queue, reuse, fail, got 'skip'"),
    ("trigger-job-run", "if_running", True, "must be one of queue, reuse, fail, got True"),
    ("get-run-errors", "include_warnings", "true", "must be true or false, got 'true'"),
    ("get-run-errors", "log_lines", 1001, "must be between 0 and 1000, got 1001"),
    ("get-run-errors", "log_lines", "5", "must be an integer, got '5'"),
    ("get-run-errors", "view", "short", "must be one of compact, full, got 'short'"),
    ("retry-run", "runId", 0, "must be a positive 64-bit integer, got 0"),
    ("rerun-job", "jobId", "1", "must be an integer, got '1'"),
    ("list-jobs", "project_id", 0, "must be a positive 64-bit integer, got 0"),
    ("list-jobs", "name_contains", " ", "must not be empty or blank"),
    ("list-jobs", "limit", 101, "must be between 1 and 100, got 101"),
]


@pytest.mark.parametrize(("tool", "argument", "value", "problem"), REFUSED)
async def test_a_bad_argument_is_refused_and_nothing_reaches_dbt(
    session: mcp.Client,
    client: AsyncRunsClient,
    emulator: Emulator,
    tool: str,
    argument: str,
    value: Any,
    problem: str,
) -> None:
    arguments = {**CALLS[tool], argument: value}
    before = emulator.run_count
    emulator.clear_requests()
    result = await session.call_tool(tool, arguments)
    assert result.is_error
    assert text_of(result).startswith(f"Invalid arguments for {tool}: {argument} ")
    assert problem in text_of(result)
    assert result.structured_content is None
    assert emulator.requests == []
    assert emulator.run_count == before
    # The published schema says the same: a strict client would not even send it.
    schema = (await input_schemas(client))[tool]
    jsonschema.Draft202012Validator(schema).validate(CALLS[tool])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).validate(arguments)


async def test_every_problem_is_named_in_one_error(session: mcp.Client, emulator: Emulator) -> None:
    emulator.clear_requests()
    result = await session.call_tool(
        "trigger-job-run",
        {"threads_override": "8", "steps_override": ["rm -rf /"], "colour": "blue"},
    )
    text = text_of(result)
    assert text.startswith("Invalid arguments for trigger-job-run: unknown argument(s) colour; ")
    for problem in (
        "jobId is required",
        "threads_override must be an integer, got '8'",
        "steps_override must hold dbt commands",
    ):
        assert problem in text
    assert "\n" not in text
    assert emulator.requests == []


async def test_values_reach_dbt_exactly_as_sent(session: mcp.Client, emulator: Emulator) -> None:
    """MCPServer's own parsing would read JSON out of strings; the checked values are sent."""
    result = await session.call_tool(
        "trigger-job-run",
        {"jobId": emulator.job_ids[0], "cause": '["not", "a", "list"]', "git_branch": "null"},
    )
    assert not result.is_error, text_of(result)
    trigger = result.structured_content["data"]["trigger"]
    assert trigger["cause"].startswith('["not", "a", "list"] [dbt-runs:')
    assert trigger["git_branch"] == "null"
    missing = await session.call_tool("get-run-artifact", {"runId": RUN, "path": "null"})
    assert "has no artifact 'null'" in text_of(missing)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("list-runs", {"status": ["success", 20], "include_related": "trigger,job", "limit": 2}),
        ("list-runs", {"project_id": [1, 1], "created_after": "2020-01-01T00:00:00Z", "limit": 1}),
        ("get-run", {"runId": RUN, "include_related": None}),  # null: not given
        ("get-run", {"runId": float(RUN)}),  # JSON cannot tell 100001.0 from 100001
        ("wait-for-run", {"runId": RUN, "timeout_seconds": 1, "poll_interval_seconds": 1}),
        ("get-run-errors", {"runId": RUN, "include_warnings": True, "log_lines": 0}),
        ("get-run-errors", {"runId": RUN, "log_lines": 1000, "view": "full"}),
        ("list-jobs", {"project_id": [1, 2], "environment_id": 1, "name_contains": "a"}),
        ("trigger-job-run", {"jobId": 1, "if_running": "queue"}),
    ],
)
async def test_what_the_fields_accept_is_accepted(
    session: mcp.Client, tool: str, arguments: dict[str, Any]
) -> None:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
