"""The REST adapter's routes: one line per operation it serves.

Each `Route` puts one of the client's operations (`dbt_runs._operations`) at a REST path. Its
inputs, their validation, the OpenAPI document and the handler all come from that operation,
so a route cannot exist without its documentation, and `--read-only` removes an operation
from both at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from dbt_runs import _fields as fields
from dbt_runs import _operations as ops
from dbt_runs._diagnose import as_json
from dbt_runs._operations import Operation, Result
from dbt_runs.expose.rest._params import BodyReader, QueryParam, query_params

__all__ = [
    "DEFAULT_CAUSE",
    "ROUTES",
    "RUN_ERRORS",
    "UNAUTHENTICATED_PATHS",
    "Report",
    "Route",
    "served_routes",
]

DEFAULT_CAUSE: Final = "Triggered via the dbt-runs REST adapter"
"""The `cause` sent when a trigger's body gives none (dbt requires one)."""

_PASS = " The body and status are dbt's own, unchanged, for successes and for dbt's errors alike."

Meta = Literal["health", "openapi"]


@dataclass(frozen=True)
class Report:
    """A client method that reads several dbt endpoints and answers with JSON of our own
    (`get_run_errors`), served in dbt's envelope: `{"status": {...}, "data": <that JSON>}`.

    Attributes:
        name: The client method.
        summary: One line for the document.
        path_fields: The inputs that fill the path, besides `account_id`.
        query: The inputs read from the query string.
        to_json: The result as JSON (the one shape every surface serves).
        schema: The OpenAPI component that describes `to_json`'s output.
    """

    name: str
    summary: str
    path_fields: tuple[fields.Field[Any], ...]
    query: tuple[fields.Field[Any], ...]
    to_json: Callable[[Any], Mapping[str, Any]]
    schema: str


@dataclass(frozen=True)
class Route:
    """One served route.

    Attributes:
        path: The REST path (`{accountid}`, `{runid}`... as the seed spells them; `{path}` is
            an artifact's remainder, which may hold `/`).
        operation_id: The seed's operation name (or the extension's).
        description: A paragraph for the OpenAPI document.
        operation: The client operation it serves (None for the adapter's own routes).
        report: Or the several-request client method it serves.
        extension: Beyond the seed's `rest` resources.
        meta: For the adapter's own routes: what they answer.
        defaults: Body values used when the caller leaves them out.
    """

    path: str
    operation_id: str
    description: str
    operation: Operation[Any] | None = None
    extension: bool = False
    meta: Meta | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    report: Report | None = None

    @property
    def method(self) -> str:
        """The HTTP method."""
        return self.operation.method if self.operation is not None else "GET"

    @property
    def summary(self) -> str:
        """One line for the document."""
        served = self.operation or self.report
        if served is None:
            return "Health check" if self.meta == "health" else "This document"
        return served.summary + (" (extension)" if self.extension else "")

    @property
    def route_path(self) -> str:
        """The Starlette route path (the artifact remainder may contain slashes)."""
        return self.path.replace("{path}", "{path:path}")

    @property
    def path_fields(self) -> tuple[fields.Field[Any], ...]:
        """The path's inputs, account first."""
        served = self.operation or self.report
        if served is None:
            return ()
        return (fields.ACCOUNT_ID, *served.path_fields)

    @property
    def query(self) -> tuple[QueryParam, ...]:
        """The accepted query parameters: dbt's, then the options the client acts on itself
        (a trigger's `if_running`), which a REST request can only carry in its query."""
        if self.operation is not None:
            return query_params((*self.operation.query, *self.operation.options))
        return query_params(self.report.query) if self.report is not None else ()

    @property
    def body(self) -> BodyReader | None:
        """The JSON body's reader, for operations that take one."""
        if self.operation is None or not self.operation.body:
            return None
        return BodyReader(self.operation.body, self.defaults)

    @property
    def changes_runs(self) -> bool:
        """Whether it changes anything in dbt (hidden by `--read-only`)."""
        return self.operation is not None and self.operation.changes_runs

    @property
    def streams(self) -> bool:
        """Whether the body is a file streamed through rather than dbt's envelope."""
        return self.operation is not None and self.operation.result is Result.ARTIFACT

    @property
    def pages(self) -> bool:
        """Whether the answer is one page of a listing (it gets a `Link` to the next)."""
        return self.operation is not None and self.operation.result in _PAGES


_PAGES: Final = frozenset({Result.RUN_PAGE, Result.JOB_PAGE})

RUN_ERRORS: Final = Report(
    "get_run_errors",
    "Why a run failed",
    path_fields=(fields.RUN_ID,),
    query=(fields.INCLUDE_WARNINGS, fields.LOG_LINES),
    to_json=as_json,
    schema="RunErrors",
)
"""`get_run_errors`, served as `as_json` of its result (the full shape: REST callers are
programs, not a model's context)."""


_ACCOUNT = "/v1/accounts/{accountid}"

ROUTES: Final[tuple[Route, ...]] = (
    Route(
        _ACCOUNT + "/jobs/{jobid}/run",
        "triggerjobrun",
        "Start a run of the job. The optional JSON body takes dbt's trigger fields; `cause` "
        "defaults to a fixed text, and carries a marker unique to the request "
        "(`[dbt-runs:...]`) by which a lost answer is reconciled. Never sent twice: one "
        "request starts at most one run. The query parameter `if_running` says what to do "
        "when the job already has a run queued or running: `queue` (dbt's way, the default), "
        "`reuse` (answer that run, with `X-Dbt-Runs-Reused: true`, and trigger nothing) or "
        "`fail` (a 409 naming it in `data.run_id`)." + _PASS,
        ops.TRIGGER_RUN,
        defaults={"cause": DEFAULT_CAUSE},
    ),
    Route(
        _ACCOUNT + "/runs",
        "listruns",
        "One page of the account's runs, with dbt's filters. A `Link: <...>; rel=\"next\"` "
        "header points at the next page while `offset + count < total_count`." + _PASS,
        ops.LIST_RUNS,
    ),
    Route(
        _ACCOUNT + "/runs/{runid}",
        "getrun",
        "The run, with the related objects asked for in `include_related`." + _PASS,
        ops.GET_RUN,
    ),
    Route(
        _ACCOUNT + "/runs/{runid}/artifacts",
        "listrunartifacts",
        "The paths of the run's artifacts (those of its last step; `data` may be null when "
        "there are none)." + _PASS,
        ops.LIST_RUN_ARTIFACTS,
    ),
    Route(
        _ACCOUNT + "/runs/{runid}/artifacts/{path}",
        "getrunartifact",
        "Extension beyond the seed. Streams the artifact file through in constant memory, "
        "with dbt's content type; the body is the raw file, not an envelope. Paths are "
        "relative to dbt's `target/`, e.g. `run_results.json`. Errors are JSON envelopes.",
        ops.GET_RUN_ARTIFACT,
        extension=True,
    ),
    Route(
        _ACCOUNT + "/runs/{runid}/cancel",
        "cancelrun",
        "Extension beyond the seed. Cancels the run; on a finished run it has no effect and "
        "dbt returns the run as it is." + _PASS,
        ops.CANCEL_RUN,
        extension=True,
    ),
    Route(
        _ACCOUNT + "/runs/{runid}/retry",
        "retryrun",
        "Extension beyond the seed. Retries the failed run from its point of failure and "
        "answers the new run. dbt refuses a run that did not fail or is not its job's latest "
        "(a 400 whose body says why, e.g. `RETRY_NOT_FAILED_RUN`). Never sent twice; a lost "
        "answer is a 502 saying a run may have started, with `data.candidate_run_ids`." + _PASS,
        ops.RETRY_RUN,
        extension=True,
    ),
    Route(
        _ACCOUNT + "/runs/{runid}/errors",
        "getrunerrors",
        "Extension beyond the seed. Why the run failed: each failed step with its failing "
        "nodes (read from that step's own `run_results.json`, or `sources.json` for "
        "`dbt source freshness`), the error lines of its log when it saved no artifact, and "
        "its last log lines. Not dbt's body: the adapter's own JSON (`RunErrors`), in dbt's "
        "envelope. A run that did not fail has no steps here. dbt's errors (a 404 for an "
        "unknown run) pass through unchanged.",
        report=RUN_ERRORS,
        extension=True,
    ),
    Route(
        _ACCOUNT + "/jobs",
        "listjobs",
        "Extension beyond the seed. One page of the account's jobs, with dbt's filters and "
        "a `Link` header to the next page like the run list." + _PASS,
        ops.LIST_JOBS,
        extension=True,
    ),
    Route(
        _ACCOUNT + "/jobs/{jobid}",
        "getjob",
        "Extension beyond the seed. The job definition." + _PASS,
        ops.GET_JOB,
        extension=True,
    ),
    Route(
        _ACCOUNT + "/jobs/{jobid}/artifacts/{path}",
        "getjobartifact",
        "Extension beyond the seed. An artifact of the job's latest successful run (its last "
        "step's), e.g. `manifest.json` to defer to; the body is the raw file, streamed "
        "through in constant memory with dbt's content type, not an envelope. Errors are "
        "JSON envelopes.",
        ops.GET_JOB_ARTIFACT,
        extension=True,
    ),
    Route(
        _ACCOUNT + "/jobs/{jobid}/rerun",
        "rerunjob",
        "Extension beyond the seed. Reruns the job: dbt retries its latest run from the point "
        "of failure when that run failed, and otherwise starts a new run. dbt's refusal (a "
        "run in progress, say) passes through with its status. Never sent twice; a lost "
        "answer is a 502 saying a run may have started." + _PASS,
        ops.RERUN_JOB,
        extension=True,
    ),
    Route(
        "/healthz",
        "healthz",
        "Liveness of the adapter itself (does not call dbt Cloud). Needs no token.",
        meta="health",
    ),
    Route(
        "/openapi.json",
        "openapi",
        "The OpenAPI 3.1 description of exactly the routes this adapter serves.",
        meta="openapi",
    ),
)

UNAUTHENTICATED_PATHS: Final = ("/healthz",)


def served_routes(*, read_only: bool) -> tuple[Route, ...]:
    """The routes served in the given mode (`read_only` drops what changes a run)."""
    return tuple(route for route in ROUTES if not (read_only and route.changes_runs))
