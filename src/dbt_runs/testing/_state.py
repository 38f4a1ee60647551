"""The emulator's state: accounts, projects, environments, jobs, runs and their timelines.

A run's whole timeline is decided once, when it leaves the queue: when it starts, how long each
step takes, where it fails or times out. What a client sees at any instant (status, steps,
durations) is derived from that plan and `clock.now()`, so nothing ticks in the background and a
manual clock gives the same answers on every machine. Runs of one job are serial: a queued run
is planned only when the run ahead of it has finished (`tick`).

Historical runs are the same objects, planned at creation. Nothing here builds JSON (see
`_wire`), so 10,000 runs cost one small object each.

Durations here are nominal seconds, divided by a run's `speed` (the speed of the clock it was
triggered under, 1 for a manual clock) when its timeline is laid out: a fast clock shortens the
spans between timestamps and never moves the timestamps off the clock's time.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Literal

from dbt_runs.testing._humanize import humanize_seconds

__all__ = [
    "CANCELLED",
    "ERROR",
    "FAILURES",
    "MEMORY_LIMIT_MESSAGE",
    "QUEUED",
    "RUNNING",
    "STARTING",
    "SUCCESS",
    "TERMINAL",
    "WRITES_ARTIFACTS",
    "Environment",
    "Failure",
    "Job",
    "Outcome",
    "Project",
    "Run",
    "State",
    "StepPlan",
    "Trigger",
]

QUEUED: Final = 1
STARTING: Final = 2
RUNNING: Final = 3
SUCCESS: Final = 10
ERROR: Final = 20
CANCELLED: Final = 30
TERMINAL: Final = frozenset({SUCCESS, ERROR, CANCELLED})

Outcome = Literal["success", "error", "cancelled"]
OUTCOMES: Final = ("success", "error", "cancelled")

#: How an erroring run fails (`Run.failure`):
#: - "auto": its failing command fails on the node it would naturally fail on (a model's
#:   database error, or a failing test in a command that runs only tests);
#: - "database": a node's query fails (`Database Error in model orders (...)`);
#: - "compilation": a node does not compile (`Compilation Error in model orders (...)`);
#: - "test": a test fails (`status: "fail"`, `failures` > 0);
#: - "freshness": `dbt source freshness` finds a stale source (`status: "error"`);
#: - "memory": dbt Cloud stops the run at its memory limit; the only kind with a
#:   `status_message` (see `MEMORY_LIMIT_MESSAGE`).
Failure = Literal["auto", "database", "compilation", "test", "freshness", "memory"]
FAILURES: Final[tuple[Failure, ...]] = (
    "auto",
    "database",
    "compilation",
    "test",
    "freshness",
    "memory",
)

#: Nominal seconds from creation to dequeue for a run nobody blocks.
QUEUE_SECONDS: Final = 1.0
#: Nominal seconds spent "Starting" (pod preparation) before a run runs; real ones show about 4.
STARTING_SECONDS: Final = 4.0
#: Step ids are derived from run ids (run_id * STEP_ID_FACTOR + index), so steps cost nothing
#: until asked for and `GET steps/{id}/` can find its run without an index.
STEP_ID_FACTOR: Final = 100
MAX_STEPS: Final = STEP_ID_FACTOR - 1

CANCELLED_BY_USER: Final = "Cancelled by user."
#: dbt leaves `status_message` null when a dbt command fails: the errored-run example of its
#: webhook docs (docs.getdbt.com/docs/deploy/webhooks, `job.run.errored`) carries
#: `"runStatusMessage": "None"`, and dbt's own GitHub Action (dbt-labs/dbt-cloud-job-action)
#: and MCP server (dbt-labs/dbt-mcp `get_job_run_error`) read the failed step's logs and
#: `run_results.json` instead. It sets one when dbt Cloud itself ends the run: a user cancel,
#: a timeout, or the memory limit, where "the run is terminated with a 'memory limit error'
#: message" (docs/deploy/job-scheduler.md, "Job memory"). That message's exact wording is
#: not published: this one is ours around dbt's words.
MEMORY_LIMIT_MESSAGE: Final = (
    "Memory limit error: this run was terminated because it reached the memory limit of "
    "its run environment."
)

# Nominal durations (seconds) of the steps dbt Cloud adds around a job's own commands.
_CLONE_SECONDS: Final = 3.0
_PROFILE_SECONDS: Final = 1.0
_COMMAND_SECONDS: Final = {
    "deps": 6.0,
    "source": 10.0,
    "docs": 15.0,
    "parse": 8.0,
}


@dataclass(slots=True, eq=False)
class Project:
    """A dbt project."""

    id: int
    name: str
    #: The dbt project name (`name:` in dbt_project.yml), used in artifact paths.
    dbt_name: str
    created_at: float


@dataclass(slots=True, eq=False)
class Environment:
    """A dbt Cloud environment."""

    id: int
    project_id: int
    name: str
    type: str  # "deployment" | "development"
    deployment_type: str | None  # "production" | "staging" | None
    dbt_version: str
    adapter: str
    created_at: float
    custom_branch: str | None = None


@dataclass(slots=True, eq=False)
class Job:
    """A job definition, with the emulator's knobs (`outcome`, `step_seconds`)."""

    id: int
    project_id: int
    environment_id: int
    name: str
    execute_steps: tuple[str, ...]
    created_at: float
    updated_at: float
    description: str = ""
    generate_docs: bool = False
    run_generate_sources: bool = False
    job_type: str = "other"
    timeout_seconds: int = 0
    threads: int = 4
    target_name: str = "prod"
    dbt_version: str | None = None
    cron: str | None = None
    state: int = 1
    #: How live runs of this job end unless a trigger's cause says `[fail]`.
    outcome: Outcome = "success"
    #: How its runs fail when they do (see `Failure`).
    failure: Failure = "auto"
    #: The command its failing runs stop at (None: the last command of the job's own work).
    #: A freshness failure stops at `dbt source freshness`, a failing test at the last
    #: command that runs tests, wherever this points.
    fails_at: str | None = None
    #: Nominal duration of each of the job's own dbt commands, in emulated seconds.
    step_seconds: float = 40.0
    deferring_job_definition_id: int | None = None

    @property
    def serial(self) -> bool:
        """Runs of a deploy job wait for each other; CI jobs run in parallel (no run slot)."""
        return self.job_type != "ci"

    def commands(
        self,
        steps_override: Sequence[str] | None = None,
        generate_docs_override: bool | None = None,
    ) -> tuple[str, ...]:
        """The dbt commands a run of this job invokes, in order (dbt Cloud adds `dbt deps`)."""
        docs = self.generate_docs if generate_docs_override is None else generate_docs_override
        main = tuple(steps_override) if steps_override is not None else self.execute_steps
        sources = ("dbt source freshness",) if self.run_generate_sources else ()
        return ("dbt deps", *sources, *main, *(("dbt docs generate",) if docs else ()))


@dataclass(slots=True, eq=False)
class Trigger:
    """Why a run exists: the trigger body (`cause` and overrides) dbt echoes in `run.trigger`."""

    cause: str
    cause_category: str = "api"
    #: None: a few seconds' hundredths before the run (shared triggers of seeded runs).
    created_at: float | None = None
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


@dataclass(slots=True, frozen=True)
class StepPlan:
    """One step of a run as seen at some instant (`Run.steps_at`)."""

    index: int  # 1-based
    name: str
    command: str | None  # the dbt command, None for the steps dbt Cloud adds itself
    status: int
    started_at: float
    finished_at: float | None
    #: Fraction of the step done (1.0 when finished): how much of its log exists.
    progress: float
    #: When the step was planned to end, and how: a step's log is written from its plan
    #: and shown up to `now`, so that a running step's log only ever grows (as dbt's does)
    #: and a cancelled one is its plan cut short.
    planned_end: float = 0.0
    planned_status: int = SUCCESS


def step_name(command: str) -> str:
    """dbt Cloud's name for the step that runs `command`."""
    return f"Invoke dbt with `{command}`"


# Subcommands that write files into target/ (deps and run-operation do not).
WRITES_ARTIFACTS: Final = frozenset(
    {
        "build",
        "run",
        "test",
        "seed",
        "snapshot",
        "compile",
        "retry",
        "docs",
        "source",
        "parse",
        "ls",
        "list",
        "clone",
        "show",
    }
)


@lru_cache(maxsize=1024)
def command_kind(command: str) -> str:
    """The dbt subcommand (`build`, `run`, `docs`, ...) of `dbt build --select x`."""
    parts = command.split()
    if parts and parts[0] == "dbt":
        parts = parts[1:]
    while parts and parts[0].startswith("-"):
        parts = parts[1:]
    return parts[0] if parts else ""


def _main_index(commands: Sequence[str]) -> int:
    """Index (into commands) of the step a failing or cancelled run stops at: the last command
    that is the job's own work, not the deps/freshness/docs steps around it."""
    for i in range(len(commands) - 1, -1, -1):
        if command_kind(commands[i]) not in {"deps", "docs", "source"}:
            return i
    return len(commands) - 1


#: Subcommands whose nodes include tests.
_RUNS_TESTS: Final = frozenset({"build", "test"})


def failing_command_index(
    commands: Sequence[str],
    failure: str,
    fails_at: str | None = None,
    checkbox: int | None = None,
) -> int:
    """Index (into commands) of the command a run failing with `failure` stops at.

    A freshness failure stops at the first `dbt source freshness` command, a failing test at
    the last command that runs tests; any other failure at `fails_at` when the run has that
    command, else at the last command of the job's own work (`_main_index`). A kind the
    commands cannot produce (no freshness step, no tests) falls back to the latter.

    `checkbox` is the index of the freshness step the job's "Run source freshness" setting
    added: dbt runs it first and it "won't break subsequent steps if it fails"
    (docs/deploy/source-freshness.md), so no failure stops there.
    """
    if failure == "freshness":
        for i, command in enumerate(commands):
            if command_kind(command) == "source" and i != checkbox:
                return i
    elif failure == "test":
        for i in range(len(commands) - 1, -1, -1):
            if command_kind(commands[i]) in _RUNS_TESTS:
                return i
    if fails_at is not None and fails_at in commands:
        return commands.index(fails_at)
    return _main_index(commands)


@dataclass(slots=True, eq=False)
class Run:
    """A run and its planned timeline (times in emulated epoch seconds)."""

    id: int
    job: Job
    trigger: Trigger
    created_at: float
    commands: tuple[str, ...]
    outcome: Outcome
    timeout_seconds: int
    dbt_version: str
    git_branch: str
    git_sha: str
    #: Multiplies every nominal step duration (seeded runs vary; live runs use 1.0).
    factor: float = 1.0
    #: Divides every nominal duration (queue, starting, steps, timeout): the speed of the clock
    #: the run was triggered under.
    speed: float = 1.0
    retrying_run_id: int | None = None
    #: How the run fails when its outcome is "error" (see `Failure`).
    failure: Failure = "auto"
    #: Whether a successful run's tests and sources warn (`status: "warn"`).
    warnings: bool = False
    # The plan: set when the run leaves the queue (or is cancelled before it does).
    dequeued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    final_status: int | None = None
    status_message: str | None = None
    #: How many steps execute, and the status of the last one (the rest succeed).
    executed_steps: int = 0
    last_step_status: int = SUCCESS
    #: The job's environment (its adapter names the "Create profile" step).
    environment: Environment | None = field(default=None, repr=False)

    # -- derived state at an instant ------------------------------------------------------
    def status_at(self, now: float) -> int:
        """The run's status at `now`."""
        finished = self.finished_at
        if finished is not None and finished <= now:
            return self.final_status or SUCCESS
        started = self.started_at
        if started is not None and started <= now:
            return RUNNING
        dequeued = self.dequeued_at
        if dequeued is not None and dequeued <= now:
            return STARTING
        return QUEUED

    def is_complete(self, now: float) -> bool:
        """True once the run reached 10, 20 or 30."""
        return self.finished_at is not None and self.finished_at <= now

    @property
    def step_names(self) -> tuple[str, ...]:
        """Names of every step the run would execute, in order."""
        adapter = self.environment.adapter if self.environment else "Snowflake"
        return (
            "Clone git repository",
            f"Create profile from connection {adapter}",
            *(step_name(c) for c in self.commands),
        )

    @property
    def queued_until(self) -> float:
        """When the run leaves the queue if nothing blocks it."""
        return self.created_at + QUEUE_SECONDS / self.speed

    def step_durations(self) -> list[float]:
        """Planned duration of every step, in clock seconds (before any failure, cancel or
        timeout)."""
        scale = self.factor / self.speed
        out = [_CLONE_SECONDS * scale, _PROFILE_SECONDS * scale]
        for command in self.commands:
            seconds = _COMMAND_SECONDS.get(command_kind(command), self.job.step_seconds)
            out.append(seconds * scale)
        return out

    def failing_step_index(self) -> int:
        """1-based index of the step where an `error` outcome stops the run."""
        checkbox = 1 if self.job.run_generate_sources else None
        at = failing_command_index(self.commands, self.failure, self.job.fails_at, checkbox)
        return 2 + at + 1

    def cancelled_step_index(self) -> int:
        """1-based index of the step where a `cancelled` outcome stops the run."""
        return 2 + _main_index(self.commands) + 1

    def plan(self, dequeued_at: float) -> None:
        """Decide the timeline from `dequeued_at` on: steps, outcome, timeout."""
        durations = self.step_durations()
        started = dequeued_at + STARTING_SECONDS / self.speed
        stop = len(durations)
        last_status = SUCCESS
        final = SUCCESS
        message: str | None = None
        if self.outcome == "error":
            stop, last_status, final = self.failing_step_index(), ERROR, ERROR
            if self.failure == "memory":
                message = MEMORY_LIMIT_MESSAGE
                durations[stop - 1] *= 0.6  # dbt Cloud stops the step partway through
        elif self.outcome == "cancelled":
            stop, last_status, final = self.cancelled_step_index(), CANCELLED, CANCELLED
            message = CANCELLED_BY_USER
            durations[stop - 1] /= 2
        finished = started + sum(durations[:stop])
        timeout = self.timeout_seconds / self.speed
        if timeout > 0 and finished - started > timeout:
            finished = started + timeout
            elapsed = 0.0
            for i, seconds in enumerate(durations[:stop]):
                elapsed += seconds
                if started + elapsed >= finished:
                    stop = i + 1
                    break
            last_status = final = CANCELLED
            message = timeout_message(self.timeout_seconds)
        self.dequeued_at = dequeued_at
        self.started_at = started
        self.finished_at = finished
        self.final_status = final
        self.status_message = message
        self.executed_steps = stop
        self.last_step_status = last_status

    def cancel(self, now: float) -> bool:
        """Cancel at `now`; False (no effect) if the run had already finished."""
        if self.is_complete(now):
            return False
        started = self.started_at
        if self.dequeued_at is None or self.dequeued_at > now:
            self.dequeued_at = None
            self.started_at = None
            self.executed_steps = 0
        elif started is None or started > now:
            self.started_at = None
            self.executed_steps = 0
        else:
            durations = self.step_durations()
            end = started
            count = 0
            for seconds in durations[: self.executed_steps]:
                count += 1
                end += seconds
                if end >= now:
                    break
            self.executed_steps = count
        self.finished_at = now
        self.final_status = CANCELLED
        self.last_step_status = CANCELLED
        self.status_message = CANCELLED_BY_USER
        return True

    def steps_at(self, now: float) -> list[StepPlan]:
        """The steps that exist at `now` (a step exists once it has started)."""
        started = self.started_at
        if started is None or started > now or self.executed_steps == 0:
            return []
        names = self.step_names
        commands: tuple[str | None, ...] = (None, None, *self.commands)
        durations = self.step_durations()
        out: list[StepPlan] = []
        begin = started
        last = self.executed_steps - 1
        failing = self.failing_step_index() if self.outcome == "error" else None
        for i in range(self.executed_steps):
            if begin > now:
                break
            planned = begin + durations[i]
            planned_status = ERROR if i + 1 == failing else SUCCESS
            end = planned
            if i == last and self.finished_at is not None:
                end = self.finished_at
            if end <= now:
                status = self.last_step_status if i == last else SUCCESS
                out.append(
                    StepPlan(
                        i + 1,
                        names[i],
                        commands[i],
                        status,
                        begin,
                        end,
                        1.0,
                        planned,
                        planned_status,
                    )
                )
            else:
                span = end - begin
                progress = (now - begin) / span if span > 0 else 0.0
                out.append(
                    StepPlan(
                        i + 1,
                        names[i],
                        commands[i],
                        RUNNING,
                        begin,
                        None,
                        progress,
                        planned,
                        planned_status,
                    )
                )
            begin = end
        return out


def timeout_message(timeout_seconds: int) -> str:
    """dbt's `status_message` for a run that hit its timeout."""
    return (
        f"This run timed out after running for {humanize_seconds(timeout_seconds)}, "
        f"which exceeded the configured timeout of {timeout_seconds} seconds."
    )


class State:
    """Every object the emulator serves, behind one lock (the server may run in a thread)."""

    def __init__(self, *, account_id: int, account_name: str = "Emulated Analytics") -> None:
        self.account_id = account_id
        self.account_name = account_name
        self.lock = threading.RLock()
        self.projects: dict[int, Project] = {}
        self.environments: dict[int, Environment] = {}
        self.jobs: dict[int, Job] = {}
        #: Every run, in id (= creation) order.
        self.runs: list[Run] = []
        self.runs_by_id: dict[int, Run] = {}
        self.runs_by_job: dict[int, list[Run]] = {}
        #: Unfinished runs of serial jobs, per job, in queue order.
        self._queues: dict[int, deque[Run]] = {}
        self._job_free_at: dict[int, float] = {}
        self._unplanned_parallel: list[Run] = []
        self.next_run_id = 100_001

    # -- building ---------------------------------------------------------------------------
    def add_run(self, run: Run) -> Run:
        """Register a run (its id must be the next one)."""
        self.runs.append(run)
        self.runs_by_id[run.id] = run
        self.runs_by_job.setdefault(run.job.id, []).append(run)
        self.next_run_id = max(self.next_run_id, run.id + 1)
        if run.finished_at is None:
            if run.job.serial:
                self._queues.setdefault(run.job.id, deque()).append(run)
            else:
                self._unplanned_parallel.append(run)
        elif run.job.serial:
            self._job_free_at[run.job.id] = max(
                self._job_free_at.get(run.job.id, 0.0), run.finished_at
            )
        return run

    # -- time -------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Plan every run that has left its queue by `now` (serial per job)."""
        if self._unplanned_parallel:
            waiting = []
            for run in self._unplanned_parallel:
                if run.finished_at is not None:
                    continue
                dequeue = run.queued_until
                if dequeue <= now:
                    run.plan(dequeue)
                else:
                    waiting.append(run)
            self._unplanned_parallel = waiting
        for job_id, queue in self._queues.items():
            while queue:
                head = queue[0]
                if head.dequeued_at is None and head.finished_at is None:
                    dequeue = max(head.queued_until, self._job_free_at.get(job_id, 0.0))
                    if dequeue > now:
                        break
                    head.plan(dequeue)
                finished = head.finished_at
                if finished is not None and finished <= now:
                    queue.popleft()
                    if head.dequeued_at is not None:
                        self._job_free_at[job_id] = max(
                            self._job_free_at.get(job_id, 0.0), finished
                        )
                    continue
                break

    def blocked_by(self, run: Run, now: float) -> list[int]:
        """Ids of the unfinished runs of the same job ahead of a queued `run`."""
        if not run.job.serial or run.status_at(now) != QUEUED:
            return []
        queue = self._queues.get(run.job.id)
        if not queue:
            return []
        ahead: list[int] = []
        for other in queue:
            if other is run:
                return ahead
            if not other.is_complete(now):
                ahead.append(other.id)
        return []

    def latest_run(self, job_id: int) -> Run | None:
        """The most recent run of a job."""
        runs = self.runs_by_job.get(job_id)
        return runs[-1] if runs else None
