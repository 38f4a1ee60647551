"""What the MCP tools take besides dbt's own inputs, and the types of what they return.

Arguments: every argument of every tool is a `dbt_runs._fields.Field`. dbt's inputs are the
core declarations (`RUN_ID`, `TRIGGER_FIELDS`, `LIST_FILTERS`, ...); the few arguments only the
MCP server has (`view`, `include_sql`, `pointer`, `fields`, `timeout_seconds`,
`poll_interval_seconds`, `get-run-errors`' `view`) are declared here with the same classes, so
they publish their JSON Schema and check their values exactly as the core fields do. Their
descriptions are written for a model choosing a tool and filling its arguments.

Results: one `TypedDict` per answer. `MCPServer` derives each tool's `outputSchema` from them
and checks every successful result against them. They describe dbt's own JSON bodies
(`{"status": ..., "data": ..., "extra": ...}`) leniently on purpose: dbt adds fields over time
and sends `null` where its spec says nothing, so only the envelope keys are required, every run
field is optional and nullable (`anyOf` with `null`, never a `type` array, which strict
validators warn about) and unknown fields are allowed. `RunErrorsAnswer` is the one answer that
is not dbt's: it describes `dbt_runs._diagnose.as_json`, the JSON every surface gives of
`get_run_errors`, so its keys are required where `as_json` always writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Final, Literal, NotRequired

from pydantic import Field as Described

# pydantic reads `typing.TypedDict` only from Python 3.12 on.
from typing_extensions import TypedDict

from dbt_runs._fields import Choice, Field, FieldError, Flag, Number, Text, show

__all__ = [
    "COMPACT_RUN_FIELDS",
    "ERRORS_VIEW",
    "FIELDS",
    "INCLUDE_SQL",
    "POINTER",
    "POLL_INTERVAL",
    "VIEW",
    "WAIT_TIMEOUT",
    "ArtifactAnswer",
    "ArtifactListBody",
    "Job",
    "JobPageBody",
    "Keys",
    "Run",
    "RunBody",
    "RunErrorsAnswer",
    "RunPageBody",
    "Status",
    "TriggerBody",
    "WaitAnswer",
]

RUN_STATUS_TEXT: Final = "1 Queued, 2 Starting, 3 Running, 10 Success, 20 Error, 30 Cancelled"

# --- arguments only the MCP server has -------------------------------------------------------


class Keys(Field[list[str]]):
    """A non-empty list of object keys (to keep of an artifact's objects)."""

    __slots__ = ()
    kind = "array"
    _KEY: ClassVar = Text("key", "An object key.", max_length=1024)
    _MAX: ClassVar = 100

    def validate(self, value: object) -> list[str]:
        if not isinstance(value, list | tuple) or not value:
            raise FieldError(
                f'must be a non-empty list of keys, e.g. ["unique_id"], got {show(value)}'
            )
        if len(value) > self._MAX:
            raise FieldError(f"must hold at most {self._MAX} keys, got {len(value)}")
        for item in value:
            try:
                self._KEY.validate(item)
            except FieldError as exc:
                raise FieldError(f"must hold keys: an entry {exc}") from None
        return list(value)

    def from_text(self, texts: Sequence[str]) -> list[str]:
        return self.validate(list(texts))

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "minItems": 1, "maxItems": self._MAX, "items": self._KEY.schema()}


VIEW: Final = Choice(
    "view",
    "'full' (default) returns each run exactly as dbt sends it; 'compact' keeps only the fields "
    "needed to pick a run (id, job, status, times, git branch, link), a third of the size: use "
    "it to scan many runs (e.g. limit 100).",
    choices=("full", "compact"),
)
INCLUDE_SQL: Final = Flag(
    "include_sql",
    "false drops the compiled/ and run/ entries (one SQL file per model and test: thousands in "
    "a large project), keeping the JSON artifacts and logs. Default true: every path, as dbt "
    "lists them.",
)
POINTER: Final = Text(
    "pointer",
    "JSON pointer (RFC 6901) selecting part of a JSON artifact: '/results' (run_results.json), "
    "'/metadata', '/nodes/model.my_project.orders', '/results/0'. Leave it out for the whole "
    "artifact.",
    max_length=4096,
)
FIELDS: Final = Keys(
    "fields",
    "Keep only these keys of the selected object, or of each object of the selected array, "
    "e.g. ['unique_id', 'status', 'message', 'execution_time'] with pointer '/results'.",
)
WAIT_TIMEOUT: Final = Number(
    "timeout_seconds",
    "Give up waiting after this many seconds (default 50, at most 3600) and return the run's "
    "latest state; call again to keep waiting. Many MCP clients abandon a tool call after 60 s, "
    "so stay under that unless your client resets its timeout on progress notifications.",
    maximum=3600,
)
ERRORS_VIEW: Final = Choice(
    "view",
    "'compact' (default) keeps what explains the failure within about 5,000 tokens: messages "
    "cut to 300 characters, at most 20 nodes and 10 log lines a step (more_nodes counts the "
    "rest; truncated says when more was dropped to fit). 'full' keeps every node, message and "
    "log line asked for.",
    choices=("compact", "full"),
)
POLL_INTERVAL: Final = Number(
    "poll_interval_seconds",
    "Seconds between two status checks (default 5, 1 to 300).",
    minimum=1,
    inclusive=True,
    maximum=300,
)

# --- answers ---------------------------------------------------------------------------------


class Status(TypedDict, total=False):
    """dbt's response status: code (the HTTP status), is_success and messages."""

    code: int | None
    is_success: bool | None
    user_message: str | None
    developer_message: str | None


class Run(TypedDict, total=False):
    """A dbt Cloud run as dbt returns it (more fields than listed here)."""

    id: Annotated[int | None, Described(description="The run id.")]
    account_id: int | None
    project_id: int | None
    environment_id: int | None
    job_definition_id: Annotated[int | None, Described(description="The job this run belongs to.")]
    trigger_id: int | None
    status: Annotated[int | None, Described(description=f"Run status: {RUN_STATUS_TEXT}.")]
    status_humanized: Annotated[
        str | None, Described(description="The status in words, e.g. 'Success'.")
    ]
    status_message: Annotated[
        str | None, Described(description="Why the run ended as it did, when dbt says.")
    ]
    in_progress: bool | None
    is_complete: bool | None
    is_success: bool | None
    is_error: bool | None
    is_cancelled: bool | None
    git_branch: str | None
    git_sha: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    duration_humanized: str | None
    artifacts_saved: bool | None
    href: Annotated[str | None, Described(description="The run's page in dbt Cloud.")]
    trigger: Annotated[
        dict[str, Any] | None,
        Described(description="The trigger (cause, overrides), when included."),
    ]
    job: Annotated[
        dict[str, Any] | None, Described(description="The job definition, when included.")
    ]
    run_steps: Annotated[
        list[dict[str, Any]] | None,
        Described(description="The run's steps, when include_related has run_steps."),
    ]


class RunBody(TypedDict):
    """dbt's response body: {status, data: the run}."""

    status: Status
    data: Run


class Pagination(TypedDict, total=False):
    """count: runs in this page; total_count: runs matching."""

    count: int | None
    total_count: int | None


class PageExtra(TypedDict, total=False):
    """The filters and order dbt applied, and the page's counts."""

    filters: dict[str, Any] | None
    order_by: str | None
    pagination: Pagination | None


class TriggerBody(TypedDict):
    """dbt's response body: {status, data: the run}; reused is true when no run was
    triggered because the job already had one going (if_running 'reuse')."""

    reused: NotRequired[
        Annotated[
            bool,
            Described(
                description="true: if_running 'reuse' found this run of the job already "
                "queued or running, and nothing was triggered (data is that run)."
            ),
        ]
    ]
    status: Status
    data: Run


class RunPageBody(TypedDict):
    """dbt's response body: {status, data: runs, extra: {filters, order_by, pagination}}.
    In the compact view each run keeps only the main fields."""

    status: Status
    data: list[Run]
    extra: NotRequired[PageExtra]


class Job(TypedDict, total=False):
    """A dbt Cloud job definition as dbt returns it (more fields than listed here)."""

    id: Annotated[int | None, Described(description="The job id (jobId in other tools).")]
    account_id: int | None
    project_id: int | None
    environment_id: int | None
    name: str | None
    description: str | None
    dbt_version: str | None
    execute_steps: Annotated[
        list[str] | None, Described(description="The dbt commands each run executes.")
    ]
    job_type: str | None
    state: Annotated[int | None, Described(description="1 active, 2 deleted.")]
    generate_docs: bool | None
    run_generate_sources: bool | None
    triggers: dict[str, Any] | None
    settings: dict[str, Any] | None
    schedule: dict[str, Any] | None
    created_at: str | None
    updated_at: str | None


class JobPageBody(TypedDict):
    """dbt's response body: {status, data: jobs, extra: {filters, order_by, pagination}}."""

    status: Status
    data: list[Job]
    extra: NotRequired[PageExtra]


class ArtifactListBody(TypedDict):
    """dbt's response body: {status, data: artifact paths relative to target/}; data is null
    when the run saved no artifacts."""

    status: Status
    data: list[str] | None


class ArtifactAnswer(TypedDict):
    """One artifact, or the selected part of it. When it is too large to inline, content is
    absent and outline + hint say how to narrow the next call."""

    run_id: int
    path: str
    inlined: Annotated[bool, Described(description="Whether content holds the value.")]
    step: NotRequired[
        Annotated[int | None, Described(description="The step asked for; null: dbt's last.")]
    ]
    content_type: NotRequired[str | None]
    size_bytes: NotRequired[
        Annotated[int, Described(description="Size of the whole artifact, in bytes.")]
    ]
    pointer: NotRequired[str]
    fields: NotRequired[list[str] | None]
    selected_bytes: NotRequired[
        Annotated[int, Described(description="Size of the selected value as compact JSON.")]
    ]
    content: NotRequired[
        Annotated[Any, Described(description="The selected JSON value, or the artifact's text.")]
    ]
    truncated: NotRequired[
        Annotated[bool, Described(description="True when text content was cut.")]
    ]
    outline: NotRequired[
        Annotated[dict[str, Any], Described(description="The selected value's shape.")]
    ]
    hint: NotRequired[Annotated[str, Described(description="How to narrow or fetch the artifact.")]]


class WaitState(TypedDict):
    """How the wait ended."""

    outcome: Annotated[
        Literal["success", "error", "cancelled", "timeout", "finished"],
        Described(
            description="'timeout': the run is still going, call again to wait more; "
            "'finished': a status code dbt has not documented."
        ),
    ]
    finished: bool
    polls: NotRequired[int]
    waited_seconds: NotRequired[float]
    message: NotRequired[str]


class WaitAnswer(TypedDict):
    """data: the run as dbt last returned it; wait: how the wait ended. A run that finished
    with status Error or Cancelled is a normal answer, not a tool error."""

    data: Run
    wait: WaitState


class ErrorsRun(TypedDict):
    """The run's outcome."""

    id: int
    job_definition_id: int | None
    status: Annotated[int | None, Described(description=f"Run status: {RUN_STATUS_TEXT}.")]
    status_humanized: str | None
    status_message: Annotated[
        str | None, Described(description="dbt's reason, e.g. why the run was cancelled.")
    ]
    finished_at: str | None
    href: Annotated[str | None, Described(description="The run's page in dbt Cloud.")]


class FailedNode(TypedDict):
    """A model, test, seed or snapshot that failed (or warned)."""

    unique_id: Annotated[str, Described(description="e.g. model.shop.orders")]
    resource_type: str | None
    status: Annotated[str, Described(description="error, fail, warn or runtime error.")]
    message: Annotated[
        str | None, Described(description="dbt's message: the database or compilation error.")
    ]
    failures: Annotated[int | None, Described(description="Rows a failing test found.")]
    relation_name: str | None
    compiled_path: Annotated[
        str | None,
        Described(description="The compiled SQL, as a path for get-run-artifact (with step)."),
    ]
    execution_time: float | None
    started_at: str | None
    completed_at: str | None


class FailedSource(TypedDict):
    """A source whose freshness check failed (or warned)."""

    unique_id: str
    status: str
    max_loaded_at: str | None
    snapshotted_at: str | None
    age_seconds: float | None
    criteria: dict[str, Any] | None
    message: str | None


class FailedStep(TypedDict):
    """A run step that failed (or warned, when warnings were asked for)."""

    index: Annotated[
        int, Described(description="The step's 1-based index: get-run-artifact's step.")
    ]
    name: Annotated[str | None, Described(description="e.g. Invoke dbt with `dbt build`")]
    status: int | None
    status_humanized: str | None
    duration_seconds: float | None
    source: Annotated[
        str,
        Described(
            description="Where nodes/freshness come from: run_results.json, sources.json, or "
            "logs when the step saved no artifact (error_lines then say why it failed)."
        ),
    ]
    nodes: list[FailedNode]
    more_nodes: NotRequired[
        Annotated[int, Described(description="Failing nodes left out to keep the answer small.")]
    ]
    freshness: list[FailedSource]
    more_freshness: NotRequired[
        Annotated[int, Described(description="Failing sources left out to keep it small.")]
    ]
    error_lines: Annotated[
        list[str], Described(description="The error lines of the step's log (source 'logs').")
    ]
    log_tail: Annotated[list[str], Described(description="The step's last log lines.")]


class RunErrorsAnswer(TypedDict):
    """Why a run failed: the run's outcome and each failed step with its failing nodes and
    sources and its logs. A run that did not fail has no steps."""

    run: ErrorsRun
    steps: list[FailedStep]
    more_steps: NotRequired[
        Annotated[int, Described(description="Failed steps left out (the last ones) to fit.")]
    ]
    truncated: Annotated[
        bool,
        Described(
            description="true when log lines and nodes were dropped to fit; view 'full' has "
            "them all."
        ),
    ]


COMPACT_RUN_FIELDS: Final[tuple[str, ...]] = (
    "id",
    "job_definition_id",
    "environment_id",
    "project_id",
    "status",
    "status_humanized",
    "status_message",
    "in_progress",
    "is_complete",
    "is_success",
    "git_branch",
    "created_at",
    "started_at",
    "finished_at",
    "duration_humanized",
    "artifacts_saved",
    "href",
    "trigger",
    "job",
)
"""The run fields `list-runs` keeps in its compact view (`trigger`/`job` only when included)."""
