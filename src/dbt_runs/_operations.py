"""Every dbt Cloud operation dbt-runs sends, declared once.

An `Operation` says how to reach an endpoint (method and path under `/api/v2`), which inputs
it takes (as `Field`s from `dbt_runs._fields`), what its 200 carries, and whether it starts a
run. The client sends operations generically from these entries; the REST adapter builds its
routes, validation and OpenAPI document from them; the MCP tools and the command line take
their arguments' rules from the same fields. Adding an endpoint means one entry here, one
typed method on the client, and one line on each surface that exposes it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import attrs

from dbt_runs import _fields as fields
from dbt_runs._fields import Field
from dbt_runs._retry import Kind

if TYPE_CHECKING:
    from dbt_runs.models import Job, JobPage, Run, RunPage

T = TypeVar("T")

__all__ = [
    "CANCEL_RUN",
    "GET_JOB",
    "GET_JOB_ARTIFACT",
    "GET_RUN",
    "GET_RUN_ARTIFACT",
    "LIST_JOBS",
    "LIST_RUNS",
    "LIST_RUNS_BY_ID",
    "LIST_RUN_ARTIFACTS",
    "OPERATIONS",
    "RERUN_JOB",
    "RETRY_RUN",
    "TRIGGER_RUN",
    "Operation",
    "Result",
]


class Result(enum.Enum):
    """What a successful response carries."""

    RUN = "run"
    """One run in dbt's envelope."""
    RUN_PAGE = "run_page"
    """A page of runs in dbt's envelope, with `extra.pagination`."""
    JOB = "job"
    """One job in dbt's envelope."""
    JOB_PAGE = "job_page"
    """A page of jobs in dbt's envelope, with `extra.pagination`."""
    ARTIFACT_PATHS = "artifact_paths"
    """A list of artifact paths in dbt's envelope (`data` may be null)."""
    ARTIFACT = "artifact"
    """An artifact file: raw bytes, not an envelope."""


@attrs.frozen
class Operation(Generic[T]):
    """One dbt Cloud endpoint, as the client sends it; `T` is what its typed method returns.

    Attributes:
        name: The client method (`get_run`); the raw mode has the same name.
        method: The HTTP method.
        path: The path under `/api/v2`, with `{account_id}` and the `path_fields` as
            placeholders; dbt's paths end in `/` except the artifact remainder.
        result: What a 200 carries.
        summary: One line for documents and tool lists.
        path_fields: The inputs that fill the path, besides `account_id`.
        query: The inputs sent as query parameters.
        body: The inputs sent as the JSON body.
        options: Inputs the client acts on itself, never sent to dbt (`if_running`).
        creates_run: Whether a success starts a run. Such a request is never sent twice
            once it may have reached dbt; the client reconciles instead (`_reconcile`).
        changes_runs: Whether it changes anything in dbt (hidden by read-only modes).
        doing: The request in words, for messages; `{job_id}`/`{run_id}` are filled in.
    """

    name: str
    method: str
    path: str
    result: Result
    summary: str
    path_fields: tuple[Field[Any], ...] = ()
    query: tuple[Field[Any], ...] = ()
    body: tuple[Field[Any], ...] = ()
    options: tuple[Field[Any], ...] = ()
    creates_run: bool = False
    changes_runs: bool = False
    doing: str = ""

    @property
    def kind(self) -> Kind:
        """How a failed request may be retried."""
        return Kind.CREATES_RUN if self.creates_run else Kind.IDEMPOTENT

    @property
    def accept(self) -> str:
        """The `Accept` header: an artifact may be any type."""
        return "*/*" if self.result is Result.ARTIFACT else "application/json"

    @property
    def inputs(self) -> tuple[Field[Any], ...]:
        """Every input but `account_id`, in the order a signature lists them."""
        return (*self.path_fields, *self.query, *self.body, *self.options)

    def url_path(self, account_id: int, values: Mapping[str, Any]) -> str:
        """The request path, with each path field checked and quoted.

        Raises:
            InvalidArgumentError: A path value the field refuses.
        """
        filled: dict[str, str | int] = {"account_id": account_id}
        for field in self.path_fields:
            filled[field.name] = field.path_text(field.check(values.get(field.name)))
        return self.path.format_map(filled)

    def query_params(self, values: Mapping[str, Any]) -> dict[str, str | int] | None:
        """The query parameters for `values` (checked), or None when there are none."""
        return fields.encode_query(self.query, values) or None

    def json_body(self, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """The JSON body for `values` (checked; None values omitted, as dbt refuses empty
        ones), or None for an operation without a body."""
        if not self.body:
            return None
        body: dict[str, Any] = {}
        for field in self.body:
            value = values.get(field.name)
            if value is not None:
                body[field.name] = field.check(value)
        return body


_RUN: Final = "/accounts/{account_id}/runs/{run_id}/"

TRIGGER_RUN: Final[Operation[Run]] = Operation(
    "trigger_run",
    "POST",
    "/accounts/{account_id}/jobs/{job_id}/run/",
    Result.RUN,
    "Trigger a job run",
    path_fields=(fields.JOB_ID,),
    body=fields.TRIGGER_FIELDS,
    options=(fields.IF_RUNNING,),
    creates_run=True,
    changes_runs=True,
    doing="triggering job {job_id}",
)
LIST_RUNS: Final[Operation[RunPage]] = Operation(
    "list_runs",
    "GET",
    "/accounts/{account_id}/runs/",
    Result.RUN_PAGE,
    "List runs",
    query=(*fields.LIST_FILTERS, fields.LIMIT, fields.OFFSET),
)
LIST_RUNS_BY_ID: Final[Operation[RunPage]] = Operation(
    "list_runs",
    "GET",
    "/accounts/{account_id}/runs/",
    Result.RUN_PAGE,
    "List runs by id",
    query=(fields.RUN_IDS, fields.INCLUDE_RELATED_LIST, fields.LIMIT),
)
"""The same endpoint, asked for up to 100 runs by id (`pk__in`): what the waits of an account
send together (`_wait.RunWatcher`). The client's own, so not in `OPERATIONS`: no adapter
offers it, and `list_runs` keeps the filters users choose from."""
GET_RUN: Final[Operation[Run]] = Operation(
    "get_run",
    "GET",
    _RUN,
    Result.RUN,
    "Get a run",
    path_fields=(fields.RUN_ID,),
    query=(fields.INCLUDE_RELATED_RUN,),
)
LIST_RUN_ARTIFACTS: Final[Operation[list[str]]] = Operation(
    "list_run_artifacts",
    "GET",
    _RUN + "artifacts/",
    Result.ARTIFACT_PATHS,
    "List run artifacts",
    path_fields=(fields.RUN_ID,),
)
GET_RUN_ARTIFACT: Final[Operation[bytes]] = Operation(
    "get_run_artifact",
    "GET",
    _RUN + "artifacts/{path}",
    Result.ARTIFACT,
    "Download a run artifact",
    path_fields=(fields.RUN_ID, fields.ARTIFACT_PATH),
    query=(fields.STEP,),
)
CANCEL_RUN: Final[Operation[Run]] = Operation(
    "cancel_run",
    "POST",
    _RUN + "cancel/",
    Result.RUN,
    "Cancel a run",
    path_fields=(fields.RUN_ID,),
    changes_runs=True,
)
RETRY_RUN: Final[Operation[Run]] = Operation(
    "retry_run",
    "POST",
    _RUN + "retry/",
    Result.RUN,
    "Retry a failed run from its point of failure",
    path_fields=(fields.RUN_ID,),
    creates_run=True,
    changes_runs=True,
    doing="retrying run {run_id}",
)

_JOB: Final = "/accounts/{account_id}/jobs/{job_id}/"

RERUN_JOB: Final[Operation[Run]] = Operation(
    "rerun_job",
    "POST",
    _JOB + "rerun/",
    Result.RUN,
    "Rerun a job from its point of failure",
    path_fields=(fields.JOB_ID,),
    creates_run=True,
    changes_runs=True,
    doing="rerunning job {job_id}",
)
LIST_JOBS: Final[Operation[JobPage]] = Operation(
    "list_jobs",
    "GET",
    "/accounts/{account_id}/jobs/",
    Result.JOB_PAGE,
    "List jobs",
    query=(*fields.JOB_FILTERS, fields.LIMIT, fields.OFFSET),
)
GET_JOB: Final[Operation[Job]] = Operation(
    "get_job",
    "GET",
    _JOB,
    Result.JOB,
    "Get a job",
    path_fields=(fields.JOB_ID,),
)
GET_JOB_ARTIFACT: Final[Operation[bytes]] = Operation(
    "get_job_artifact",
    "GET",
    _JOB + "artifacts/{path}",
    Result.ARTIFACT,
    "Download an artifact of a job's latest successful run",
    path_fields=(fields.JOB_ID, fields.ARTIFACT_PATH),
)

OPERATIONS: Final = (
    TRIGGER_RUN,
    LIST_RUNS,
    GET_RUN,
    LIST_RUN_ARTIFACTS,
    GET_RUN_ARTIFACT,
    CANCEL_RUN,
    RETRY_RUN,
    RERUN_JOB,
    LIST_JOBS,
    GET_JOB,
    GET_JOB_ARTIFACT,
)
"""Every operation: the seed's four first, then the extensions."""
