"""After a run-creating request failed ambiguously: find the run it started, or say so.

A trigger whose answer was lost (a read timeout, a dropped connection, a 500/502/504, a 200
with a body that cannot be read) may or may not have started a run, and sending it again
could start a second one. So the client never sends it again. It looks for the run instead,
and adopts a run only when it can prove the run is its own:

- Every trigger carries a marker in its cause, unique to that one request
  (`"<cause> [dbt-runs:1a2b3c4d5e6f]"`), which dbt echoes back in `trigger.cause`. The run
  that carries this request's marker is this request's run, whoever else triggers the same
  job with the same cause at the same time.
- A request without a marker (a retry or rerun, which have no body; or a trigger with
  `trigger_marker=False`) cannot be proven: the client raises `TriggerOutcomeUnknownError`
  and names the runs that could be the one (`candidate_run_ids`), so the caller decides.

The search stays within the call's total timeout.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import attrs

from dbt_runs import _fields as fields
from dbt_runs import _operations as ops
from dbt_runs._base import Requester
from dbt_runs._config import Timeout
from dbt_runs._response import RawResponse
from dbt_runs.errors import APIError, TriggerOutcomeUnknownError
from dbt_runs.models import Run

if TYPE_CHECKING:
    from dbt_runs._client import AsyncRunsClient

__all__ = ["Attempt", "Search", "mark_cause", "new_marker", "reconcile"]

logger = logging.getLogger("dbt_runs")

MARKER_PREFIX: Final = "[dbt-runs:"
# How long to keep looking for a marked run that has not appeared yet: dbt may still be
# handling a request whose answer timed out. Always within the call's total timeout.
_SEARCH_DELAYS: Final = (0.0, 0.5, 1.0, 2.0, 4.0)


def new_marker() -> str:
    """A marker unique to one trigger request (48 random bits)."""
    return f"{MARKER_PREFIX}{secrets.token_hex(6)}]"


def mark_cause(cause: str, marker: str) -> str:
    """`cause` with `marker` appended, shortened (ending in `…`) to fit dbt's 255 characters."""
    room = fields.MAX_CAUSE - len(marker) - 1
    text = cause if len(cause) <= room else cause[: room - 1].rstrip() + "…"
    return f"{text} {marker}"


@attrs.frozen
class Attempt:
    """A run-creating request that failed ambiguously.

    Attributes:
        operation: The operation sent.
        account_id: Its account.
        job_id: The job it was for, when known before looking (None for a retry).
        run_id: The run it retried (a retry only).
        cause: The cause sent, marker included (a trigger only).
        marker: The marker in the cause (None: this request cannot be proven).
        attempted_at: When it was sent (UTC, the client's clock).
        error: How it failed.
        deadline: The call's monotonic deadline (None: no total timeout).
    """

    operation: ops.Operation[Run]
    account_id: int
    job_id: int | None
    run_id: int | None
    cause: str | None
    marker: str | None
    attempted_at: datetime
    error: APIError
    deadline: float | None

    @property
    def what(self) -> str:
        """The request in words, for messages."""
        return self.operation.doing.format(job_id=self.job_id, run_id=self.run_id)


@attrs.frozen
class Search:
    """What a search needs from the client that sent the request.

    Attributes:
        client: Looks the runs up (its `get_run` and `list_runs`).
        requester: The client's clocks and sleep.
        timeout: The client's phase timeouts, for the look-ups.
        skew: Clock difference allowed between the client and dbt.
    """

    client: AsyncRunsClient
    requester: Requester
    timeout: Timeout
    skew: timedelta

    def left(self, attempt: Attempt, job_id: int | None) -> Timeout:
        """The timeout of one look-up: what is left of the call's total."""
        remaining = self.requester.remaining(attempt.deadline)
        if remaining is None:
            return self.timeout
        if remaining <= 0:
            raise _unknown(
                attempt, job_id, "and the call's total timeout left no time to look for the run"
            )
        return attrs.evolve(self.timeout, total=remaining)

    async def pause(self, attempt: Attempt, delay: float) -> bool:
        """Sleep `delay` before looking again; False when the deadline would pass first."""
        remaining = self.requester.remaining(attempt.deadline)
        if remaining is not None and remaining <= delay:
            return False
        await self.requester.sleep(delay)
        return True

    async def recent_runs(self, attempt: Attempt, job_id: int) -> tuple[Run, ...]:
        """The job's runs created since the attempt (allowing for clock skew), newest first."""
        page = await self.client.list_runs(
            account_id=attempt.account_id,
            job_definition_id=job_id,
            order_by="-id",
            include_related=["trigger"],
            created_after=attempt.attempted_at - self.skew,
            created_before=self.requester.wall_clock() + self.skew,
            limit=fields.MAX_LIMIT,
            timeout=self.left(attempt, job_id),
        )
        return page.items


async def reconcile(search: Search, attempt: Attempt) -> RawResponse[Run]:
    """The run `attempt` started, as a reconciled `RawResponse`; or raise
    `TriggerOutcomeUnknownError` naming the runs that could be it."""
    logger.warning(
        "%s may have started a run (%s); looking for it instead of sending it again",
        attempt.what,
        attempt.error,
    )
    job_id = attempt.job_id
    try:
        if job_id is None and attempt.run_id is not None:
            original = await search.client.get_run(
                attempt.run_id, account_id=attempt.account_id, timeout=search.left(attempt, None)
            )
            job_id = original.job_definition_id or original.job_id
        if job_id is None:
            raise _unknown(attempt, None, "and the run's job is unknown")
        if attempt.marker is None:
            runs = await search.recent_runs(attempt, job_id)
            candidates = tuple(run.id for run in runs if _could_be(run, attempt))
            raise _unknown(attempt, job_id, _unprovable(attempt, candidates), candidates)
        for delay in _SEARCH_DELAYS:
            if delay and not await search.pause(attempt, delay):
                break
            runs = await search.recent_runs(attempt, job_id)
            ours = [run for run in runs if _carries(run, attempt.marker)]
            if len(ours) == 1:
                return _adopted(ours[0], attempt)
            if ours:
                ids = tuple(run.id for run in ours)
                raise _unknown(attempt, job_id, "and several runs carry its marker", ids)
    except TriggerOutcomeUnknownError:
        raise
    except APIError as lookup_error:
        raise _unknown(
            attempt, job_id, f"and looking for the run failed too ({lookup_error})"
        ) from lookup_error
    raise _unknown(
        attempt,
        job_id,
        f"and no run with its marker {attempt.marker} has appeared yet; the run may still appear",
    )


def _carries(run: Run, marker: str) -> bool:
    cause = run.trigger.cause if run.trigger is not None else None
    return isinstance(cause, str) and cause.endswith(marker)


def _could_be(run: Run, attempt: Attempt) -> bool:
    if attempt.operation is ops.RETRY_RUN:
        return run.retrying_run_id == attempt.run_id
    if attempt.cause is None:
        # A rerun: any run of the job created since could be it.
        return True
    return run.trigger is not None and run.trigger.cause == attempt.cause


def _unprovable(attempt: Attempt, candidates: tuple[int, ...]) -> str:
    why = (
        "and dbt gives no way to tell its run from another client's"
        if attempt.operation is not ops.TRIGGER_RUN
        else "and without a marker in its cause (trigger_marker=False) its run cannot be told "
        "from another client's"
    )
    if not candidates:
        return f"{why}; no matching run has appeared yet, but one may still appear"
    listed = ", ".join(map(str, candidates))
    return f"{why}; run(s) {listed} match and may be it"


def _unknown(
    attempt: Attempt,
    job_id: int | None,
    detail: str,
    candidates: tuple[int, ...] = (),
) -> TriggerOutcomeUnknownError:
    how = (
        f"check the job's recent runs (list_runs(job_definition_id={job_id}, order_by='-id', "
        "include_related=['trigger'])) before trying again"
        if job_id is not None
        else "check the job's recent runs before trying again"
    )
    return TriggerOutcomeUnknownError(
        f"{attempt.what} failed after the request may have reached dbt Cloud "
        f"({attempt.error}), {detail}: {how}",
        job_id=job_id,
        cause=attempt.cause,
        attempted_at=attempt.attempted_at,
        candidate_run_ids=candidates,
        marker=attempt.marker,
    )


def _adopted(run: Run, attempt: Attempt) -> RawResponse[Run]:
    logger.warning("found run %d: %s had reached dbt", run.id, attempt.what)
    return RawResponse.enveloped(run.raw, run, retries=attempt.error.retries, reconciled=True)
