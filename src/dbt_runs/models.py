"""Typed views of dbt Cloud's run objects: `Run`, `RunStatus`, `RunTrigger`, `RunStep`, `Job`.

The models carry no parsing code: `dbt_runs._converter` holds every hook. Every field but
`id` may be None (dbt sends many nulls), unknown fields are ignored and unknown status values
still parse, so a new field upstream never breaks a user. Each model keeps `.raw`: the JSON
object exactly as dbt sent it, for callers (like the REST adapter) that pass it on unchanged.
"""

from __future__ import annotations

import enum
import html
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import attrs

__all__ = [
    "FreshnessResult",
    "Job",
    "JobPage",
    "NodeResult",
    "Page",
    "Run",
    "RunErrors",
    "RunPage",
    "RunStatus",
    "RunStep",
    "RunTrigger",
    "StepFailure",
]

T = TypeVar("T")


class RunStatus(enum.IntEnum):
    """A run's (or a step's) status code.

    It is an `int` (`RunStatus.SUCCESS == 10`; JSON holds `10`), printed as the word dbt
    shows: `str()`, `print()` and `f"{status}"` give `Success` (with any width or alignment,
    `f"{status:<9}"`), a numeric format gives the code (`f"{status:d}"` is `10`), and `repr`
    gives both (`<RunStatus.SUCCESS: 10>`). A code dbt adds later parses as a pseudo-member
    named `UNKNOWN_<code>` instead of failing.

    Example:
        >>> print(RunStatus(10), RunStatus(10) == 10, RunStatus(10).is_terminal)
        Success True True
        >>> RunStatus(40).name, str(RunStatus(40))
        ('UNKNOWN_40', 'Unknown 40')
    """

    QUEUED = 1
    STARTING = 2
    RUNNING = 3
    SUCCESS = 10
    ERROR = 20
    CANCELLED = 30

    @classmethod
    def _missing_(cls, value: object) -> RunStatus | None:
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None

    @property
    def is_known(self) -> bool:
        """True for the six codes dbt documents."""
        return self._name_ in type(self).__members__

    @property
    def is_terminal(self) -> bool:
        """True for Success, Error and Cancelled: the run will not change any more."""
        return self in _TERMINAL

    @property
    def humanized(self) -> str:
        """dbt's own word for the status ("Queued", "Success", ...)."""
        return self._name_.replace("_", " ").title() if not self.is_known else _HUMAN[self]

    def __str__(self) -> str:
        # IntEnum prints the bare code (`print(run.status)` showed `10`); people read words.
        return self.humanized

    def __format__(self, format_spec: str) -> str:
        # IntEnum formats as int whenever a spec is given (`f"{s:<9}"` gave `10       `):
        # a numeric presentation type keeps the code, anything else formats the word.
        if format_spec and format_spec[-1] in _NUMERIC_FORMATS:
            return int.__format__(self, format_spec)
        return format(str(self), format_spec)


_NUMERIC_FORMATS = frozenset("bcdoxXneEfFgG%")
_TERMINAL = frozenset({RunStatus.SUCCESS, RunStatus.ERROR, RunStatus.CANCELLED})
_HUMAN = {
    RunStatus.QUEUED: "Queued",
    RunStatus.STARTING: "Starting",
    RunStatus.RUNNING: "Running",
    RunStatus.SUCCESS: "Success",
    RunStatus.ERROR: "Error",
    RunStatus.CANCELLED: "Cancelled",
}
# The colours dbt Cloud's UI uses for each status, for notebooks.
_COLOURS = {
    RunStatus.QUEUED: "#6b7280",
    RunStatus.STARTING: "#2563eb",
    RunStatus.RUNNING: "#2563eb",
    RunStatus.SUCCESS: "#16a34a",
    RunStatus.ERROR: "#dc2626",
    RunStatus.CANCELLED: "#d97706",
}


def _raw_field() -> Any:
    # The JSON as received: kept for pass-through, left out of equality and repr (it is big).
    return attrs.field(factory=dict, eq=False, repr=False, kw_only=True)


@attrs.frozen(repr=False)
class RunTrigger:
    """What started a run: the cause and the overrides it was triggered with."""

    id: int | None = None
    cause: str | None = None
    job_definition_id: int | None = None
    git_branch: str | None = None
    git_sha: str | None = None
    azure_pull_request_id: int | None = None
    github_pull_request_id: int | None = None
    gitlab_merge_request_id: int | None = None
    non_native_pull_request_id: int | None = None
    schema_override: str | None = None
    dbt_version_override: str | None = None
    threads_override: int | None = None
    target_name_override: str | None = None
    generate_docs_override: bool | None = None
    timeout_seconds_override: int | None = None
    steps_override: tuple[str, ...] | None = None
    created_at: datetime | None = None
    cause_humanized: str | None = None
    cause_category: str | None = None
    job: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = _raw_field()

    def __repr__(self) -> str:
        return f"RunTrigger(id={self.id}, cause={self.cause!r}, category={self.cause_category!r})"


@attrs.frozen(repr=False)
class RunStep:
    """One step of a run ("Clone git repository", "Invoke dbt with `dbt build`", ...)."""

    id: int | None = None
    run_id: int | None = None
    account_id: int | None = None
    index: int | None = None
    status: RunStatus | None = None
    name: str | None = None
    logs: str | None = None
    debug_logs: str | None = None
    log_path: str | None = None
    debug_log_path: str | None = None
    truncated_debug_logs: str | None = None
    log_location: str | None = None
    log_archive_type: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status_color: str | None = None
    status_humanized: str | None = None
    duration: timedelta | None = None
    duration_humanized: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    run_step_command: Mapping[str, Any] | None = None
    run_step_invocation: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = _raw_field()

    def __repr__(self) -> str:
        status = self.status.name if self.status is not None else None
        return f"RunStep(index={self.index}, name={self.name!r}, status={status})"


@attrs.frozen(repr=False)
class Job:
    """The job definition embedded in a run (`include_related=["job"]`, and on triggers).

    Nested settings (`execution`, `settings`, `triggers`, `schedule`) stay plain mappings:
    their shapes vary between dbt releases (`schedule.date` is a string or an object).
    """

    id: int | None = None
    account_id: int | None = None
    project_id: int | None = None
    environment_id: int | None = None
    name: str | None = None
    description: str | None = None
    dbt_version: str | None = None
    raw_dbt_version: str | None = None
    execute_steps: tuple[str, ...] | None = None
    generate_docs: bool | None = None
    run_generate_sources: bool | None = None
    generate_sources: bool | None = None
    run_compare_changes: bool | None = None
    compare_changes_flags: str | None = None
    run_lint: bool | None = None
    errors_on_lint_failure: bool | None = None
    cost_optimization_features: tuple[str, ...] | None = None
    deferring_job_definition_id: int | None = None
    deferring_environment_id: int | None = None
    lifecycle_webhooks: bool | None = None
    lifecycle_webhooks_url: str | None = None
    state: int | None = None
    deactivated: bool | None = None
    run_failure_count: int | None = None
    job_type: str | None = None
    triggers_on_draft_pr: bool | None = None
    job_completion_trigger_condition: Mapping[str, Any] | None = None
    is_deferrable: bool | None = None
    execution: Mapping[str, Any] | None = None
    settings: Mapping[str, Any] | None = None
    triggers: Mapping[str, Any] | None = None
    schedule: Mapping[str, Any] | None = None
    cron_humanized: str | None = None
    next_run: str | None = None
    next_run_humanized: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = _raw_field()

    def __repr__(self) -> str:
        return f"Job(id={self.id}, name={self.name!r})"


@attrs.frozen(repr=False)
class Run:
    """A dbt Cloud run, with every field of dbt's `RunResponse` (all but `id` may be None).

    Timestamps are timezone-aware `datetime`s; `duration`, `queued_duration` and
    `run_duration` are `timedelta`s (dbt sends `HH:MM:SS`, hours may exceed 24). `trigger`,
    `job`, `environment` and `run_steps` are filled only when asked for with
    `include_related` (a trigger response embeds `trigger` and `job`). `raw` is the run's
    JSON object exactly as received.

    Example:
        >>> run = await client.get_run(42, include_related=["run_steps"])
        >>> run.status, run.is_terminal, run.duration
        (<RunStatus.SUCCESS: 10>, True, datetime.timedelta(seconds=51))
    """

    id: int
    trigger_id: int | None = None
    account_id: int | None = None
    environment_id: int | None = None
    project_id: int | None = None
    job_definition_id: int | None = None
    job_id: int | None = None
    status: RunStatus | None = None
    dbt_version: str | None = None
    git_branch: str | None = None
    git_sha: str | None = None
    status_message: str | None = None
    owner_thread_id: str | None = None
    executed_by_thread_id: str | None = None
    deferring_run_id: int | None = None
    artifacts_saved: bool | None = None
    artifact_s3_path: str | None = None
    has_docs_generated: bool | None = None
    has_sources_generated: bool | None = None
    notifications_sent: bool | None = None
    blocked_by: tuple[int, ...] | None = None
    scribe_enabled: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    dequeued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_checked_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    should_start_at: datetime | None = None
    trigger: RunTrigger | None = None
    job: Job | None = None
    environment: Mapping[str, Any] | None = None
    run_steps: tuple[RunStep, ...] | None = None
    deprecation: Mapping[str, Any] | None = None
    audit: Mapping[str, Any] | None = None
    status_humanized: str | None = None
    in_progress: bool | None = None
    is_complete: bool | None = None
    is_success: bool | None = None
    is_error: bool | None = None
    is_cancelled: bool | None = None
    is_running: bool | None = None
    duration: timedelta | None = None
    queued_duration: timedelta | None = None
    run_duration: timedelta | None = None
    duration_humanized: str | None = None
    queued_duration_humanized: str | None = None
    run_duration_humanized: str | None = None
    created_at_humanized: str | None = None
    finished_at_humanized: str | None = None
    retrying_run_id: int | None = None
    can_retry: bool | None = None
    retry_not_supported_reason: str | None = None
    href: str | None = None
    used_repo_cache: bool | None = None
    raw: Mapping[str, Any] = _raw_field()

    @property
    def is_terminal(self) -> bool:
        """True when the run has finished (Success, Error or Cancelled).

        For a status code dbt has not documented, dbt's own `is_complete` flag decides.
        """
        if self.status is not None and self.status.is_known:
            return self.status.is_terminal
        return bool(self.is_complete)

    @property
    def cause(self) -> str | None:
        """The trigger's cause, when the trigger was included."""
        return self.trigger.cause if self.trigger is not None else None

    def __repr__(self) -> str:
        status = self.status.name if self.status is not None else None
        parts = [f"id={self.id}", f"job_id={self.job_definition_id}", f"status={status}"]
        if self.created_at is not None:
            parts.append(f"created_at={self.created_at.isoformat(timespec='seconds')}")
        if self.duration is not None:
            parts.append(f"duration={self.duration}")
        return f"Run({', '.join(parts)})"

    def _repr_html_(self) -> str:
        rows = [
            ("Run", _link(self)),
            (
                "Job",
                html.escape(_text(self.job.name if self.job else None, self.job_definition_id)),
            ),
            ("Status", _status_badge(self.status, self.status_humanized)),
            ("Message", html.escape(_text(self.status_message))),
            ("Cause", html.escape(_text(self.cause))),
            ("Created", html.escape(_when(self.created_at))),
            ("Started", html.escape(_when(self.started_at))),
            ("Finished", html.escape(_when(self.finished_at))),
            ("Duration", html.escape(_text(self.duration))),
            ("Git", html.escape(_text(self.git_branch, self.git_sha and self.git_sha[:10]))),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
            for k, v in rows
        )
        return f"<table class='dbt-runs-run'>{body}</table>"


@attrs.frozen(repr=False)
class Page(Generic[T]):
    """One page of a listing: its items, where it sits, and how many there are in all.

    Attributes:
        items: The items on this page, in the order dbt sent them.
        total_count: How many items match the filter in all (`extra.pagination.total_count`).
        count: How many items this page holds according to dbt (`extra.pagination.count`).
        offset: The offset this page was requested at.
        limit: The page size that was requested.
        raw: The whole response envelope exactly as received.
    """

    items: tuple[T, ...]
    total_count: int | None = None
    count: int | None = None
    offset: int = 0
    limit: int | None = None
    order_by: str | None = None
    filters: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = _raw_field()

    @property
    def next_offset(self) -> int | None:
        """The offset of the next page, or None when this page is the last one."""
        if not self.items:
            return None
        following = self.offset + len(self.items)
        if self.total_count is None:
            # Without a total, only a full page suggests there is more.
            return following if self.limit is not None and len(self.items) >= self.limit else None
        return following if following < self.total_count else None

    @property
    def has_next(self) -> bool:
        """True when there are items after this page."""
        return self.next_offset is not None

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]

    def _ids(self) -> str:
        ids = [getattr(item, "id", None) for item in self.items[:3]]
        more = ", ..." if len(self.items) > 3 else ""
        return f"[{', '.join(map(str, ids))}{more}]"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(offset={self.offset}, count={len(self.items)}, "
            f"total_count={self.total_count}, ids={self._ids()})"
        )


@attrs.frozen(repr=False)
class JobPage(Page[Job]):
    """One page of `list_jobs`."""


@attrs.frozen(repr=False)
class RunPage(Page[Run]):
    """One page of `list_runs`: the runs, where it sits, and how many there are in all."""

    def _repr_html_(self) -> str:
        head = "".join(
            f"<th style='text-align:left'>{h}</th>"
            for h in ("Run", "Job", "Status", "Started", "Duration", "Cause")
        )
        rows = []
        for run in self.items:
            cells = (
                _link(run),
                html.escape(_text(run.job and run.job.name, run.job_definition_id)),
                _status_badge(run.status, run.status_humanized),
                html.escape(_when(run.started_at)),
                html.escape(_text(run.duration)),
                html.escape(_text(run.cause)),
            )
            rows.append(
                "<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells) + "</tr>"
            )
        total = self.total_count if self.total_count is not None else "?"
        caption = (
            f"<caption style='text-align:left'>runs {self.offset + 1 if self.items else 0}"
            f"-{self.offset + len(self.items)} of {total}</caption>"
        )
        return (
            f"<table class='dbt-runs-page'>{caption}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


def _text(*values: object) -> str:
    for value in values:
        if value is not None and value != "":
            return str(value)
    return ""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value is not None else ""


def _link(run: Run) -> str:
    label = html.escape(str(run.id))
    if run.href and run.href.startswith(("https://", "http://")):
        return f"<a href='{html.escape(run.href, quote=True)}' target='_blank'>{label}</a>"
    return label


def _status_badge(status: RunStatus | None, humanized: str | None) -> str:
    if status is None:
        return html.escape(humanized or "")
    colour = _COLOURS.get(status, "#6b7280")
    label = html.escape(humanized or status.humanized)
    return f"<span style='color:{colour};font-weight:bold'>&#9679; {label}</span>"


@attrs.frozen
class NodeResult:
    """A node that failed, or warned, in a step's `run_results.json`.

    Attributes:
        unique_id: dbt's id of the node, e.g. `model.shop.orders`.
        resource_type: `model`, `test`, `seed`, `snapshot`, ... (from the id).
        status: dbt's result status: `error`, `fail`, `warn` (or `runtime error`).
        message: dbt's message (a database or compilation error, a test's failure count).
        failures: How many rows a test found (tests only).
        relation_name: The database relation, when dbt names one.
        compiled_path: The compiled SQL as an artifact path (`compiled/shop/models/x.sql`),
            when dbt's message names the file.
        execution_time: Seconds the node ran.
        started_at: When its execution started.
        completed_at: When it ended.
        step_index: The run step it ran in.
    """

    unique_id: str
    status: str
    step_index: int
    resource_type: str | None = None
    message: str | None = None
    failures: int | None = None
    relation_name: str | None = None
    compiled_path: str | None = None
    execution_time: float | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


@attrs.frozen
class FreshnessResult:
    """A source whose freshness check failed, or warned, in a step's `sources.json`.

    Attributes:
        unique_id: dbt's id of the source table, e.g. `source.shop.raw.orders`.
        status: `error`, `warn` or `runtime error`.
        max_loaded_at: The newest row's load time dbt found.
        snapshotted_at: When dbt checked.
        age_seconds: How old the newest row was then.
        criteria: The `warn_after`/`error_after` thresholds, as dbt wrote them.
        message: dbt's error, for a check that could not run.
        step_index: The run step it ran in.
    """

    unique_id: str
    status: str
    step_index: int
    max_loaded_at: datetime | None = None
    snapshotted_at: datetime | None = None
    age_seconds: float | None = None
    criteria: Mapping[str, Any] | None = None
    message: str | None = None


@attrs.frozen
class StepFailure:
    """One run step that failed (or, when warnings were asked for, warned).

    Attributes:
        index: The step's 1-based index in the run.
        name: dbt's name for it, e.g. "Invoke dbt with `dbt build`".
        status: The step's status.
        duration: How long it ran.
        log_tail: The last lines of its log (at most the number asked for).
        nodes: Its failing (or warning) nodes, from its `run_results.json`.
        freshness: Its failing (or warning) sources, from its `sources.json`.
        source: Where `nodes`/`freshness` came from: `run_results.json`, `sources.json`, or
            `logs` when the step saved no artifact to read (then `error_lines` say why).
        error_lines: The log's own error lines, when there was no artifact to read.
    """

    index: int
    name: str | None
    status: RunStatus | None
    duration: timedelta | None
    log_tail: tuple[str, ...] = ()
    nodes: tuple[NodeResult, ...] = ()
    freshness: tuple[FreshnessResult, ...] = ()
    source: str = "logs"
    error_lines: tuple[str, ...] = ()


@attrs.frozen(repr=False)
class RunErrors:
    """Why a run failed: `AsyncRunsClient.get_run_errors`.

    Attributes:
        run: The run (with its steps).
        steps: The failed steps, in order (and, with warnings asked for, the steps that
            warned).
    """

    run: Run
    steps: tuple[StepFailure, ...] = ()

    @property
    def nodes(self) -> tuple[NodeResult, ...]:
        """Every failing (or warning) node, across the steps."""
        return tuple(node for step in self.steps for node in step.nodes)

    @property
    def freshness(self) -> tuple[FreshnessResult, ...]:
        """Every failing (or warning) source, across the steps."""
        return tuple(source for step in self.steps for source in step.freshness)

    @property
    def failed(self) -> bool:
        """True when the run itself ended in Error."""
        return self.run.status is RunStatus.ERROR

    def __repr__(self) -> str:
        return (
            f"RunErrors(run_id={self.run.id}, steps={[s.index for s in self.steps]}, "
            f"nodes={len(self.nodes)}, freshness={len(self.freshness)})"
        )
