"""The REST adapter's operations, declared once.

The Starlette routes and the OpenAPI document are both generated from `OPERATIONS`, so the
document describes exactly what is served: a route cannot exist without its documentation,
and `--read-only` removes an operation from both at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dbt_runs._fields import LIST_RELATED, MAX_LIMIT, ORDER_FIELDS, RUN_RELATED
from dbt_runs.expose.rest._params import (
    Param,
    choice_param,
    datetime_range_param,
    int_list_param,
    int_param,
    str_list_param,
)
from dbt_runs.models import RunStatus

# dbt's vocabulary comes from the client, so the adapter cannot drift from what it sends.
RUN_STATUSES = tuple(int(status) for status in RunStatus)
ORDER_BY = tuple(f"{sign}{field}" for field in ORDER_FIELDS for sign in ("", "-"))
LIST_INCLUDE_RELATED = LIST_RELATED
GET_INCLUDE_RELATED = RUN_RELATED

LIST_RUNS_QUERY: tuple[Param, ...] = (
    int_param("limit", "Runs per page, 1 to 100 (dbt's default: 100).", maximum=MAX_LIMIT),
    int_param("offset", "How many runs to skip.", minimum=0),
    choice_param("order_by", "Sort key; a leading '-' sorts descending.", ORDER_BY),
    int_param("job_definition_id", "Only runs of this job."),
    int_param("environment_id", "Only runs in this environment."),
    int_param("project_id", "Only runs in this project."),
    int_list_param("project_id__in", "Only runs in these projects."),
    choice_param("status", "Only runs with this status (1 Queued ... 30 Cancelled).", RUN_STATUSES),
    int_list_param(
        "status__in",
        "Only runs with one of these statuses (repeat the parameter, or send '[1,2]' or '1,2').",
        choices=RUN_STATUSES,
    ),
    datetime_range_param("created_at__range", "Only runs created between two timestamps."),
    datetime_range_param("finished_at__range", "Only runs finished between two timestamps."),
    str_list_param(
        "include_related", "Related objects to embed in each run.", choices=LIST_INCLUDE_RELATED
    ),
)
GET_RUN_QUERY: tuple[Param, ...] = (
    str_list_param(
        "include_related", "Related objects to embed in the run.", choices=GET_INCLUDE_RELATED
    ),
)
ARTIFACT_QUERY: tuple[Param, ...] = (
    int_param(
        "step",
        "The 1-based step whose artifact to fetch; without it dbt serves the last step's "
        "(often `dbt docs generate`, not the step that built your models).",
    ),
)

SuccessKind = Literal["run", "runs", "artifact_paths", "artifact", "health", "openapi"]


@dataclass(frozen=True)
class Operation:
    """One served operation: the route, its inputs, its documentation.

    Attributes:
        method: The HTTP method.
        path: The route in OpenAPI form (`{accountid}`); `{path}` is the artifact remainder.
        operation_id: The seed's operation name (or the extension's).
        summary: One line for the document.
        description: A paragraph for the document.
        path_params: The path parameters, in order.
        query: The accepted query parameters.
        has_body: Whether a JSON body is accepted.
        changes_runs: Whether it changes a run (hidden by `--read-only`).
        extension: Beyond the seed's `rest` resources.
        success: What a 200 carries.
    """

    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    path_params: tuple[str, ...] = ()
    query: tuple[Param, ...] = ()
    has_body: bool = False
    changes_runs: bool = False
    extension: bool = False
    success: SuccessKind = "run"

    @property
    def route_path(self) -> str:
        """The Starlette route path (the artifact remainder may contain slashes)."""
        return self.path.replace("{path}", "{path:path}")


_PASS = " The body and status are dbt's own, unchanged, for successes and for dbt's errors alike."

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/v1/accounts/{accountid}/jobs/{jobid}/run",
        "triggerjobrun",
        "Trigger a job run",
        "Start a run of the job. The optional JSON body takes dbt's trigger fields; `cause` "
        "defaults to a fixed text. Never retried by the adapter: one request starts at most "
        "one run." + _PASS,
        path_params=("accountid", "jobid"),
        has_body=True,
        changes_runs=True,
    ),
    Operation(
        "GET",
        "/v1/accounts/{accountid}/runs",
        "listruns",
        "List runs",
        "One page of the account's runs, with dbt's filters. A `Link: <...>; rel=\"next\"` "
        "header points at the next page while `offset + count < total_count`." + _PASS,
        path_params=("accountid",),
        query=LIST_RUNS_QUERY,
        success="runs",
    ),
    Operation(
        "GET",
        "/v1/accounts/{accountid}/runs/{runid}",
        "getrun",
        "Get a run",
        "The run, with the related objects asked for in `include_related`." + _PASS,
        path_params=("accountid", "runid"),
        query=GET_RUN_QUERY,
    ),
    Operation(
        "GET",
        "/v1/accounts/{accountid}/runs/{runid}/artifacts",
        "listrunartifacts",
        "List run artifacts",
        "The paths of the run's artifacts (those of its last step; `data` may be null when "
        "there are none)." + _PASS,
        path_params=("accountid", "runid"),
        success="artifact_paths",
    ),
    Operation(
        "GET",
        "/v1/accounts/{accountid}/runs/{runid}/artifacts/{path}",
        "getrunartifact",
        "Download a run artifact (extension)",
        "Extension beyond the seed. Streams the artifact file through in constant memory, "
        "with dbt's content type; the body is the raw file, not an envelope. Paths are "
        "relative to dbt's `target/`, e.g. `run_results.json`. Errors are JSON envelopes.",
        path_params=("accountid", "runid", "path"),
        query=ARTIFACT_QUERY,
        extension=True,
        success="artifact",
    ),
    Operation(
        "POST",
        "/v1/accounts/{accountid}/runs/{runid}/cancel",
        "cancelrun",
        "Cancel a run (extension)",
        "Extension beyond the seed. Cancels the run; on a finished run it has no effect and "
        "dbt returns the run as it is." + _PASS,
        path_params=("accountid", "runid"),
        changes_runs=True,
        extension=True,
    ),
    Operation(
        "GET",
        "/healthz",
        "healthz",
        "Health check",
        "Liveness of the adapter itself (does not call dbt Cloud). Needs no token.",
        success="health",
    ),
    Operation(
        "GET",
        "/openapi.json",
        "openapi",
        "This document",
        "The OpenAPI 3.1 description of exactly the routes this adapter serves.",
        success="openapi",
    ),
)

UNAUTHENTICATED_PATHS = ("/healthz",)


def served_operations(*, read_only: bool) -> tuple[Operation, ...]:
    """The operations served in the given mode (`read_only` drops what changes a run)."""
    return tuple(op for op in OPERATIONS if not (read_only and op.changes_runs))
