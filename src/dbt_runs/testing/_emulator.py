"""`Emulator`: what a test or a demo holds: settings, run inspection by id, and the ways in.

The state and dbt's operations on it belong to `Account` (`_account`); the ASGI app serves the
same account (`_asgi`, `_routes`). Methods here take and return ids and frozen snapshots
(`RunInfo`, `StepInfo`), never the live objects, so a test cannot change a run behind the
emulator's back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from dbt_runs.testing import _wire
from dbt_runs.testing._account import Account, RequestRecord
from dbt_runs.testing._clock import Clock, ManualClock
from dbt_runs.testing._faults import Faults
from dbt_runs.testing._state import FAILURES, OUTCOMES, STEP_ID_FACTOR, Failure, Job, Outcome, Run
from dbt_runs.testing._trigger import validate_trigger
from dbt_runs.testing._webhooks import Webhooks

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient
    from dbt_runs.testing._server import EmulatorServer

__all__ = ["Emulator", "RunInfo", "StepInfo"]

_DEFAULT_RUNS: Final = 1000
# Step ids are run_id * 100 + index and must stay below 2**63 (dbt's ids are int64).
_MAX_RUN_ID: Final = (2**63 - 1) // STEP_ID_FACTOR - 10**9


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class StepInfo:
    """A step of a run, as the emulator sees it now."""

    id: int
    index: int
    name: str
    #: The dbt command, or None for the steps dbt Cloud adds (clone, profile).
    command: str | None
    status: int
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run, as the emulator sees it now (times are UTC `datetime`s)."""

    id: int
    job_id: int
    status: int
    status_humanized: str
    cause: str
    created_at: datetime
    dequeued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    status_message: str | None
    blocked_by: tuple[int, ...]

    @property
    def is_complete(self) -> bool:
        """True once the run reached Success (10), Error (20) or Cancelled (30)."""
        return self.status in (10, 20, 30)


class Emulator:
    """A local dbt Cloud: the v2 runs API with its state, a clock and fault injection.

    Example:
        >>> emulator = Emulator(runs=10)            # ManualClock: time moves when told
        >>> run_id = emulator.trigger_run(1, cause="Nightly")
        >>> emulator.run(run_id).status_humanized
        'Queued'
        >>> emulator.clock.advance(120)
        >>> emulator.run(run_id).status_humanized
        'Success'

    Args:
        account_id: The one account this emulator serves; other ids get dbt's 403.
        token: The only token accepted; None accepts any non-empty token (the token is never
            logged, recorded or echoed).
        runs: How many finished runs to seed before the clock's start (10,000 take well under
            a second).
        seed: Seeds the generated history and the random faults.
        clock: A `ManualClock` (default: time moves when a test says) or `RealClock(speed=N)`
            (real UTC time, and runs N times shorter than nominal: timestamps always agree
            with the wall clock, so a client's `created_after=` and reconciliation work).
        faults: Initial fault settings (default none); `emulator.faults` can change any time.
        artifact_size: Pad every `manifest.json` to this many bytes (streamed, memory stays
            flat); None for the natural size (a few kilobytes).
        ui_url: The dbt Cloud UI root used in `href`; default the host the request came to.
        first_run_id: The id of the first (oldest) run. Cell hosts use ids like
            70403110257794: pass one to check that a client keeps 64-bit ids intact.
    """

    def __init__(
        self,
        *,
        account_id: int = 1,
        token: str | None = None,
        runs: int = _DEFAULT_RUNS,
        seed: int = 0,
        clock: Clock | None = None,
        faults: Faults | None = None,
        artifact_size: int | None = None,
        ui_url: str | None = None,
        first_run_id: int = 100_001,
    ) -> None:
        if token is not None and not token.strip():
            raise ValueError("token must be a non-empty string, or None to accept any token")
        if runs < 0:
            raise ValueError(f"runs must be >= 0, got {runs!r}")
        if not 1 <= first_run_id <= _MAX_RUN_ID:
            raise ValueError(f"first_run_id must be between 1 and {_MAX_RUN_ID}")
        if artifact_size is not None and artifact_size < 0:
            raise ValueError(f"artifact_size must be >= 0 bytes, got {artifact_size!r}")
        self._token = token
        self._account = Account(
            account_id=account_id,
            token=token,
            clock=clock if clock is not None else ManualClock(),
            faults=faults if faults is not None else Faults(seed=seed),
            runs=runs,
            seed=seed,
            first_run_id=first_run_id,
            artifact_size=artifact_size,
            ui_url=ui_url,
        )
        from dbt_runs.testing._asgi import EmulatorApp

        self.app = EmulatorApp(self._account)
        """The ASGI application (for `httpx.ASGITransport`, uvicorn, or any ASGI server)."""

    def __repr__(self) -> str:
        return (
            f"Emulator(account_id={self.account_id}, runs={self.run_count}, "
            f"clock={self.clock!r}, token={'set' if self._token else 'any'})"
        )

    # -- settings ----------------------------------------------------------------------------
    @property
    def account_id(self) -> int:
        """The one account this emulator serves."""
        return self._account.account_id

    @property
    def clock(self) -> Clock:
        """The clock every timestamp comes from (`emulator.clock.advance(...)` on a manual one)."""
        return self._account.clock

    @property
    def faults(self) -> Faults:
        """The fault settings; change them, or replace them, at any time."""
        return self._account.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._account.faults = faults

    @property
    def webhooks(self) -> Webhooks:
        """dbt Cloud's outbound webhooks: subscriptions (also made through the v3 API),
        the deliveries sent, and `deliver_due()` for tests on a manual clock."""
        return self._account.webhooks

    @property
    def artifact_size(self) -> int | None:
        """The size every `manifest.json` is padded to, or None for its natural size."""
        return self._account.artifact_size

    @artifact_size.setter
    def artifact_size(self, size: int | None) -> None:
        self._account.artifact_size = size

    @property
    def ui_url(self) -> str | None:
        """The dbt Cloud UI root used in `href`, or None for the host a request came to."""
        return self._account.ui_url

    @ui_url.setter
    def ui_url(self, url: str | None) -> None:
        self._account.ui_url = url

    # -- jobs --------------------------------------------------------------------------------
    def add_job(
        self,
        name: str,
        *,
        execute_steps: Sequence[str] = ("dbt build",),
        environment_id: int = 1,
        generate_docs: bool = False,
        run_generate_sources: bool = False,
        job_type: str = "other",
        timeout_seconds: int = 0,
        step_seconds: float = 40.0,
        outcome: Outcome = "success",
        failure: Failure = "auto",
        fails_at: str | None = None,
        threads: int = 4,
        target_name: str = "prod",
        dbt_version: str | None = None,
        cron: str | None = None,
        description: str = "",
    ) -> int:
        """Add a job and return its id.

        Args:
            name: The job's name.
            execute_steps: Its dbt commands (dbt Cloud adds clone, profile and `dbt deps`).
            environment_id: 1 Production, 2 CI, 3 Development.
            generate_docs: Add a `dbt docs generate` step (writes `catalog.json`).
            run_generate_sources: Add a `dbt source freshness` step (writes `sources.json`).
            job_type: "ci" runs in parallel; any other type runs one run at a time.
            timeout_seconds: Runs longer than this end Cancelled (0: no timeout).
            step_seconds: Nominal seconds each of its own commands takes (a `RealClock`'s
                speed divides it).
            outcome: How its runs end: "success", "error" or "cancelled".
            failure: How its failing runs fail: "auto" (its last command fails on its
                natural node: a model's database error, or a failing test in `dbt test`),
                "database", "compilation", "test", "freshness" (a stale source in a
                `dbt source freshness` step) or "memory" (dbt Cloud stops the run at its
                memory limit; the only one with a `status_message`).
            fails_at: The command its failing runs stop at (default: the last of its own
                commands); later steps never run. A freshness failure stops at
                `dbt source freshness` and a failing test at the last command running tests.
            threads: The threads setting.
            target_name: The target name setting.
            dbt_version: Overrides the environment's version.
            cron: A schedule (informational; the emulator does not start scheduled runs).
            description: The job's description.
        """
        _check_outcome(outcome, failure)
        if not execute_steps or any(not str(s).strip() for s in execute_steps):
            raise ValueError("execute_steps must be a non-empty list of dbt commands")
        if fails_at is not None and fails_at not in execute_steps:
            raise ValueError(f"fails_at must be one of execute_steps, got {fails_at!r}")
        state = self._account.state
        with self._account.moment() as now:
            if environment_id not in state.environments:
                raise ValueError(f"no environment {environment_id}")
            env = state.environments[environment_id]
            job_id = max(state.jobs, default=0) + 1
            state.jobs[job_id] = Job(
                job_id,
                env.project_id,
                environment_id,
                name,
                tuple(execute_steps),
                now,
                now,
                description=description,
                generate_docs=generate_docs,
                run_generate_sources=run_generate_sources,
                job_type=job_type,
                timeout_seconds=timeout_seconds,
                threads=threads,
                target_name=target_name,
                dbt_version=dbt_version,
                cron=cron,
                outcome=outcome,
                step_seconds=step_seconds,
                failure=failure,
                fails_at=fails_at,
            )
        return job_id

    def set_job_outcome(
        self, job_id: int, outcome: Outcome, *, failure: Failure | None = None
    ) -> None:
        """How the job's next runs end: "success", "error" (at its last command) or
        "cancelled", and, with `failure`, how they fail (see `add_job`). A trigger whose cause
        contains `[fail]` (or `[fail:<failure>]`) errors whatever this says."""
        _check_outcome(outcome, failure)
        with self._account.state.lock:
            job = self._job(job_id)
            job.outcome = outcome
            if failure is not None:
                job.failure = failure

    def set_job_duration(self, job_id: int, seconds: float) -> None:
        """Nominal seconds each of the job's own dbt commands takes in its next runs (a
        `RealClock`'s speed divides it)."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        with self._account.state.lock:
            self._job(job_id).step_seconds = float(seconds)

    def set_job_timeout(self, job_id: int, seconds: int) -> None:
        """The job's timeout (0: none); runs past it end Cancelled with dbt's message."""
        with self._account.state.lock:
            self._job(job_id).timeout_seconds = int(seconds)

    @property
    def job_ids(self) -> list[int]:
        """The ids of every job."""
        with self._account.state.lock:
            return sorted(self._account.state.jobs)

    def _job(self, job_id: int) -> Job:
        job = self._account.job(job_id)
        if job is None:
            raise KeyError(f"no job {job_id}")
        return job

    # -- runs --------------------------------------------------------------------------------
    def trigger_run(
        self, job_id: int, *, cause: str = "Triggered by the emulator", **overrides: Any
    ) -> int:
        """Trigger a run as `POST jobs/{id}/run/` would, and return its id.

        `overrides` are the trigger body's other fields (`git_branch`, `steps_override`...),
        validated the same way.

        Raises:
            ValueError: for a body dbt would answer with a 400 (the message names the field).
        """
        with self._account.moment() as now:
            job = self._job(job_id)
            errors, trigger = validate_trigger({"cause": cause, **overrides})
            if errors or trigger is None:
                raise ValueError(f"invalid trigger: {errors}")
            return self._account.trigger_run(job, trigger, now).id

    def cancel_run(self, run_id: int) -> bool:
        """Cancel as `POST runs/{id}/cancel/` would; False if the run had already finished."""
        with self._account.moment() as now:
            return self._account.cancel_run(self._run(run_id), now)

    def run(self, run_id: int) -> RunInfo:
        """One run, now."""
        with self._account.moment() as now:
            return self._info(self._run(run_id), now)

    def runs(self, *, job_id: int | None = None, status: int | None = None) -> list[RunInfo]:
        """Runs (oldest first), optionally of one job and/or in one status."""
        state = self._account.state
        with self._account.moment() as now:
            pool = state.runs_by_job.get(job_id, []) if job_id is not None else state.runs
            infos = [self._info(r, now) for r in pool]
        return [i for i in infos if status is None or i.status == status]

    @property
    def run_count(self) -> int:
        """How many runs exist (seeded and triggered)."""
        return len(self._account.state.runs)

    def steps(self, run_id: int) -> list[StepInfo]:
        """A run's steps that have started by now."""
        with self._account.moment() as now:
            run = self._run(run_id)
            return [
                StepInfo(
                    run.id * STEP_ID_FACTOR + s.index,
                    s.index,
                    s.name,
                    s.command,
                    s.status,
                    datetime.fromtimestamp(s.started_at, UTC),
                    _dt(s.finished_at),
                )
                for s in run.steps_at(now)
            ]

    def run_json(self, run_id: int, *, include_related: Sequence[str] = ()) -> dict[str, Any]:
        """The run exactly as `GET runs/{id}/` would put it in `data`."""
        account = self._account
        with account.moment() as now:
            return _wire.run_json(
                account.state,
                self._run(run_id),
                now,
                related=frozenset(include_related),
                ui_base=self.ui_url or "http://127.0.0.1",
                step_logs=account.step_logs,
            )

    def artifact_paths(self, run_id: int) -> list[str]:
        """What `GET runs/{id}/artifacts/` lists (empty until the run finished)."""
        with self._account.moment() as now:
            return self._account.artifact_paths(self._run(run_id), now)

    @property
    def requests(self) -> list[RequestRecord]:
        """The last 10,000 requests answered, oldest first (for assertions in tests)."""
        return self._account.requests

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self._account.clear_requests()

    def _run(self, run_id: int) -> Run:
        run = self._account.run(run_id)
        if run is None:
            raise KeyError(f"no run {run_id}")
        return run

    def _info(self, run: Run, now: float) -> RunInfo:
        status = run.status_at(now)
        complete = run.is_complete(now)
        return RunInfo(
            run.id,
            run.job.id,
            status,
            _wire.STATUS_HUMANIZED[status],
            run.trigger.cause,
            datetime.fromtimestamp(run.created_at, UTC),
            _dt(
                run.dequeued_at if run.dequeued_at is not None and run.dequeued_at <= now else None
            ),
            _dt(run.started_at if run.started_at is not None and run.started_at <= now else None),
            _dt(run.finished_at if complete else None),
            run.status_message if complete else None,
            tuple(self._account.state.blocked_by(run, now)),
        )

    # -- ways in -----------------------------------------------------------------------------
    def client(self, **kwargs: Any) -> AsyncRunsClient:
        """An `AsyncRunsClient` bound to this emulator in-process (no sockets).

        With a `ManualClock`, the client's sleeps advance the emulator's clock, so
        `wait_for_run` returns at once with the run finished. Any `AsyncRunsClient` argument
        can be given; closing the client closes its in-process transport.
        """
        from dbt_runs import AsyncRunsClient
        from dbt_runs._http import asgi_http_client

        base = "http://emulator.test/api/v2"
        transport = asgi_http_client(self.app, base_url="http://emulator.test")
        kwargs.setdefault("token", self._token or "emulator-token")
        kwargs.setdefault("base_url", base)
        kwargs.setdefault("account_id", self.account_id)
        kwargs.setdefault("http_client", transport)
        self._clock_kwargs(kwargs)

        class _EmulatorClient(AsyncRunsClient):
            async def aclose(self) -> None:
                await super().aclose()
                await transport.aclose()

        return _EmulatorClient(**kwargs)

    def _clock_kwargs(self, kwargs: dict[str, Any]) -> None:
        clock = self.clock
        if isinstance(clock, ManualClock):
            kwargs.setdefault("clock", clock.now)
            kwargs.setdefault("sleep", clock.sleep)
        kwargs.setdefault("wall_clock", lambda: datetime.fromtimestamp(clock.now(), UTC))

    def serve(
        self, host: str = "127.0.0.1", port: int = 0
    ) -> contextlib.AbstractAsyncContextManager[EmulatorServer]:
        """Serve over HTTP with uvicorn in this event loop: `async with emulator.serve() as s`.

        `s.base_url` is `http://127.0.0.1:PORT/api/v2`; port 0 picks a free port.
        """
        from dbt_runs.testing._server import serve

        return serve(self.app, host, port)

    def serve_in_thread(
        self, host: str = "127.0.0.1", port: int = 0
    ) -> contextlib.AbstractContextManager[EmulatorServer]:
        """Serve over HTTP from a background thread (for sync code and subprocesses).

        Example:
            >>> with Emulator(runs=5).serve_in_thread() as server:  # doctest: +SKIP
            ...     env = {**os.environ, "DBT_CLOUD_BASE_URL": server.base_url}
            ...     subprocess.run(["dbt-runs", "runs", "list"], env=env)
        """
        from dbt_runs.testing._server import serve_in_thread

        return serve_in_thread(self.app, host, port)


def _check_outcome(outcome: str, failure: str | None = None) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    if failure is not None and failure not in FAILURES:
        raise ValueError(f"failure must be one of {FAILURES}, got {failure!r}")
