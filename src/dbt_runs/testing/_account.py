"""`Account`: the emulated dbt Cloud account, and the one way in to the emulator's state.

`State` (in `_state`) holds the objects and their timelines; `Account` adds what serving them
needs (the clock, the token, the request log, the fault settings) and the operations dbt's v2 API
performs on them: look up a job, run or step, trigger a run, retry or rerun one, cancel one,
find an artifact. The HTTP routes and `Emulator`'s own methods go through these methods and
nothing else, so a rule of dbt's (a deleted job is a 404, a retry resumes at the failing
command) is written once.

Hold the state still while reading and rendering it: `with account.moment() as now:` takes the
lock and plans every run that has left its queue by `now`, so one answer describes one instant.
"""

from __future__ import annotations

import contextlib
import hmac
import random
import re
import time
from collections import deque
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from dbt_runs.testing import _artifacts, _logs, _wire
from dbt_runs.testing._clock import Clock, ManualClock, speed_of
from dbt_runs.testing._faults import FaultKind, Faults
from dbt_runs.testing._seed import git_sha, seed_catalog, seed_runs
from dbt_runs.testing._state import (
    FAILURES,
    MAX_STEPS,
    STEP_ID_FACTOR,
    SUCCESS,
    Failure,
    Job,
    Outcome,
    Run,
    State,
    StepPlan,
    Trigger,
)
from dbt_runs.testing._webhooks import Webhooks

__all__ = ["Account", "RequestRecord"]

#: dbt stamps a run's trigger a few hundredths of a second before the run itself.
_TRIGGER_LEAD = 0.0185
#: `[fail]` (the job's own failure) or `[fail:<kind>]` in a cause: the emulator's way, open to
#: any client, to ask for a failing run (`Failure` names the kinds); `[warn]` for a successful
#: run whose tests or sources warn.
_FAIL_MARKER = re.compile(r"\[fail(?::([a-z]+))?\]", re.IGNORECASE)
_WARN_MARKER = "[warn]"
_ACCOUNT_IN_PATH = re.compile(r"^/api/v\d+/accounts/(\d+)(?:/|$)")


def _outcome_of(cause: str, job: Job) -> tuple[Outcome, Failure, bool]:
    """How a run triggered with `cause` ends: (outcome, failure kind, warnings)."""
    warnings = _WARN_MARKER in cause.lower()
    found = _FAIL_MARKER.search(cause)
    if found is None:
        return job.outcome, job.failure, warnings
    kind = (found.group(1) or "").lower()
    failure = next((name for name in FAILURES if name == kind), job.failure)
    return "error", failure, warnings


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the emulator answered (the token is never recorded)."""

    method: str
    path: str
    #: The HTTP status sent, or the fault that replaced the answer ("reset", "hang"...).
    outcome: int | str


class Account:
    """One dbt Cloud account as the emulator serves it: its state, and dbt's operations on it.

    Args:
        account_id: The account's id; every other id gets dbt's 403.
        token: The only token accepted; None accepts any non-empty token.
        clock: Where every timestamp comes from.
        faults: The fault settings (read at every request, so they can change at any time).
        runs: How many finished runs to seed before the clock's start.
        seed: Seeds the generated history and the commit shas of new runs.
        first_run_id: The id of the first (oldest) run.
        artifact_size: Pad every `manifest.json` to this many bytes; None for its natural size.
        ui_url: The dbt Cloud UI root used in `href`; None for the host a request came to.
    """

    def __init__(
        self,
        *,
        account_id: int,
        token: str | None,
        clock: Clock,
        faults: Faults,
        runs: int,
        seed: int,
        first_run_id: int,
        artifact_size: int | None = None,
        ui_url: str | None = None,
    ) -> None:
        self.account_id = account_id
        self.clock = clock
        self.faults = faults
        self.artifact_size = artifact_size
        self.ui_url = ui_url
        #: The objects and their timelines, for `_wire` to render; change them only through
        #: this class's methods.
        self.state = State(account_id=account_id)
        self.state.next_run_id = first_run_id
        self._token = token
        self._rng = random.Random(seed + 1)
        self._requests: deque[RequestRecord] = deque(maxlen=10_000)
        now = clock.now()
        seed_catalog(self.state, now)
        seed_runs(self.state, runs, now, seed)
        #: The webhook subscriptions and their deliveries (the v3 API's side of the account).
        self.webhooks = Webhooks(self, seed=seed)

    # -- requests ----------------------------------------------------------------------------
    def accepts_token(self, token: str) -> bool:
        """Whether a request bearing `token` is authenticated (compared in constant time)."""
        if self._token is None:
            return True
        return hmac.compare_digest(token.encode(), self._token.encode())

    def record_request(self, method: str, path: str, outcome: FaultKind) -> None:
        """Remember a request and what answered it (the last 10,000 are kept)."""
        self._requests.append(RequestRecord(method, path, outcome))

    @property
    def requests(self) -> list[RequestRecord]:
        """The recorded requests, oldest first."""
        return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self._requests.clear()

    def rate_limit_wait(self, path: str) -> float | None:
        """Count a request for `path` against the account's rate limit: the seconds its
        cooldown has left, or None when the request may pass.

        dbt's limit is per account: a request naming another account id (which gets a 403)
        is not this account's, and is not counted.
        The limit counts in a manual clock's time, else in real time: a client waits out a
        `Retry-After` in real seconds whatever a real clock's speed.
        """
        named = _ACCOUNT_IN_PATH.match(path)
        if named is not None and int(named.group(1)) != self.account_id:
            return None
        clock = self.clock
        at = clock.now() if isinstance(clock, ManualClock) else time.monotonic()
        return self.faults.rate_limited(at)

    # -- time --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def moment(self) -> Iterator[float]:
        """Hold the state still at the clock's current time: `with account.moment() as now:`.

        Takes the state's (reentrant) lock and plans every run that has left its queue by `now`,
        so that everything read, changed and rendered inside describes the same instant.
        """
        with self.state.lock:
            now = self.clock.now()
            self.state.tick(now)
            yield now

    # -- look-ups ----------------------------------------------------------------------------
    def job(self, job_id: int) -> Job | None:
        """The job, or None when there is none (dbt answers 404 for a deleted job too)."""
        job = self.state.jobs.get(job_id)
        return job if job is not None and job.state == 1 else None

    def jobs(
        self,
        *,
        state: str = "active",
        environment_id: int | None = None,
        project_ids: Collection[int] | None = None,
        name_contains: str | None = None,
        pk: int | None = None,
    ) -> list[Job]:
        """The jobs `GET jobs/` lists, in id order: `state` is "active", "deleted" or "all";
        the other filters are ANDed, and `name_contains` ignores case (`name__icontains`)."""
        wanted = {"active": {1}, "deleted": {2}, "all": {1, 2}}[state]
        needle = name_contains.lower() if name_contains is not None else None
        return [
            job
            for job in sorted(self.state.jobs.values(), key=lambda j: j.id)
            if job.state in wanted
            and (environment_id is None or job.environment_id == environment_id)
            and (project_ids is None or job.project_id in project_ids)
            and (needle is None or needle in job.name.lower())
            and (pk is None or job.id == pk)
        ]

    def run(self, run_id: int) -> Run | None:
        """The run, or None."""
        return self.state.runs_by_id.get(run_id)

    def latest_run(self, job: Job, now: float, *, completed: bool = False) -> Run | None:
        """The job's most recent run (`completed`: the most recent that has finished)."""
        for run in reversed(self.state.runs_by_job.get(job.id, [])):
            if not completed or run.is_complete(now):
                return run
        return None

    def step(self, step_id: int, now: float) -> tuple[Run, StepPlan] | None:
        """The step with dbt's id `step_id` and its run, or None until the step has started."""
        run_id, index = divmod(step_id, STEP_ID_FACTOR)
        run = self.state.runs_by_id.get(run_id)
        if run is None or not 1 <= index <= MAX_STEPS:
            return None
        steps = run.steps_at(now)
        if index > len(steps):
            return None
        return run, steps[index - 1]

    # -- runs --------------------------------------------------------------------------------
    def trigger_run(self, job: Job, trigger: Trigger, now: float) -> Run:
        """Create a run of `job` at `now` (`POST jobs/{id}/run/`); it joins the job's queue.

        Its phases are as many times shorter as the clock's `speed` (see `RealClock`)."""
        state = self.state
        env = state.environments.get(job.environment_id)
        if trigger.created_at is None:
            trigger.created_at = now - _TRIGGER_LEAD
        timeout = (
            trigger.timeout_seconds_override
            if trigger.timeout_seconds_override is not None
            else job.timeout_seconds
        )
        outcome, failure, warnings = _outcome_of(trigger.cause, job)
        run = Run(
            state.next_run_id,
            job,
            trigger,
            now,
            job.commands(trigger.steps_override, trigger.generate_docs_override),
            outcome,
            timeout,
            trigger.dbt_version_override
            or job.dbt_version
            or (env.dbt_version if env else "versionless"),
            trigger.git_branch or (env.custom_branch if env else None) or "main",
            trigger.git_sha or git_sha(self._rng),
            speed=speed_of(self.clock),
            environment=env,
            failure=failure,
            warnings=warnings,
        )
        state.add_run(run)
        state.tick(now)
        return run

    def retry_refusal(self, run: Run, now: float) -> str | None:
        """Why dbt would refuse to retry `run` now (`RETRY_NOT_FAILED_RUN`...), or None."""
        return _wire.retry_not_supported_reason(self.state, run, now)

    def retry_run(self, failed: Run, now: float) -> Run:
        """A run that resumes `failed` from its failing command (`POST runs/{id}/retry/`).

        Check `retry_refusal` first: this does not.
        """
        steps = failed.steps_at(now)
        executed = max(0, len(steps) - 2)  # commands that ran, the failing one last
        remaining = failed.commands[max(0, executed - 1) :]
        commands = ("dbt deps", "dbt retry", *remaining[1:])
        trigger = Trigger(f"Retry of run #{failed.id}", "rerun", now - _TRIGGER_LEAD)
        state = self.state
        run = Run(
            state.next_run_id,
            failed.job,
            trigger,
            now,
            commands,
            failed.job.outcome,
            failed.timeout_seconds,
            failed.dbt_version,
            failed.git_branch,
            failed.git_sha,
            speed=speed_of(self.clock),
            retrying_run_id=failed.id,
            environment=failed.environment,
            failure=failed.job.failure,
        )
        state.add_run(run)
        state.tick(now)
        return run

    def rerun_job(self, job: Job, now: float) -> Run:
        """`POST jobs/{id}/rerun/`: retry the job's latest run when dbt would, else run it anew."""
        latest = self.state.latest_run(job.id)
        if latest is not None and self.retry_refusal(latest, now) is None:
            return self.retry_run(latest, now)
        return self.trigger_run(job, Trigger("Triggered via API (rerun)", "api"), now)

    def cancel_run(self, run: Run, now: float) -> bool:
        """Cancel `run` at `now`; False (no effect) when it had already finished."""
        changed = run.cancel(now)
        self.state.tick(now)
        return changed

    # -- artifacts ---------------------------------------------------------------------------
    def artifact_paths(self, run: Run, now: float) -> list[str]:
        """What `GET runs/{id}/artifacts/` lists: empty until the run's upload is done."""
        if not self._artifacts_uploaded(run, now):
            return []
        return sorted(_artifacts.artifact_index(run, run.steps_at(now), self._project_name(run)))

    def artifact(
        self, run: Run, path: str, now: float, *, step: int | None = None
    ) -> _artifacts.Artifact | None:
        """The file `path` the run saved (as of step `step`, default its last), or None."""
        if not self._artifacts_uploaded(run, now):
            return None
        steps = run.steps_at(now)
        project = self._project_name(run)
        writer = _artifacts.artifacts_at_step(run, steps, project, step).get(path)
        if writer is None:
            return None
        return _artifacts.render(
            run,
            steps[writer - 1],
            path,
            project,
            threads=run.job.threads,
            manifest_size=self.artifact_size,
        )

    def job_artifact(
        self,
        job: Job,
        path: str,
        now: float,
        *,
        step: int | None = None,
        statuses: Collection[int] = (SUCCESS,),
    ) -> _artifacts.Artifact | None:
        """`GET jobs/{id}/artifacts/{path}`: the file from the latest of the job's runs in
        `statuses` that saved it, or None.

        dbt's document says "given a job id and a set of Run filters return the latest
        matching artifact for that job" without naming the filters or their default; the
        emulator takes `status`/`status__in` and, without them, successful runs only, as
        clients expect (the latest manifest a successful run left, not a failed run's).
        """
        for run in reversed(self.state.runs_by_job.get(job.id, [])):
            if run.status_at(now) not in statuses:
                continue
            artifact = self.artifact(run, path, now, step=step)
            if artifact is not None:
                return artifact
        return None

    def step_logs(self, run: Run, step: StepPlan, now: float) -> tuple[str, str]:
        """A step's `(logs, debug_logs)` as far as it got at `now` (what `_wire` embeds)."""
        return _logs.step_logs(run, step, now, self._project_name(run))

    def artifacts_ready_at(self, run: Run) -> float | None:
        """When the run's artifacts can be read (None until its end is planned): dbt uploads
        them after the run, and sends `job.run.completed` only then."""
        finished = run.finished_at
        if finished is None:
            return None
        # dbt's upload is a phase of the run: a fast clock shortens it like the others.
        return finished + self.faults.artifact_delay_seconds / run.speed

    def _artifacts_uploaded(self, run: Run, now: float) -> bool:
        finished = run.finished_at
        ready = self.artifacts_ready_at(run)
        return finished is not None and finished <= now and ready is not None and now >= ready

    def _project_name(self, run: Run) -> str:
        project = self.state.projects.get(run.job.project_id)
        return project.dbt_name if project else "jaffle_shop"
