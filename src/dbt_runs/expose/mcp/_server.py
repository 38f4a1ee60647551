"""The MCP tools: the seed's four, plus clearly named extensions, over one `AsyncRunsClient`.

Each tool translates its arguments into one client call and hands back dbt's JSON body as
received, both as `structuredContent` and as text. No dbt knowledge lives here (no URLs,
statuses or retries): the client owns all of that.

Failures are tool results with `isError: true`, never protocol errors, so the model reads what
went wrong: dbt's own message and HTTP status for an API error, the argument and the problem
for a bad argument.
"""

# The seed names the ID arguments `accountId`, `jobId` and `runId`; MCPServer takes argument
# names from the tool functions' parameters, so those parameters must be camelCase.
# ruff: noqa: N803

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import ValidationError

from dbt_runs._version import __version__
from dbt_runs.errors import (
    APIConnectionError,
    APIStatusError,
    ArtifactNotFoundError,
    DbtRunsError,
    TriggerOutcomeUnknownError,
    WaitTimeoutError,
)
from dbt_runs.expose.mcp import _artifacts
from dbt_runs.expose.mcp._schemas import (
    ARTIFACT_LIST_OUTPUT,
    ARTIFACT_OUTPUT,
    COMPACT_RUN_FIELDS,
    RUN_LIST_OUTPUT,
    RUN_OUTPUT,
    WAIT_OUTPUT,
    AccountIdArg,
    ArtifactPathArg,
    AzurePullRequestArg,
    CauseArg,
    DbtVersionOverrideArg,
    EnvironmentIdArg,
    FieldsArg,
    GenerateDocsOverrideArg,
    GitBranchArg,
    GithubPullRequestArg,
    GitlabMergeRequestArg,
    GitShaArg,
    IncludeSqlArg,
    JobDefinitionIdArg,
    JobIdArg,
    LimitArg,
    ListIncludeRelatedArg,
    NonNativePullRequestArg,
    OffsetArg,
    OrderByArg,
    PointerArg,
    PollIntervalArg,
    ProjectIdArg,
    RunIdArg,
    RunIncludeRelatedArg,
    SchemaOverrideArg,
    StatusArg,
    StepArg,
    StepsOverrideArg,
    TargetNameOverrideArg,
    ThreadsOverrideArg,
    TimeoutSecondsOverrideArg,
    ViewArg,
    WaitTimeoutArg,
    clean_input_schema,
)
from dbt_runs.models import RunStatus

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient
    from dbt_runs._response import RawResponse
    from dbt_runs.models import Run

__all__ = [
    "ARTIFACT_INLINE_LIMIT",
    "ARTIFACT_MAX_BYTES",
    "DEFAULT_CAUSE",
    "SEED_TOOLS",
    "WRITE_TOOLS",
    "create_server",
]

SERVER_NAME: Final = "dbt-runs"

DEFAULT_CAUSE: Final = "Triggered by the dbt-runs MCP server"
"""The `cause` sent when a model triggers a run without giving one (dbt requires a cause)."""

ARTIFACT_INLINE_LIMIT: Final = 100_000
"""Largest selected value (bytes of compact JSON, or of text) inlined by `get-run-artifact`.

About 25k tokens: the result limit of common MCP clients."""

ARTIFACT_MAX_BYTES: Final = 64 * 1024 * 1024
"""Largest artifact `get-run-artifact` downloads to select from; larger ones must be
downloaded to disk (`dbt-runs artifacts download`)."""

SEED_TOOLS: Final = ("trigger-job-run", "list-runs", "get-run", "list-run-artifacts")
"""The four tools the seed spec fixes (names and hints); the others are extensions."""

WRITE_TOOLS: Final = frozenset({"trigger-job-run", "cancel-run"})
"""Tools that change something in dbt Cloud: hidden by `read_only=True`."""

_INSTRUCTIONS = """\
Tools for dbt Cloud job runs (dbt Cloud Administrative API v2).
Run status codes: 1 Queued, 2 Starting, 3 Running, 10 Success, 20 Error, 30 Cancelled.
Typical flow: trigger-job-run (returns the new run's id) -> wait-for-run -> if it failed,
get-run with include_related=['run_steps'] -> list-run-artifacts -> get-run-artifact
(e.g. run_results.json with pointer '/results' and fields ['unique_id','status','message']).
trigger-job-run starts a new run every time it is called: never call it again to retry a
call whose outcome is unclear; look with list-runs (job_definition_id, order_by '-id') first.
accountId may be omitted when the server has a default account.\
"""


ToolFn = Callable[..., Awaitable[CallToolResult]]


@attrs.frozen
class _ToolSpec:
    """One tool: its wire name, title, hints and output schema, and how to build its function."""

    name: str
    title: str
    read_only: bool
    destructive: bool
    idempotent: bool
    output_schema: dict[str, Any]
    make: Callable[[AsyncRunsClient], ToolFn]

    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            # Every tool acts on dbt Cloud, a world outside this server.
            open_world_hint=True,
        )


_TOOL_SPECS: list[_ToolSpec] = []


def _tool_spec(
    name: str,
    *,
    title: str,
    read_only: bool,
    destructive: bool,
    idempotent: bool,
    output_schema: dict[str, Any],
) -> Callable[[Callable[[AsyncRunsClient], ToolFn]], Callable[[AsyncRunsClient], ToolFn]]:
    """Declare a tool; the decorated factory builds its function around a client."""

    def register(
        make: Callable[[AsyncRunsClient], ToolFn],
    ) -> Callable[[AsyncRunsClient], ToolFn]:
        _TOOL_SPECS.append(
            _ToolSpec(name, title, read_only, destructive, idempotent, output_schema, make)
        )
        return make

    return register


# --- results ---------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    # Compact separators: whitespace is a third of pretty JSON and costs the model tokens.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _ok(structured: Mapping[str, Any], text: str | None = None) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text if text is not None else _dumps(structured))],
        structured_content=dict(structured),
    )


def _error(message: str, body: Any = None) -> CallToolResult:
    text = message if body is None else f"{message}\n{_dumps(body)}"
    result = CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
    if isinstance(body, Mapping):
        result.structured_content = dict(body)
    return result


def _passthrough(
    raw: RawResponse[Any], shape: Callable[[Any], Any] | None = None
) -> CallToolResult:
    """dbt's 2xx body as the result: decoded for `structuredContent`, as received for text.

    `shape` reshapes the decoded body (the compact list view); the text then follows it.
    """
    try:
        body = raw.json()
    except ValueError:
        # dbt (or a proxy in front of it) answered 2xx with something that is not JSON.
        return _error(
            f"dbt Cloud answered HTTP {raw.status_code} with a body that is not valid JSON "
            f"({len(raw.content)} bytes); try again"
        )
    if not isinstance(body, Mapping):
        return _error(f"dbt Cloud answered HTTP {raw.status_code} without its JSON envelope")
    if shape is not None:
        return _ok(shape(body))
    try:
        text = raw.content.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return _ok(body, text)


def _failure(exc: DbtRunsError) -> CallToolResult:
    """Turn a client exception into the tool error a model can act on."""
    if isinstance(exc, APIStatusError):
        return _error(
            f"dbt Cloud answered HTTP {exc.status_code}: {exc.message}",
            exc.body,
        )
    if isinstance(exc, TriggerOutcomeUnknownError):
        return _error(
            f"{exc} Do not trigger again before checking: call list-runs with "
            f"job_definition_id={exc.job_id} and order_by '-id' to see whether the run exists."
        )
    if isinstance(exc, APIConnectionError):
        return _error(f"Could not reach dbt Cloud: {exc}")
    return _error(str(exc))


def _no_account(client: AsyncRunsClient, account_id: int | None) -> CallToolResult | None:
    """The tool error for a call without `accountId` on a server without a default account."""
    if account_id is None and client.account_id is None:
        return _error(
            "accountId is required: this server has no default dbt Cloud account "
            "(start it with DBT_CLOUD_ACCOUNT_ID set to make accountId optional)"
        )
    return None


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


# --- the server ------------------------------------------------------------------------------


class _DbtRunsMCPServer(MCPServer[Any]):
    """`MCPServer` whose argument errors read as one line per bad argument.

    The stock message is pydantic's multi-line dump with documentation URLs; a model corrects
    its call faster from "runId: Field required" plus the list of valid arguments.
    """

    def __init__(self, *args: Any, tools: list[Tool], **kwargs: Any) -> None:
        super().__init__(*args, tools=tools, **kwargs)
        self._declared = {tool.name: tuple(tool.parameters["properties"]) for tool in tools}

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        """Call a tool, first refusing arguments the tool does not declare."""
        declared = self._declared.get(name)
        if declared is None:
            # Read-only mode hides the write tools; say which tools there are instead.
            raise ToolError(f"Unknown tool: {name}; tools: {', '.join(self._declared)}")
        unknown = sorted(set(arguments) - set(declared))
        if unknown:
            raise ToolError(
                f"Invalid arguments for {name}: unknown argument(s) {', '.join(unknown)}; "
                f"valid arguments: {', '.join(declared)}"
            )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(_argument_errors(name, cause)) from cause
            raise


def _argument_errors(name: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        problems.append(f"{where}: {item['msg']}")
    return f"Invalid arguments for {name}: " + "; ".join(problems)


def _build_tool(spec: _ToolSpec, client: AsyncRunsClient, *, account_required: bool) -> Tool:
    fn = spec.make(client)
    tool = Tool.from_function(
        fn,
        name=spec.name,
        title=spec.title,
        description=inspect.cleandoc(fn.__doc__ or ""),
        annotations=spec.annotations(),
    )
    parameters = clean_input_schema(tool.parameters)
    if account_required and "accountId" in parameters["properties"]:
        parameters["required"] = [*parameters.get("required", []), "accountId"]
    tool.parameters = parameters
    # Published, not enforced here: the tool returns dbt's body untouched, and the schema is
    # lenient enough that clients validating structuredContent accept what dbt sends.
    tool.fn_metadata.output_schema = spec.output_schema
    return tool


def create_server(client: AsyncRunsClient, *, read_only: bool = False) -> MCPServer[Any]:
    """Build the MCP server exposing dbt Cloud runs through `client`.

    The seed's tools (`trigger-job-run`, `list-runs`, `get-run`, `list-run-artifacts`) keep
    their names and hints; the extensions are `get-run-artifact`, `wait-for-run` and
    `cancel-run`. Every tool sets `openWorldHint` and a human title. When the client has no
    default account, `accountId` is a required argument of every tool.

    Args:
        client: The shared client every tool calls. The server does not close it: whoever
            opened it does, after the server stops.
        read_only: Hide every tool that changes something in dbt Cloud
            (`trigger-job-run`, `cancel-run`).

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
    account_required = getattr(client, "account_id", None) is None
    tools = [
        _build_tool(spec, client, account_required=account_required)
        for spec in _TOOL_SPECS
        if not (read_only and spec.name in WRITE_TOOLS)
    ]
    return _DbtRunsMCPServer(
        SERVER_NAME,
        title="dbt Cloud runs",
        description="Trigger, inspect, wait for and cancel dbt Cloud job runs; read artifacts.",
        instructions=_INSTRUCTIONS,
        version=__version__,
        tools=tools,
        # MCPServer configures the root logger at this level when the host application has
        # not; WARNING keeps a library from turning on INFO logging for everyone.
        log_level="WARNING",
    )


# --- the tools --------------------------------------------------------------------------------


@_tool_spec(
    "trigger-job-run",
    title="Trigger a dbt Cloud job run",
    read_only=False,
    destructive=False,
    idempotent=False,
    output_schema=RUN_OUTPUT,
)
def _trigger_job_run(client: AsyncRunsClient) -> ToolFn:
    async def trigger_job_run(
        jobId: JobIdArg,
        accountId: AccountIdArg = None,
        cause: CauseArg = None,
        git_branch: GitBranchArg = None,
        git_sha: GitShaArg = None,
        schema_override: SchemaOverrideArg = None,
        dbt_version_override: DbtVersionOverrideArg = None,
        threads_override: ThreadsOverrideArg = None,
        target_name_override: TargetNameOverrideArg = None,
        generate_docs_override: GenerateDocsOverrideArg = None,
        timeout_seconds_override: TimeoutSecondsOverrideArg = None,
        steps_override: StepsOverrideArg = None,
        github_pull_request_id: GithubPullRequestArg = None,
        gitlab_merge_request_id: GitlabMergeRequestArg = None,
        azure_pull_request_id: AzurePullRequestArg = None,
        non_native_pull_request_id: NonNativePullRequestArg = None,
    ) -> CallToolResult:
        """Trigger a job run: start a new run of a dbt Cloud job now.

        Returns dbt's body {status, data: the new run} (status 1 Queued). Each call starts
        ANOTHER run (not idempotent): to follow the run, use wait-for-run or get-run with
        data.id. Optional overrides apply to this run only.
        """
        if (refused := _no_account(client, accountId)) is not None:
            return refused
        try:
            # The client omits every override left as None (dbt rejects empty ones).
            raw = await client.with_raw_response.trigger_run(
                jobId,
                account_id=accountId,
                cause=cause or DEFAULT_CAUSE,
                git_branch=git_branch,
                git_sha=git_sha,
                schema_override=schema_override,
                dbt_version_override=dbt_version_override,
                threads_override=threads_override,
                target_name_override=target_name_override,
                generate_docs_override=generate_docs_override,
                timeout_seconds_override=timeout_seconds_override,
                steps_override=steps_override,
                github_pull_request_id=github_pull_request_id,
                gitlab_merge_request_id=gitlab_merge_request_id,
                azure_pull_request_id=azure_pull_request_id,
                non_native_pull_request_id=non_native_pull_request_id,
            )
        except DbtRunsError as exc:
            return _failure(exc)
        return _passthrough(raw)

    return trigger_job_run


@_tool_spec(
    "list-runs",
    title="List dbt Cloud runs",
    read_only=True,
    destructive=False,
    idempotent=True,
    output_schema=RUN_LIST_OUTPUT,
)
def _list_runs(client: AsyncRunsClient) -> ToolFn:
    async def list_runs(
        accountId: AccountIdArg = None,
        limit: LimitArg = 10,
        offset: OffsetArg = 0,
        order_by: OrderByArg = "-id",
        job_definition_id: JobDefinitionIdArg = None,
        status: StatusArg = None,
        environment_id: EnvironmentIdArg = None,
        project_id: ProjectIdArg = None,
        include_related: ListIncludeRelatedArg = None,
        view: ViewArg = "full",
    ) -> CallToolResult:
        """List runs: one page of an account's runs, most recent first, optionally filtered.

        Use it to find a run ID (e.g. the latest run of a job: job_definition_id + limit 1),
        or to see what is queued or failing (status). Returns dbt's body {status, data:
        runs, extra.pagination: {count, total_count}}; page with offset while
        offset + count < total_count.
        """
        if (refused := _no_account(client, accountId)) is not None:
            return refused
        try:
            raw = await client.with_raw_response.list_runs(
                account_id=accountId,
                limit=limit,
                offset=offset,
                order_by=order_by,
                job_definition_id=job_definition_id,
                status=status,
                environment_id=environment_id,
                project_id=project_id,
                include_related=include_related,
            )
        except DbtRunsError as exc:
            return _failure(exc)
        return _passthrough(raw, None if view == "full" else _compact_list)

    return list_runs


@_tool_spec(
    "get-run",
    title="Get a dbt Cloud run",
    read_only=True,
    destructive=False,
    idempotent=True,
    output_schema=RUN_OUTPUT,
)
def _get_run(client: AsyncRunsClient) -> ToolFn:
    async def get_run(
        runId: RunIdArg,
        accountId: AccountIdArg = None,
        include_related: RunIncludeRelatedArg = None,
    ) -> CallToolResult:
        """Get a run: its status, timing, git branch and link, as dbt returns it.

        data.status: 1 Queued, 2 Starting, 3 Running, 10 Success, 20 Error, 30 Cancelled;
        data.status_message often says why a run ended. To see which step failed and its
        logs, pass include_related=['run_steps'].
        """
        if (refused := _no_account(client, accountId)) is not None:
            return refused
        try:
            raw = await client.with_raw_response.get_run(
                runId, account_id=accountId, include_related=include_related
            )
        except DbtRunsError as exc:
            return _failure(exc)
        return _passthrough(raw)

    return get_run


@_tool_spec(
    "list-run-artifacts",
    title="List a run's artifacts",
    read_only=True,
    destructive=False,
    idempotent=True,
    output_schema=ARTIFACT_LIST_OUTPUT,
)
def _list_run_artifacts(client: AsyncRunsClient) -> ToolFn:
    async def list_run_artifacts(
        runId: RunIdArg,
        accountId: AccountIdArg = None,
        include_sql: IncludeSqlArg = True,
    ) -> CallToolResult:
        """List run artifacts: the files a run saved (paths relative to dbt's target/).

        Typical entries: run_results.json, manifest.json, sources.json, catalog.json and
        compiled/... SQL (include_sql=false leaves the SQL out). dbt lists the LAST step's
        artifacts; data is null when the run saved none. Read one with get-run-artifact.
        """
        if (refused := _no_account(client, accountId)) is not None:
            return refused
        try:
            raw = await client.with_raw_response.list_run_artifacts(runId, account_id=accountId)
        except DbtRunsError as exc:
            return _failure(exc)
        return _passthrough(raw, None if include_sql else _without_sql)

    return list_run_artifacts


@_tool_spec(
    "get-run-artifact",
    title="Read a run artifact (extension)",
    read_only=True,
    destructive=False,
    idempotent=True,
    output_schema=ARTIFACT_OUTPUT,
)
def _get_run_artifact(client: AsyncRunsClient) -> ToolFn:
    async def get_run_artifact(
        runId: RunIdArg,
        path: ArtifactPathArg,
        accountId: AccountIdArg = None,
        step: StepArg = None,
        pointer: PointerArg = "",
        fields: FieldsArg = None,
    ) -> CallToolResult:
        """Read a run artifact (extension): inline content, or an outline when too large.

        Content is inlined up to 100 KB. A larger JSON artifact answers with an outline (its
        keys, lengths and sizes) and a hint: narrow with pointer (e.g. '/results') and fields
        (e.g. ['unique_id', 'status', 'message']). For run_results.json of a job with
        several steps, pass step: without it dbt returns the last step's artifact.
        """
        if (refused := _no_account(client, accountId)) is not None:
            return refused
        return await _read_artifact(
            client,
            run_id=runId,
            path=path,
            account_id=accountId,
            step=step,
            pointer=pointer,
            fields=fields,
        )

    return get_run_artifact


@_tool_spec(
    "wait-for-run",
    title="Wait for a run to finish (extension)",
    read_only=True,
    destructive=False,
    idempotent=True,
    output_schema=WAIT_OUTPUT,
)
def _wait_for_run(client: AsyncRunsClient) -> ToolFn:
    async def wait_for_run(
        runId: RunIdArg,
        ctx: Context[Any, Any],
        accountId: AccountIdArg = None,
        timeout_seconds: WaitTimeoutArg = 50,
        poll_interval_seconds: PollIntervalArg = 5,
    ) -> CallToolResult:
        """Wait for a run to finish (extension), with a progress notification at every check.

        Returns {data: the run, wait: {outcome, finished, polls, waited_seconds}}. outcome is
        success, error, cancelled, or timeout (the run is still going after timeout_seconds:
        call again to keep waiting). A failed run is a normal answer; then get-run with
        include_related=['run_steps'] shows which step failed.
        """
        if (refused := _no_account(client, accountId)) is not None:
            return refused
        return await _wait(
            client,
            ctx,
            run_id=runId,
            account_id=accountId,
            timeout_seconds=timeout_seconds,
            poll_interval=poll_interval_seconds,
        )

    return wait_for_run


@_tool_spec(
    "cancel-run",
    title="Cancel a dbt Cloud run (extension)",
    read_only=False,
    destructive=True,
    idempotent=True,
    output_schema=RUN_OUTPUT,
)
def _cancel_run(client: AsyncRunsClient) -> ToolFn:
    async def cancel_run(
        runId: RunIdArg,
        accountId: AccountIdArg = None,
    ) -> CallToolResult:
        """Cancel a run (extension): stop a queued or running run; its status becomes 30.

        Safe to repeat: cancelling a finished run changes nothing (dbt returns it as is).
        Returns dbt's body {status, data: the run}.
        """
        if (refused := _no_account(client, accountId)) is not None:
            return refused
        try:
            raw = await client.with_raw_response.cancel_run(runId, account_id=accountId)
        except DbtRunsError as exc:
            return _failure(exc)
        return _passthrough(raw)

    return cancel_run


# --- extension internals ---------------------------------------------------------------------


_OUTCOMES: Final = {
    RunStatus.SUCCESS: "success",
    RunStatus.ERROR: "error",
    RunStatus.CANCELLED: "cancelled",
}


async def _wait(
    client: AsyncRunsClient,
    ctx: Context[Any, Any],
    *,
    run_id: int,
    account_id: int | None,
    timeout_seconds: float,
    poll_interval: float,
) -> CallToolResult:
    polls = 0
    started = time.monotonic()

    async def on_poll(run: Run) -> None:
        nonlocal polls
        polls += 1
        status = run.status_humanized or (run.status.humanized if run.status else "unknown")
        # One notification per poll: the client sees the run move (and a client that resets
        # its request timeout on progress keeps waiting).
        await ctx.report_progress(
            polls, None, f"run {run_id}: {status} (check {polls}, {_elapsed(started)} s)"
        )

    message = ""
    try:
        run: Run | None = await client.wait_for_run(
            run_id,
            account_id=account_id,
            timeout=timeout_seconds,
            poll_interval=poll_interval,
            raise_on_failure=False,
            on_poll=on_poll,
        )
    except WaitTimeoutError as exc:
        run, message = exc.run, exc.message
        if run is None:
            return _error(f"Waiting for run {run_id} failed: {message}")
    except DbtRunsError as exc:
        return _failure(exc)
    assert run is not None
    if message:
        outcome = "timeout"
    else:
        outcome = _OUTCOMES.get(run.status, "finished") if run.status is not None else "finished"
    wait: dict[str, Any] = {
        "outcome": outcome,
        "finished": outcome != "timeout",
        "polls": polls,
        "waited_seconds": _elapsed(started),
    }
    if message:
        wait["message"] = message + "; call wait-for-run again to keep waiting"
    return _ok({"data": dict(run.raw), "wait": wait})


def _elapsed(since: float) -> float:
    return round(time.monotonic() - since, 3)


async def _read_artifact(
    client: AsyncRunsClient,
    *,
    run_id: int,
    path: str,
    account_id: int | None,
    step: int | None,
    pointer: str,
    fields: Sequence[str] | None,
) -> CallToolResult:
    base: dict[str, Any] = {"run_id": run_id, "path": path, "step": step}
    try:
        async with client.stream_run_artifact(
            run_id, path, account_id=account_id, step=step
        ) as stream:
            content_type = stream.content_type
            declared = stream.content_length
            if declared is not None and declared > ARTIFACT_MAX_BYTES:
                return _too_big_to_fetch(base, declared, content_type)
            chunks: list[bytes] = []
            size = 0
            async for chunk in stream:
                size += len(chunk)
                if size > ARTIFACT_MAX_BYTES:
                    return _too_big_to_fetch(base, size, content_type, at_least=True)
                chunks.append(chunk)
    except ArtifactNotFoundError as exc:
        where = f"step {step}" if step is not None else "the last step"
        return _error(
            f"dbt Cloud answered HTTP 404: run {run_id} has no artifact {path!r} for {where} "
            "(the step may not produce it, or it is not uploaded yet). list-run-artifacts "
            "shows what the run saved.",
            exc.body,
        )
    except DbtRunsError as exc:
        return _failure(exc)

    data = b"".join(chunks)
    base.update(content_type=content_type, size_bytes=len(data), pointer=pointer, fields=fields)
    document: Any
    is_json = (content_type is not None and "json" in content_type) or path.endswith(".json")
    try:
        document = json.loads(data) if is_json else None
    except ValueError:
        is_json = False
    if not is_json:
        return _text_artifact(base, data, pointer, fields)

    try:
        selected = _artifacts.resolve_pointer(document, pointer)
        if fields:
            selected = _artifacts.apply_fields(selected, fields)
    except _artifacts.ArtifactSelectionError as exc:
        return _error(f"Cannot select from {path}: {exc}")
    selected_bytes = _artifacts.json_size(selected)
    base["selected_bytes"] = selected_bytes
    if selected_bytes <= ARTIFACT_INLINE_LIMIT:
        return _ok({**base, "inlined": True, "content": selected})
    return _ok(
        {
            **base,
            "inlined": False,
            "outline": _artifacts.outline(selected),
            "hint": (
                f"The selected value is {selected_bytes} bytes, over the {ARTIFACT_INLINE_LIMIT}"
                "-byte inline limit. Call again with a narrower pointer (a key from outline, "
                "e.g. '/results' or '/nodes/<unique_id>') and/or fields to keep only some "
                "keys of each item, e.g. ['unique_id', 'status', 'message']."
            ),
        }
    )


def _text_artifact(
    base: dict[str, Any], data: bytes, pointer: str, fields: Sequence[str] | None
) -> CallToolResult:
    if pointer or fields:
        return _error(
            f"pointer and fields apply to JSON artifacts only; {base['path']!r} is "
            f"{base.get('content_type') or 'not JSON'}: call again without them"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _ok(
            {
                **base,
                "inlined": False,
                "hint": (
                    "This artifact is binary; download it instead: "
                    f"dbt-runs artifacts download {base['run_id']} {base['path']}"
                ),
            }
        )
    encoded = text.encode("utf-8")
    if len(encoded) <= ARTIFACT_INLINE_LIMIT:
        return _ok({**base, "selected_bytes": len(encoded), "inlined": True, "content": text})
    head = encoded[:ARTIFACT_INLINE_LIMIT].decode("utf-8", errors="ignore")
    return _ok(
        {
            **base,
            "selected_bytes": len(encoded),
            "inlined": True,
            "truncated": True,
            "content": head,
            "hint": (
                f"Only the first {ARTIFACT_INLINE_LIMIT} bytes of {len(encoded)} are shown; "
                f"download the whole file with: dbt-runs artifacts download {base['run_id']} "
                f"{base['path']}"
            ),
        }
    )


def _too_big_to_fetch(
    base: dict[str, Any], size: int, content_type: str | None, *, at_least: bool = False
) -> CallToolResult:
    amount = f"over {ARTIFACT_MAX_BYTES}" if at_least else str(size)
    return _ok(
        {
            **base,
            "content_type": content_type,
            "size_bytes": size,
            "inlined": False,
            "hint": (
                f"This artifact is {amount} bytes, too large to read here (limit "
                f"{ARTIFACT_MAX_BYTES}). Download it with: dbt-runs artifacts download "
                f"{base['run_id']} {base['path']}"
            ),
        }
    )
