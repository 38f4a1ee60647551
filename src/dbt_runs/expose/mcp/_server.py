"""The MCP tools: the seed's four, plus clearly named extensions, over one `AsyncRunsClient`.

Each tool is declared here with the SDK's own decorator (`@server.tool(...)`) over one wrapper
of ours (`@server.takes(...)`, see `_wrapper`), and is little more than its description and
one client call. Its arguments are `dbt_runs._fields` declarations, so the MCP server accepts
and refuses exactly what the SDK and the REST adapter do; its hints are read from the dbt
operation it performs (`dbt_runs._operations`), and a read-only server leaves out every tool
whose operation changes runs. Its output schema comes from the type its return annotation
names (`_schemas`). No dbt knowledge lives here (no URLs, statuses or retries): the client
owns all of that. A success hands back dbt's JSON body as received, both as
`structuredContent` and as text.

Errors carry no `structuredContent`, only text: the message, then dbt's own body when dbt sent
one (`dbt Cloud answered HTTP 404: The requested resource was not found` and the body). Every
result must validate against its tool's output schema in the strictest client (the TypeScript
SDK checks whatever `structuredContent` is present, errors included; the Python SDK skips
errors), and an error has no honest place in a schema that describes a run: admitting dbt's
error body (`data: null`) would weaken every success schema (a client could no longer rely on
`data` being a run), and most errors (a refused argument, an unreachable dbt, a lost trigger)
have no dbt body at all, so a structured error would need a second, invented shape. The MCP
spec reports a tool's failure as content with `isError: true`, which is where the model reads
it, and `isError` is what a program branches on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Final

from mcp.server.mcpserver import Context, MCPServer

from dbt_runs._diagnose import DEFAULT_LOG_LINES, as_json
from dbt_runs._fields import (
    ARTIFACT_PATH,
    IF_RUNNING,
    INCLUDE_RELATED_RUN,
    INCLUDE_WARNINGS,
    JOB_FILTERS,
    JOB_ID,
    LIMIT,
    LIST_FILTERS,
    LOG_LINES,
    OFFSET,
    RUN_ID,
    STEP,
    TRIGGER_FIELDS,
)
from dbt_runs._operations import (
    CANCEL_RUN,
    GET_RUN,
    GET_RUN_ARTIFACT,
    LIST_JOBS,
    LIST_RUN_ARTIFACTS,
    LIST_RUNS,
    RERUN_JOB,
    RETRY_RUN,
    TRIGGER_RUN,
)
from dbt_runs._version import __version__
from dbt_runs.expose.mcp._extensions import read_artifact, wait
from dbt_runs.expose.mcp._schemas import (
    COMPACT_RUN_FIELDS,
    ERRORS_VIEW,
    FIELDS,
    INCLUDE_SQL,
    POINTER,
    POLL_INTERVAL,
    VIEW,
    WAIT_TIMEOUT,
    ArtifactAnswer,
    ArtifactListBody,
    JobPageBody,
    RunBody,
    RunErrorsAnswer,
    RunPageBody,
    TriggerBody,
    WaitAnswer,
)
from dbt_runs.expose.mcp._wrapper import Answer, RunsServer, listed, passthrough

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient

__all__ = ["DEFAULT_CAUSE", "SEED_TOOLS", "WRITE_TOOLS", "create_server"]

SERVER_NAME: Final = "dbt-runs"

DEFAULT_CAUSE: Final = "Triggered by the dbt-runs MCP server"
"""The `cause` sent when a model triggers a run without giving one (dbt requires a cause)."""

SEED_TOOLS: Final = ("trigger-job-run", "list-runs", "get-run", "list-run-artifacts")
"""The four tools the seed spec fixes (names and hints); the others are extensions."""

WRITE_TOOLS: Final = frozenset({"trigger-job-run", "cancel-run", "retry-run", "rerun-job"})
"""The tools whose dbt operation changes runs (`Operation.changes_runs`), which a read-only
server leaves out. The server decides from the operations themselves; the tests hold this
name list to them."""

_INSTRUCTIONS = """\
Tools for dbt Cloud job runs (dbt Cloud Administrative API v2).
Run status codes: 1 Queued, 2 Starting, 3 Running, 10 Success, 20 Error, 30 Cancelled.
Typical flow: list-jobs (find a job's id by name) -> trigger-job-run (returns the new run's
id; if_running 'reuse' follows a run already going instead of queueing another) ->
wait-for-run.
When a run failed (status 20, or wait-for-run's outcome 'error'), call get-run-errors first:
it names the failed steps, their failing models and tests with dbt's messages, and their log
lines, without reading raw artifacts. Only then, for detail, get-run-artifact (with the step
get-run-errors gives, e.g. a node's compiled_path). Once fixed, retry-run resumes the failed
run from its point of failure; rerun-job does the same knowing only the job.
trigger-job-run, retry-run and rerun-job start a new run every time they are called: never
call one again because its outcome is unclear; look with list-runs (job_definition_id,
order_by '-id') first.
Arguments are checked strictly: numbers as JSON numbers, lists as JSON arrays.
accountId may be omitted when the server has a default account.\
"""


def create_server(client: AsyncRunsClient, *, read_only: bool = False) -> MCPServer[Any]:
    """Build the MCP server exposing dbt Cloud runs through `client`.

    The seed's tools (`trigger-job-run`, `list-runs`, `get-run`, `list-run-artifacts`) keep
    their names and hints; the extensions are `get-run-artifact`, `wait-for-run`,
    `get-run-errors`, `cancel-run`, `retry-run`, `rerun-job` and `list-jobs`. Every tool
    sets `openWorldHint` and a human title. When the client has no default account,
    `accountId` is a required argument of every tool.

    Args:
        client: The shared client every tool calls. The server does not close it: whoever
            opened it does, after the server stops.
        read_only: Hide every tool that changes something in dbt Cloud
            (`trigger-job-run`, `cancel-run`, `retry-run`, `rerun-job`).

    Returns:
        The server, ready for `create_app` (HTTP), `run_stdio` or `mcp.Client(server)`.

    Example:
        ```python
        from mcp import Client

        server = create_server(client, read_only=True)
        async with Client(server) as mcp_client:
            result = await mcp_client.call_tool("get-run", {"runId": 70403110257794})
        ```
    """
    server = RunsServer(
        client,
        read_only=read_only,
        name=SERVER_NAME,
        title="dbt Cloud runs",
        description=(
            "Trigger, inspect, wait for, diagnose, retry and cancel dbt Cloud job runs; find "
            "jobs; read artifacts."
        ),
        instructions=_INSTRUCTIONS,
        version=__version__,
        # MCPServer configures the root logger at this level when the host application has
        # not; WARNING keeps a library from turning on INFO logging for everyone.
        log_level="WARNING",
    )
    raw = client.with_raw_response

    @server.tool("trigger-job-run", **listed("Trigger a dbt Cloud job run", TRIGGER_RUN))
    @server.takes(JOB_ID, optional=(*TRIGGER_FIELDS, IF_RUNNING), defaults={"cause": DEFAULT_CAUSE})
    async def trigger_job_run(**args: Any) -> Annotated[Answer, TriggerBody]:
        """Trigger a job run: start a new run of a dbt Cloud job now.

        Returns dbt's body {status, data: the new run} (status 1 Queued). Each call starts
        ANOTHER run (not idempotent): to follow the run, use wait-for-run or get-run with
        data.id. Optional overrides apply to this run only. if_running 'reuse' returns the
        job's run already queued or running instead (reused: true), 'fail' refuses naming it.
        """
        # The client omits every override not given (dbt rejects empty ones).
        answer = await raw.trigger_run(**args)
        return passthrough(answer, _reused) if answer.reused else answer

    @server.tool("list-runs", **listed("List dbt Cloud runs", LIST_RUNS))
    @server.takes(
        optional=(*LIST_FILTERS, LIMIT, OFFSET, VIEW),
        defaults={"limit": 10, "order_by": "-id", "view": "full"},
    )
    async def list_runs(view: str, **args: Any) -> Annotated[Answer, RunPageBody]:
        """List runs: one page of an account's runs, most recent first, optionally filtered.

        Use it to find a run ID (e.g. the latest run of a job: job_definition_id + limit 1),
        or to see what is queued or failing (status). Returns dbt's body {status, data:
        runs, extra.pagination: {count, total_count}}; page with offset while
        offset + count < total_count. The defaults keep the answer small and recent (dbt's
        own defaults are 100 runs, oldest first).
        """
        page = await raw.list_runs(**args)
        return page if view == "full" else passthrough(page, _compact_list)

    @server.tool("get-run", **listed("Get a dbt Cloud run", GET_RUN))
    @server.takes(RUN_ID, optional=(INCLUDE_RELATED_RUN,))
    async def get_run(**args: Any) -> Annotated[Answer, RunBody]:
        """Get a run: its status, timing, git branch and link, as dbt returns it.

        data.status: 1 Queued, 2 Starting, 3 Running, 10 Success, 20 Error, 30 Cancelled;
        data.status_message often says why a run ended. To see which step failed and its
        logs, pass include_related=['run_steps'].
        """
        return await raw.get_run(**args)

    @server.tool("list-run-artifacts", **listed("List a run's artifacts", LIST_RUN_ARTIFACTS))
    @server.takes(RUN_ID, optional=(INCLUDE_SQL,), defaults={"include_sql": True})
    async def list_run_artifacts(
        include_sql: bool, **args: Any
    ) -> Annotated[Answer, ArtifactListBody]:
        """List run artifacts: the files a run saved (paths relative to dbt's target/).

        Typical entries: run_results.json, manifest.json, sources.json, catalog.json and
        compiled/... SQL (include_sql=false leaves the SQL out). dbt lists the LAST step's
        artifacts; data is null when the run saved none. Read one with get-run-artifact.
        """
        paths = await raw.list_run_artifacts(**args)
        return paths if include_sql else passthrough(paths, _without_sql)

    @server.tool("get-run-artifact", **listed("Read a run artifact (extension)", GET_RUN_ARTIFACT))
    @server.takes(RUN_ID, ARTIFACT_PATH, optional=(STEP, POINTER, FIELDS))
    async def get_run_artifact(**args: Any) -> Annotated[Answer, ArtifactAnswer]:
        """Read a run artifact (extension): inline content, or an outline when too large.

        Content is inlined up to 100 KB. A larger JSON artifact answers with an outline (its
        keys, lengths and sizes) and a hint: narrow with pointer (e.g. '/results') and fields
        (e.g. ['unique_id', 'status', 'message']). For run_results.json of a job with
        several steps, pass step: without it dbt returns the last step's artifact.
        """
        return await read_artifact(client, **args)

    @server.tool("wait-for-run", **listed("Wait for a run to finish (extension)", GET_RUN))
    @server.takes(
        RUN_ID,
        optional=(WAIT_TIMEOUT, POLL_INTERVAL),
        defaults={"timeout_seconds": 50, "poll_interval_seconds": 5},
    )
    async def wait_for_run(ctx: Context[Any, Any], **args: Any) -> Annotated[Answer, WaitAnswer]:
        """Wait for a run to finish (extension), with a progress notification at every check.

        Returns {data: the run, wait: {outcome, finished, polls, waited_seconds}}. outcome is
        success, error, cancelled, or timeout (the run is still going after timeout_seconds:
        call again to keep waiting). A failed run is a normal answer; then get-run with
        include_related=['run_steps'] shows which step failed.
        """
        return await wait(client, ctx, **args)

    @server.tool("get-run-errors", **listed("Why a run failed (extension)", GET_RUN))
    @server.takes(
        RUN_ID,
        optional=(INCLUDE_WARNINGS, LOG_LINES, ERRORS_VIEW),
        defaults={"view": "compact", "log_lines": DEFAULT_LOG_LINES},
    )
    async def get_run_errors(view: str, **args: Any) -> Annotated[Answer, RunErrorsAnswer]:
        """Why a run failed (extension): its failed steps, their failing models, tests and
        sources with dbt's own messages, and their log lines, in one small answer.

        Call it FIRST when a run ended in Error (status 20, or wait-for-run's outcome
        'error'), instead of reading run_results.json or step logs yourself. Each failed step
        lists nodes (unique_id, status, message, compiled_path) read from that step's own
        run_results.json (sources.json for source freshness), or error_lines from its log
        when it saved no artifact, and log_tail, its last lines. A run that did not fail has
        no steps (run.status_message says why a run was cancelled). For more detail use
        get-run-artifact with the step's index as step.
        """
        errors = await client.get_run_errors(**args)
        return as_json(errors, compact=view == "compact")

    @server.tool("retry-run", **listed("Retry a failed run (extension)", RETRY_RUN))
    @server.takes(RUN_ID)
    async def retry_run(**args: Any) -> Annotated[Answer, RunBody]:
        """Retry a failed run (extension): start a new run that resumes it from its point of
        failure, so what already succeeded is not built again.

        dbt allows it only for the latest run of a job, and only when that run failed
        (get-run's data.can_retry); otherwise dbt refuses and says why (e.g.
        RETRY_NOT_FAILED_RUN). Each call starts ANOTHER run (not idempotent). Returns dbt's
        body {status, data: the new run}; follow it with wait-for-run.
        """
        return await raw.retry_run(**args)

    @server.tool("rerun-job", **listed("Rerun a job from its failure (extension)", RERUN_JOB))
    @server.takes(JOB_ID)
    async def rerun_job(**args: Any) -> Annotated[Answer, RunBody]:
        """Rerun a job (extension): dbt retries the job's latest run from its point of
        failure when that run failed, and otherwise starts a fresh run of the job.

        Use it when you know the job but not its failed run. dbt refuses while a run of the
        job is in progress. Each call starts ANOTHER run (not idempotent). Returns dbt's
        body {status, data: the run started}; follow it with wait-for-run.
        """
        return await raw.rerun_job(**args)

    @server.tool("list-jobs", **listed("List dbt Cloud jobs (extension)", LIST_JOBS))
    @server.takes(optional=(*JOB_FILTERS, LIMIT, OFFSET), defaults={"limit": 20})
    async def list_jobs(**args: Any) -> Annotated[Answer, JobPageBody]:
        """List jobs (extension): find a job's id (jobId for trigger-job-run and rerun-job,
        job_definition_id for list-runs) by its name, project or environment.

        Returns dbt's body {status, data: jobs, extra.pagination: {count, total_count}};
        page with offset while offset + count < total_count. name_contains matches any part
        of the name, in any case.
        """
        return await raw.list_jobs(**args)

    @server.tool(
        "cancel-run", **listed("Cancel a dbt Cloud run (extension)", CANCEL_RUN, destructive=True)
    )
    @server.takes(RUN_ID)
    async def cancel_run(**args: Any) -> Annotated[Answer, RunBody]:
        """Cancel a run (extension): stop a queued or running run; its status becomes 30.

        Safe to repeat: cancelling a finished run changes nothing (dbt returns it as is).
        Returns dbt's body {status, data: the run}.
        """
        return await raw.cancel_run(**args)

    return server


# --- views ----------------------------------------------------------------------------------


def _reused(body: Mapping[str, Any]) -> Mapping[str, Any]:
    # First, so that the text a model reads starts by saying no run was triggered.
    return {"reused": True, **body}


def _compact_run(run: Any) -> Any:
    if not isinstance(run, Mapping):
        return run
    compact = {key: run[key] for key in COMPACT_RUN_FIELDS if key in run}
    # Related objects are dropped unless they were asked for (dbt sends them as null).
    for key in ("trigger", "job"):
        if compact.get(key) is None:
            compact.pop(key, None)
    return compact


def _compact_list(body: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(body.get("data"), list):
        return body
    return {**body, "data": [_compact_run(run) for run in body["data"]]}


_SQL_DIRECTORIES: Final = ("compiled/", "run/")


def _without_sql(body: Mapping[str, Any]) -> Mapping[str, Any]:
    paths = body.get("data")
    if not isinstance(paths, list):
        return body
    kept = [p for p in paths if not (isinstance(p, str) and p.startswith(_SQL_DIRECTORIES))]
    return {**body, "data": kept}
