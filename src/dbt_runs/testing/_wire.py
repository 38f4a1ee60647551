"""dbt Cloud's v2 wire format, built from the emulator's state.

Key order, timestamp formats, humanized strings and the envelope follow the captured payloads
in `tests/data/reference/examples/` (the newest capture wins where they differ). This module
never imports the client's models: the emulator states its own understanding of the API.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from dbt_runs.testing._humanize import hms, humanize_seconds
from dbt_runs.testing._state import (
    CANCELLED,
    ERROR,
    QUEUED,
    RUNNING,
    STARTING,
    STEP_ID_FACTOR,
    SUCCESS,
    WRITES_ARTIFACTS,
    Environment,
    Job,
    Run,
    State,
    StepPlan,
    command_kind,
)

JSON = dict[str, Any]

STATUS_HUMANIZED: Final = {
    QUEUED: "Queued",
    STARTING: "Starting",
    RUNNING: "Running",
    SUCCESS: "Success",
    ERROR: "Error",
    CANCELLED: "Cancelled",
}
STATUS_COLOR: Final = {
    QUEUED: "#999999",
    STARTING: "#999999",
    RUNNING: "#0094d7",
    SUCCESS: "#55973a",
    ERROR: "#d5523d",
    CANCELLED: "#999999",
}
SUCCESS_MESSAGE: Final = "Success!"
MESSAGES: Final = {
    400: "The request was invalid. Please double check the provided data and try again.",
    401: "Invalid token.",
    403: "Access denied: Token is not scoped to account.",
    404: (
        "The requested resource was not found. Please check that you have the proper permissions."
    ),
    429: "Too many requests. Please try again later.",
}


_TWO: Final = tuple(f"{i:02d}" for i in range(60))


@lru_cache(maxsize=8192)
def _day(days: int) -> str:
    t = time.gmtime(days * 86400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} "


def run_ts(ts: float | None) -> str | None:
    """A run timestamp: `2024-05-27 10:42:16.179903+00:00`."""
    if ts is None:
        return None
    # datetime.fromtimestamp's rounding (half-even microseconds), assembled from cached parts:
    # a list page formats seven timestamps per run.
    frac, whole = math.modf(ts)
    micros = round(frac * 1e6)
    if micros >= 1_000_000:
        whole += 1
        micros -= 1_000_000
    elif micros < 0:
        whole -= 1
        micros += 1_000_000
    days, seconds = divmod(int(whole), 86400)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    two = _TWO
    return f"{_day(days)}{two[hours]}:{two[minutes]}:{two[secs]}.{str(micros).zfill(6)}+00:00"


def iso_z(ts: float | None) -> str | None:
    """A job/environment timestamp: `2024-03-25T13:47:20.129690Z`."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def artifact_ts(ts: float) -> str:
    """A timestamp inside dbt artifacts (same shape as `iso_z`)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: json.dumps with dbt's compact separators. The C encoder writes the same text whether or not it
#: checks for cycles; wire bodies are trees, so skipping the check is free speed.
dumps: Final = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def status_block(code: int = 200, user_message: str | None = None) -> JSON:
    """The `status` object of dbt's envelope."""
    if code < 400:
        return {
            "code": code,
            "is_success": True,
            "user_message": user_message or SUCCESS_MESSAGE,
            "developer_message": "",
        }
    # 401/403 carry a null developer_message in real captures; 400/404 an empty string.
    developer: str | None = None if code in (401, 403, 429) else ""
    return {
        "code": code,
        "is_success": False,
        "user_message": user_message or MESSAGES.get(code, "An error occurred."),
        "developer_message": developer,
    }


def envelope(data: Any, *, code: int = 200, extra: JSON | None = None) -> JSON:
    """`{"status": ..., "data": ..., ["extra": ...]}`."""
    body: JSON = {"status": status_block(code), "data": data}
    if extra is not None:
        body["extra"] = extra
    return body


def envelope_bytes(data: bytes, *, extra: JSON | None = None) -> bytes:
    """`envelope` for a 200 whose `data` is already encoded, as the same bytes `dumps` gives."""
    parts = [_OK_HEAD, data]
    if extra is not None:
        parts += (b',"extra":', dumps(extra).encode())
    parts.append(b"}")
    return b"".join(parts)


def error_envelope(code: int, data: Any = None, *, user_message: str | None = None) -> JSON:
    """An error in dbt's envelope (`data` holds field errors for a 400)."""
    return {"status": status_block(code, user_message), "data": data}


_OK_HEAD: Final = f'{{"status":{dumps(status_block(200))},"data":'.encode()


def list_extra(filters: JSON, order_by: str, count: int, total: int) -> JSON:
    """The `extra` object of list responses."""
    return {
        "filters": filters,
        "order_by": order_by,
        "pagination": {"count": count, "total_count": total},
    }


# -- runs -----------------------------------------------------------------------------------


def retry_not_supported_reason(state: State, run: Run, now: float) -> str | None:
    """Why dbt would refuse `POST runs/{id}/retry/` for this run, or None if it allows it."""
    if run.status_at(now) != ERROR:
        return "RETRY_NOT_FAILED_RUN"
    latest = state.latest_run(run.job.id)
    if latest is not None and latest is not run:
        return "RETRY_NOT_LATEST_RUN"
    if _version_too_old(run.dbt_version):
        return "RETRY_UNSUPPORTED_VERSION"
    if run.failure == "memory":
        return "RETRY_NO_RUN_RESULTS"  # dbt was stopped before it wrote run_results.json
    executed = run.executed_steps - 2  # commands that ran; the failing one is the last
    if executed < 1:
        return "RETRY_NO_RUN_RESULTS"
    kind = command_kind(run.commands[executed - 1])
    if kind in {"deps", "docs", "source", "run-operation", "parse", "ls", "list"}:
        return "RETRY_UNSUPPORTED_CMD"
    return None


def _version_too_old(version: str) -> bool:
    """`dbt retry` exists from dbt 1.6 on; `versionless`/`latest` always support it."""
    parts = version.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1].split("-")[0])
    except (ValueError, IndexError):
        return False
    return (major, minor) < (1, 6)


def trigger_json(run: Run) -> JSON:
    """`run.trigger` (RunTrigger), key order from the 2024 capture."""
    trigger = run.trigger
    created = trigger.created_at if trigger.created_at is not None else run.created_at - 0.0185
    return {
        "id": trigger_id(run),
        "cause": trigger.cause,
        "job_definition_id": run.job.id,
        "git_branch": trigger.git_branch,
        "git_sha": trigger.git_sha,
        "azure_pull_request_id": trigger.azure_pull_request_id,
        "github_pull_request_id": trigger.github_pull_request_id,
        "gitlab_merge_request_id": trigger.gitlab_merge_request_id,
        "non_native_pull_request_id": trigger.non_native_pull_request_id,
        "schema_override": trigger.schema_override,
        "dbt_version_override": trigger.dbt_version_override,
        "threads_override": trigger.threads_override,
        "target_name_override": trigger.target_name_override,
        "generate_docs_override": trigger.generate_docs_override,
        "timeout_seconds_override": trigger.timeout_seconds_override,
        "steps_override": list(trigger.steps_override)
        if trigger.steps_override is not None
        else None,
        "created_at": run_ts(created),
        "cause_humanized": trigger.cause,
        "job": None,
        "cause_category": trigger.cause_category,
    }


def trigger_id(run: Run) -> int:
    """Trigger ids follow run ids at a fixed distance (real ones are close to the run id)."""
    return run.id + 700_000


def step_id(run: Run, index: int) -> int:
    """A step's id, derived from its run (see `STEP_ID_FACTOR`)."""
    return run.id * STEP_ID_FACTOR + index


def run_json(
    state: State,
    run: Run,
    now: float,
    *,
    related: Collection[str] = (),
    ui_base: str,
    step_logs: Any = None,
) -> JSON:
    """A run as dbt serializes it (`RunResponse`), at instant `now`.

    `related` holds the `include_related` values; `step_logs(run, step, now, debug)` renders
    a step's logs (only needed with `run_steps`).
    """
    status = run.status_at(now)
    complete = status in (SUCCESS, ERROR, CANCELLED)
    created = run.created_at
    finished = run.finished_at if complete else None
    started = run.started_at if run.started_at is not None and run.started_at <= now else None
    dequeued = run.dequeued_at if run.dequeued_at is not None and run.dequeued_at <= now else None
    end = finished if finished is not None else now
    duration = end - created
    queued = (started if started is not None else end) - created
    run_duration = (end - started) if started is not None else 0.0
    include_steps = "run_steps" in related
    steps = run.steps_at(now) if started is not None and (include_steps or not complete) else []
    saved = docs = sources = False
    if complete:
        # Which commands finished, straight from the plan: no step objects for a list page.
        executed = run.commands[: max(0, run.executed_steps - 2)]
        last = len(executed) - 1
        for i, command in enumerate(executed):
            kind = command_kind(command)
            ok = i < last or run.last_step_status == SUCCESS
            # A failing step writes its artifacts too, unless dbt Cloud stopped it at the
            # memory limit.
            wrote = ok or (run.last_step_status == ERROR and run.failure != "memory")
            if kind in WRITES_ARTIFACTS and wrote:
                saved = True
            if ok and kind == "docs":
                docs = True
            if ok and kind == "source":
                sources = True
    running = started is not None
    last_heartbeat = None
    if started is not None:
        last_heartbeat = started + ((end - started) // 30) * 30
    reason = retry_not_supported_reason(state, run, now)
    project_id = run.job.project_id
    data: JSON = {
        "id": run.id,
        "trigger_id": trigger_id(run),
        "account_id": state.account_id,
        "environment_id": run.job.environment_id,
        "project_id": project_id,
        "job_definition_id": run.job.id,
        "status": status,
        "dbt_version": run.dbt_version,
        "git_branch": run.git_branch if running else None,
        "git_sha": run.git_sha if running else None,
        "status_message": run.status_message if complete else None,
        "owner_thread_id": None,
        "executed_by_thread_id": f"dbt-run-{run.id}-{_pod_suffix(run.id)}"
        if dequeued is not None
        else None,
        "deferring_run_id": None,
        "artifacts_saved": saved,
        "artifact_s3_path": f"prod-us-c1/runs/{run.id}/artifacts/target" if saved else None,
        "has_docs_generated": docs,
        "has_sources_generated": sources,
        "notifications_sent": complete,
        "blocked_by": state.blocked_by(run, now),
        "created_at": run_ts(created),
        "updated_at": run_ts(_updated_at(run, now, steps)),
        "dequeued_at": run_ts(dequeued),
        "started_at": run_ts(started),
        "finished_at": run_ts(finished),
        "last_checked_at": run_ts(finished + 0.083) if finished is not None and running else None,
        "last_heartbeat_at": run_ts(last_heartbeat),
        "should_start_at": None,
        "trigger": trigger_json(run) if "trigger" in related else None,
        "job": internal_job_json(state, run.job) if "job" in related else None,
        "environment": environment_json(state, state.environments[run.job.environment_id])
        if "environment" in related and run.job.environment_id in state.environments
        else None,
        "run_steps": [
            step_json(state, run, step, now, debug="debug_logs" in related, step_logs=step_logs)
            for step in steps
        ]
        if include_steps
        else [],
        "status_humanized": STATUS_HUMANIZED[status],
        "in_progress": not complete,
        "is_complete": complete,
        "is_success": status == SUCCESS,
        "is_error": status == ERROR,
        "is_cancelled": status == CANCELLED,
        "duration": hms(duration),
        "queued_duration": hms(queued),
        "run_duration": hms(run_duration),
        "duration_humanized": humanize_seconds(duration),
        "queued_duration_humanized": humanize_seconds(queued),
        "run_duration_humanized": humanize_seconds(run_duration),
        "created_at_humanized": f"{humanize_seconds(now - created)} ago",
        "finished_at_humanized": f"{humanize_seconds(now - finished)} ago"
        if finished is not None
        else "0 minutes from now",
        "retrying_run_id": run.retrying_run_id,
        "can_retry": reason is None,
        "retry_not_supported_reason": reason,
        "job_id": run.job.id,
        "is_running": None,
        "href": f"{ui_base}/deploy/{state.account_id}/projects/{project_id}/runs/{run.id}/",
        "used_repo_cache": False if "used_repo_cache" in related and running else None,
    }
    if "audit" in related:
        data["audit"] = {
            "trigger": {"actor": _actor(run)},
            "cancellation": {"actor": _actor(run)}
            if run.status_message == "Cancelled by user." and complete
            else None,
        }
    return data


# Stand-ins for the values rendered per request while a run is encoded once; split out after.
# A user string equal to one of them makes the split ambiguous: that run is then rendered in
# full (see `_split`).
_CREATED_MARK: Final = "\x00"
_FINISHED_MARK: Final = "\x01"
_JOB_MARK: Final = "\x02"
_ENVIRONMENT_MARK: Final = "\x03"


class RunCache:
    """Encoded JSON of finished runs, so that list pages stop re-rendering the same history.

    A finished run never changes again (`Run.cancel` and the planner leave it alone), except
    for what is spliced or keyed here. `created_at_humanized` and `finished_at_humanized`
    follow the clock, and an embedded `job` its later runs (`run_failure_count`): the entry
    keeps the text around them and they are rendered per request (a job once per page).
    `can_retry` and `retry_not_supported_reason` follow the job's later runs too (a retry makes
    an errored run no longer the latest): the reason is part of the key, with the request's UI
    root (`href`), the `include_related` set and the fields a cancel or a plan would write.
    Unfinished runs, and runs with their steps, are rendered afresh every time.
    """

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, tuple[tuple[Any, ...], tuple[bytes, ...], tuple[str, ...]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def encode(
        self,
        state: State,
        run: Run,
        now: float,
        *,
        related: frozenset[str],
        ui_base: str,
        step_logs: Any = None,
        embedded: dict[tuple[str, int], bytes] | None = None,
    ) -> list[bytes]:
        """The run's JSON as `dumps(run_json(...))` writes it, in pieces to join.

        `embedded` memoizes embedded jobs and environments across the runs of one response.
        """
        finished = run.finished_at
        if finished is None or finished > now or "run_steps" in related:
            data = run_json(state, run, now, related=related, ui_base=ui_base, step_logs=step_logs)
            return [dumps(data).encode()]
        key = (
            finished,
            run.final_status,
            run.status_message,
            run.executed_steps,
            run.last_step_status,
            retry_not_supported_reason(state, run, now),
            ui_base,
            related,
        )
        entry = self._entries.get(run.id)
        if entry is None or entry[0] != key:
            split = _split(state, run, now, related, ui_base)
            if split is None:
                data = run_json(state, run, now, related=related, ui_base=ui_base)
                return [dumps(data).encode()]
            entry = (key, *split)
            self._entries[run.id] = entry
        _, literals, embeds = entry
        out = [literals[0]]
        if embeds:
            memo = embedded if embedded is not None else {}
            for i, name in enumerate(embeds, 1):
                out += (_embedded(state, run, name, memo), literals[i])
        out += (
            humanize_seconds(now - run.created_at).encode(),
            literals[-2],
            humanize_seconds(now - finished).encode(),
            literals[-1],
        )
        return out


def _split(
    state: State, run: Run, now: float, related: frozenset[str], ui_base: str
) -> tuple[tuple[bytes, ...], tuple[str, ...]] | None:
    """A finished run's JSON cut around its per-request values (None: a user string got in
    the way): the literal pieces, and the embedded objects between the first ones."""
    data = run_json(state, run, now, related=(related - {"job", "environment"}), ui_base=ui_base)
    # Keys in `run_json`'s order: the embedded objects come before the humanized instants.
    embeds = tuple(name for name in ("job", "environment") if name in related)
    marks = {"job": _JOB_MARK, "environment": _ENVIRONMENT_MARK}
    for name in embeds:
        data[name] = marks[name]
    data["created_at_humanized"] = _CREATED_MARK
    data["finished_at_humanized"] = _FINISHED_MARK
    rest = dumps(data)
    pieces: list[str] = []
    for mark in (*(marks[name] for name in embeds), _CREATED_MARK, _FINISHED_MARK):
        parts = rest.split(dumps(mark))
        if len(parts) != 2:
            return None
        pieces.append(parts[0])
        rest = parts[1]
    pieces.append(rest)
    # The humanized values are strings ending in " ago": keep their quotes and suffix here.
    pieces[-3] += '"'
    pieces[-2] = f' ago"{pieces[-2]}"'
    pieces[-1] = ' ago"' + pieces[-1]
    return tuple(p.encode() for p in pieces), embeds


def _embedded(state: State, run: Run, name: str, memo: dict[tuple[str, int], bytes]) -> bytes:
    """`run.job` or `run.environment` as `run_json` embeds them, once per response."""
    job = run.job
    ident = job.id if name == "job" else job.environment_id
    out = memo.get((name, ident))
    if out is None:
        if name == "job":
            out = dumps(internal_job_json(state, job)).encode()
        else:
            env = state.environments.get(ident)
            out = b"null" if env is None else dumps(environment_json(state, env)).encode()
        memo[(name, ident)] = out
    return out


def _actor(run: Run) -> JSON:
    category = run.trigger.cause_category
    if category == "scheduled":
        return {"id": "scheduler", "type": "system", "name": "Scheduler"}
    return {"id": "1", "type": "service_token", "name": "Emulator service token"}


def _updated_at(run: Run, now: float, steps: list[StepPlan]) -> float:
    """The last change to the run visible at `now`."""
    if run.finished_at is not None and run.finished_at <= now:
        return run.finished_at + 0.0821
    latest = run.created_at + 0.000014
    for moment in (run.dequeued_at, run.started_at):
        if moment is not None and moment <= now:
            latest = max(latest, moment)
    for step in steps:
        latest = max(latest, step.finished_at or step.started_at)
    return latest


@lru_cache(maxsize=4096)
def _pod_suffix(run_id: int) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    value = run_id * 2654435761 % (27**5)
    out = []
    for _ in range(5):
        value, digit = divmod(value, 27)
        out.append(alphabet[digit])
    return "".join(out)


def step_json(
    state: State,
    run: Run,
    step: StepPlan,
    now: float,
    *,
    debug: bool = False,
    step_logs: Any = None,
) -> JSON:
    """A run step (`RunStepResponse`)."""
    sid = step_id(run, step.index)
    logs, debug_logs = ("", "") if step_logs is None else step_logs(run, step, now)
    lines = debug_logs.split("\n")
    truncated = "\n".join(lines[-1000:]) if len(lines) > 1000 else debug_logs
    end = step.finished_at if step.finished_at is not None else now
    return {
        "id": sid,
        "run_id": run.id,
        "account_id": state.account_id,
        "index": step.index,
        "status": step.status,
        "name": step.name,
        "logs": logs,
        "debug_logs": debug_logs if debug else truncated,
        "log_path": None,
        "debug_log_path": None,
        "truncated_debug_logs": truncated,
        "created_at": run_ts(step.started_at - 0.0122),
        "updated_at": run_ts(end),
        "started_at": run_ts(step.started_at),
        "finished_at": run_ts(step.finished_at),
        "status_color": STATUS_COLOR[step.status],
        "status_humanized": STATUS_HUMANIZED[step.status],
        "duration": hms(end - step.started_at),
        "duration_humanized": humanize_seconds(end - step.started_at),
        "run_step_command": {"run_step_id": sid, "dbt_command": step.command}
        if step.command is not None
        else None,
        "run_step_invocation": {"run_step_id": sid, "run_id": run.id},
    }


# -- jobs, environments, account ------------------------------------------------------------


def _schedule_parts(job: Job) -> tuple[str, str, str]:
    cron = job.cron or "0 * * * *"
    hourly = cron == "0 * * * *"
    return cron, ("every_day" if hourly else "custom_cron"), "every_hour"


def _cron_humanized(cron: str) -> str:
    fields = cron.split()
    if cron == "0 * * * *":
        return "Every hour"
    if (
        len(fields) == 5
        and fields[2:] == ["*", "*", "*"]
        and fields[0].isdigit()
        and fields[1].isdigit()
    ):
        return f"At {int(fields[1]):02d}:{int(fields[0]):02d} every day"
    return cron


def run_failure_count(state: State, job: Job) -> int:
    """Consecutive failed runs at the end of the job's history."""
    count = 0
    for run in reversed(state.runs_by_job.get(job.id, [])):
        if run.final_status != ERROR or run.finished_at is None:
            break
        count += 1
    return count


def _job_common(state: State, job: Job) -> JSON:
    return {
        "execution": {"timeout_seconds": job.timeout_seconds},
        "generate_docs": job.generate_docs,
        "run_generate_sources": job.run_generate_sources,
        "run_compare_changes": False,
        "run_lint": False,
        "errors_on_lint_failure": True,
        "id": job.id,
        "account_id": state.account_id,
        "project_id": job.project_id,
        "environment_id": job.environment_id,
        "name": job.name,
        "description": job.description,
        "dbt_version": job.dbt_version,
        "raw_dbt_version": job.dbt_version,
        "created_at": iso_z(job.created_at),
        "updated_at": iso_z(job.updated_at),
        "execute_steps": list(job.execute_steps),
        "state": job.state,
        "deactivated": job.state != 1,
        "run_failure_count": run_failure_count(state, job),
        "deferring_job_definition_id": job.deferring_job_definition_id,
        "deferring_environment_id": None,
        "lifecycle_webhooks": False,
        "lifecycle_webhooks_url": None,
    }


def internal_job_json(state: State, job: Job) -> JSON:
    """The job embedded in a run (`InternalJobDefinition`), key order from the 2024 capture."""
    cron, date, time = _schedule_parts(job)
    data = _job_common(state, job)
    data.update(
        {
            "triggers": {
                "github_webhook": job.job_type == "ci",
                "git_provider_webhook": job.job_type == "ci",
                "schedule": job.cron is not None,
                "on_merge": None,
            },
            "settings": {"threads": job.threads, "target_name": job.target_name},
            "schedule": {"cron": cron, "date": date, "time": time},
            "is_deferrable": False,
            "job_type": job.job_type,
            "triggers_on_draft_pr": False,
            "job_completion_trigger_condition": None,
        }
    )
    return data


def job_json(state: State, job: Job, *, related: Collection[str] = ()) -> JSON:
    """A job as `GET jobs/{id}/` returns it (`HumanReadableJobDefinitionResponse`)."""
    cron, date, time = _schedule_parts(job)
    data = _job_common(state, job)
    env = state.environments.get(job.environment_id)
    data.update(
        {
            "compare_changes_flags": "--select state:modified",
            "cost_optimization_features": [],
            "triggers": {
                "github_webhook": job.job_type == "ci",
                "git_provider_webhook": job.job_type == "ci",
                "schedule": job.cron is not None,
                "on_merge": None,
                "custom_branch_only": False,
            },
            "settings": {"threads": job.threads, "target_name": job.target_name},
            "schedule": {
                "cron": cron,
                "date": {"type": date, "cron": cron} if date == "custom_cron" else {"type": date},
                "time": {"type": time, "interval": 1},
            },
            "is_deferrable": False,
            "job_type": job.job_type,
            "triggers_on_draft_pr": False,
            "job_completion_trigger_condition": None,
            "generate_sources": job.run_generate_sources,
            "cron_humanized": _cron_humanized(cron),
            "next_run": None,
            "next_run_humanized": None,
            "account": None,
            "project": None,
            "environment": environment_json(state, env)
            if "environment" in related and env is not None
            else None,
            "fusion_readiness": None,
        }
    )
    return data


def account_json(state: State) -> JSON:
    """The account (`AccountV2`): the plan and limits of an enterprise account."""
    created = min((p.created_at for p in state.projects.values()), default=0.0)
    return {
        "id": state.account_id,
        "name": state.account_name,
        "state": 1,
        "plan": "enterprise",
        "pending_cancel": False,
        "run_slots": 5,
        "developer_seats": 10,
        "read_only_seats": 10,
        "queue_limit": 50,
        "pod_memory_request_mebibytes": 600,
        "run_duration_limit_seconds": 86400,
        "enterprise_authentication_method": None,
        "enterprise_login_slug": None,
        "enterprise_unique_identifier": None,
        "billing_email_address": None,
        "locked": False,
        "lock_reason": None,
        "lock_cause": None,
        "unlocked_at": None,
        "unlock_if_subscription_renewed": False,
        "starter_repo_url": None,
        "sso_reauth": False,
        "git_auth_level": "personal",
        "identifier": f"act_emulated{state.account_id}",
        "docs_job_id": 2,
        "freshness_job_id": 2,
        "docs_job": None,
        "freshness_job": None,
        "enterprise_login_url": None,
        "static_subdomain": None,
        "vanity_subdomain": None,
        "account_migration_events": [],
        "agent_credit_locked": False,
        "analyst_seats": 0,
        "business_critical": False,
        "copilot_locked_until": None,
        "develop_pod_memory_request_mebibytes": 600,
        "explorer_seats": 0,
        "groups": [],
        "it_seats": 1,
        "run_locked_until": None,
        "trial_end_date": None,
        "created_at": iso_z(created),
        "updated_at": iso_z(created),
    }


def environment_json(state: State, env: Environment) -> JSON:
    """An environment (`EnvironmentV2`)."""
    return {
        "id": env.id,
        "account_id": state.account_id,
        "project_id": env.project_id,
        "name": env.name,
        "connection_id": 1,
        "credentials_id": env.id if env.type == "deployment" else None,
        "repository_id": 1,
        "extended_attributes_id": None,
        "custom_branch": env.custom_branch,
        "use_custom_branch": env.custom_branch is not None,
        "dbt_project_subdirectory": None,
        "dbt_version": env.dbt_version,
        "raw_dbt_version": env.dbt_version,
        "supports_docs": env.type == "deployment",
        "deployment_type": env.deployment_type,
        "type": env.type,
        "created_by_id": 1,
        "state": 1,
        "created_at": iso_z(env.created_at),
        "updated_at": iso_z(env.created_at),
        "repository": None,
        "connection": None,
        "jobs": [],
        "custom_environment_variables": [],
    }


def filters_echo(
    account_id: int, limit: int, offset: int, state: str, extra: Mapping[str, Any]
) -> JSON:
    """`extra.filters`: limit, offset, state, account_id, then the filters given."""
    out: JSON = {"limit": limit, "offset": offset, "state": state, "account_id": account_id}
    out.update(extra)
    return out
