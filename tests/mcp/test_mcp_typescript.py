"""The tools as the official TypeScript MCP SDK sees them, over real Streamable HTTP.

The TypeScript client is the strictest one: `Client.callTool` validates a result's
`structuredContent` against the tool's `outputSchema` whenever it is present, error results
included, and throws `McpError` -32602 when it does not match. The Python SDK's client skips
that check on errors, so only this test can catch an error result that breaks the schema.

`tests/mcp/ts/call_tools.mjs` connects with `StreamableHTTPClientTransport`, lists the tools
and makes the calls given on stdin. It needs Node.js and `npm ci --prefix tests/mcp/ts` (the
nox `tests` session runs it); without them this test fails, it never skips.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from mcp_testing import DBT_TOKEN, serve_http

from dbt_runs import AsyncRunsClient
from dbt_runs.expose.mcp import ARTIFACT_INLINE_LIMIT, create_app
from dbt_runs.testing import Emulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TS_DIR = Path(__file__).parent / "ts"
SCRIPT = TS_DIR / "call_tools.mjs"
SDK = TS_DIR / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
MISSING = 999_999_999


async def call_with_typescript(url: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the TypeScript client against `url`; its JSON report."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not on PATH: this test needs Node.js 18+ (and npm ci --prefix tests/mcp/ts)"
        )
    if not SDK.exists():
        pytest.fail(f"the TypeScript MCP SDK is not installed: run npm ci --prefix {TS_DIR}")
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [node, str(SCRIPT), f"{url}/mcp"], input=json.dumps(calls).encode(), check=False
        )
    assert done.returncode == 0, done.stderr.decode()
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.fixture
async def url(client: AsyncRunsClient) -> AsyncIterator[str]:
    async with serve_http(create_app(client)) as base:
        yield base


def finished_run(emulator: Emulator, job_id: int | None = None) -> int:
    run_id = emulator.trigger_run(job_id or emulator.job_ids[0])
    emulator.clock.advance(3600)  # type: ignore[attr-defined]
    return run_id


def scenario(emulator: Emulator) -> list[tuple[str, dict[str, Any], str | None]]:
    """(tool, arguments, None for a success or a fragment of the error text)."""
    job_id = emulator.job_ids[0]
    failing_job, lost_job = emulator.job_ids[2], emulator.job_ids[3]
    for job in (failing_job, lost_job):
        emulator.set_job_outcome(job, "error")
    failed = emulator.trigger_run(failing_job)
    lost = emulator.trigger_run(lost_job)
    done = finished_run(emulator)
    slow_job = emulator.job_ids[1]
    emulator.set_job_duration(slow_job, 10_000)
    slow = emulator.trigger_run(slow_job)
    queued = emulator.trigger_run(job_id)
    sql = next(path for path in emulator.artifact_paths(done) if path.endswith(".sql"))
    # The first run-creating call's answer is lost: a retry cannot be proven, so it is an
    # error that says the run may have started.
    emulator.faults.fail_next_trigger_response(502)
    return [
        ("retry-run", {"runId": lost}, "may have started"),
        # Successes, one or more per tool.
        ("trigger-job-run", {"jobId": job_id, "threads_override": 4}, None),
        ("trigger-job-run", {"jobId": slow_job, "if_running": "reuse"}, None),
        ("list-runs", {}, None),
        ("list-runs", {"view": "compact", "limit": 3, "status": ["success", 20]}, None),
        ("list-runs", {"job_definition_id": job_id, "include_related": ["trigger", "job"]}, None),
        ("get-run", {"runId": done}, None),
        ("get-run", {"runId": done, "include_related": ["run_steps", "trigger"]}, None),
        ("list-run-artifacts", {"runId": done}, None),
        ("list-run-artifacts", {"runId": done, "include_sql": False}, None),
        ("get-run-artifact", {"runId": done, "path": "run_results.json"}, None),
        (
            "get-run-artifact",
            {
                "runId": done,
                "path": "run_results.json",
                "pointer": "/results",
                "fields": ["status"],
            },
            None,
        ),
        ("get-run-artifact", {"runId": done, "path": sql}, None),
        ("get-run-artifact", {"runId": done, "path": "manifest.json"}, None),
        ("wait-for-run", {"runId": done}, None),
        ("wait-for-run", {"runId": slow, "timeout_seconds": 60, "poll_interval_seconds": 20}, None),
        ("cancel-run", {"runId": queued}, None),
        ("get-run-errors", {"runId": failed}, None),
        ("get-run-errors", {"runId": failed, "view": "full", "include_warnings": True}, None),
        ("get-run-errors", {"runId": failed, "log_lines": 0}, None),
        ("get-run-errors", {"runId": done}, None),
        ("retry-run", {"runId": failed}, None),
        ("rerun-job", {"jobId": job_id}, None),
        ("list-jobs", {}, None),
        ("list-jobs", {"project_id": [1], "name_contains": "a", "limit": 2, "offset": 1}, None),
        # Errors: dbt's, ours, and refused arguments.
        ("get-run-errors", {"runId": MISSING}, "dbt Cloud answered HTTP 404"),
        ("retry-run", {"runId": done}, "RETRY_NOT_FAILED_RUN"),
        ("retry-run", {"runId": MISSING}, "HTTP 404"),
        ("rerun-job", {"jobId": MISSING}, "HTTP 404"),
        ("list-jobs", {"environment_id": "1"}, "Invalid arguments for list-jobs: environment_id"),
        (
            "trigger-job-run",
            {"jobId": slow_job, "if_running": "fail"},
            f"already has run {slow}",
        ),
        ("trigger-job-run", {"jobId": job_id, "if_running": "later"}, "if_running must be one"),
        ("get-run", {"runId": MISSING}, "dbt Cloud answered HTTP 404: The requested resource"),
        ("list-runs", {"accountId": 4242}, "dbt Cloud answered HTTP 403"),
        ("get-run-artifact", {"runId": done, "path": "nothing.json"}, "HTTP 404"),
        (
            "get-run-artifact",
            {"runId": done, "path": "run_results.json", "pointer": "/x"},
            "no key",
        ),
        ("wait-for-run", {"runId": MISSING, "timeout_seconds": 30}, "HTTP 404"),
        ("cancel-run", {"runId": MISSING}, "HTTP 404"),
        (
            "trigger-job-run",
            {"jobId": job_id, "threads_override": "8", "steps_override": ["rm -rf /"]},
            "Invalid arguments for trigger-job-run: threads_override must be an integer",
        ),
        ("get-run", {"runId": True}, "Invalid arguments for get-run: runId must be an integer"),
        ("get-run", {"run_id": done}, "unknown argument(s) run_id"),
    ]


async def test_every_result_validates_in_the_typescript_sdk(url: str, emulator: Emulator) -> None:
    emulator.artifact_size = 3 * ARTIFACT_INLINE_LIMIT  # manifest.json answers with an outline
    calls = scenario(emulator)
    report = await call_with_typescript(
        url, [{"name": name, "arguments": arguments} for name, arguments, _ in calls]
    )
    schemas = {tool["name"]: tool["outputSchema"] for tool in report["tools"]}
    assert len(report["results"]) == len(calls)
    problems = [
        problem
        for (name, arguments, expected_error), answer in zip(calls, report["results"], strict=True)
        if (problem := judge(answer, schemas[name], expected_error)) is not None
    ]
    # One line per call that went wrong, so that a failure shows every broken call at once.
    assert not problems, "\n".join(problems)


def judge(answer: dict[str, Any], schema: dict[str, Any], expected_error: str | None) -> str | None:
    """What is wrong with one call's answer, or None."""
    where = f"{answer['name']}"
    if "error" in answer:
        # Above all: no -32602 "Structured content does not match the tool's output schema".
        return f"{where}: the TypeScript client threw {answer['error']}"
    result = answer["result"]
    text = result["content"][0]["text"]
    if DBT_TOKEN in json.dumps(result):
        return f"{where}: the dbt token leaked"
    if bool(result.get("isError")) != (expected_error is not None):
        return f"{where}: isError is {result.get('isError')}: {text[:200]}"
    if expected_error is not None and expected_error not in text:
        return f"{where}: {expected_error!r} not in {text[:200]!r}"
    if expected_error is None or "structuredContent" in result:
        try:
            jsonschema.validate(result["structuredContent"], schema)
        except jsonschema.ValidationError as exc:
            return f"{where}: structuredContent does not match the output schema: {exc.message}"
    return None
