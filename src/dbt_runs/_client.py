"""`AsyncRunsClient`: configuration, lifecycle, and one typed method per dbt Cloud operation.

Each method is written once, here, and sends its operation's declaration
(`dbt_runs._operations`) through `_call`: the inputs are checked against their fields, the
request goes through the one retry driver (`_base.Requester`), and the answer is parsed.
`with_raw_response` wraps these same methods (`_raw.py`).
"""

# `timeout=` is this API's per-call timeout (a number or a `Timeout`), applied inside with
# asyncio.timeout; ruff's ASYNC109 assumes a parameter that callers should replace with it.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar, cast, overload

from dbt_runs import _fields as fields
from dbt_runs import _operations as ops
from dbt_runs._artifacts import ArtifactStream, artifact_not_found, download_target, write_stream
from dbt_runs._base import JSON, Redactor, Requester
from dbt_runs._budget import DEFAULT_RATE_BUDGET, RateBudget
from dbt_runs._config import (
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    NotGiven,
    Timeout,
    resolve_account_id,
    resolve_base_url,
    resolve_token,
)
from dbt_runs._diagnose import DEFAULT_LOG_LINES, diagnose
from dbt_runs._http import HttpTransport
from dbt_runs._operations import Operation, Result
from dbt_runs._parse import PARSERS, parse_job_page, parse_page, validation_error
from dbt_runs._raw import RawRunsClient, take_raw_mode
from dbt_runs._reconcile import Attempt, Search, mark_cause, new_marker, reconcile
from dbt_runs._response import RawResponse
from dbt_runs._retry import RetryPolicy, is_ambiguous
from dbt_runs._version import __version__
from dbt_runs._wait import (
    DEFAULT_NOT_FOUND_GRACE,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    LogCallback,
    Polls,
    RunCallback,
    RunWatcher,
    SolePolls,
    Wait,
    Waiter,
    completing,
    listed,
    shareable,
)
from dbt_runs.errors import (
    APIError,
    InvalidArgumentError,
    JobLookupError,
    NotFoundError,
    RunInProgressError,
)
from dbt_runs.models import Job, Run, RunErrors, RunPage, RunStatus
from dbt_runs.pagination import JobPaginator, Paginator, RunPaginator
from dbt_runs.webhooks import DEFAULT_SAFETY_POLL, EventHub

__all__ = [
    "DEFAULT_CAUSE",
    "DEFAULT_NOT_FOUND_GRACE",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_TIMEOUT",
    "ArtifactStream",
    "AsyncRunsClient",
    "RawRunsClient",
]

TimeoutArg = float | Timeout | None | NotGiven
T = TypeVar("T")
PaginatorT = TypeVar("PaginatorT", bound=Paginator[Any, Any])

DEFAULT_CAUSE: Final = "Triggered via dbt-runs"
"""The cause `trigger_run` sends when given none (dbt requires one)."""


def _user_agent() -> str:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"dbt-runs/{__version__} (python {python})"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Secret:
    """Holds the token so that no repr, log line or traceback local can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class AsyncRunsClient:
    """The async client for dbt Cloud job runs.

    Every argument is keyword-only and resolves as: argument > environment > default.

    Args:
        token: The API token (`DBT_API_KEY`), sent as `Authorization: Bearer <token>`.
            Required: a missing token is a `ConfigurationError` here, not a 401 later.
        base_url: The API root including `/api/v2` (`DBT_CLOUD_BASE_URL`); a bare
            `https://host` gets `/api/v2` appended. Default `https://cloud.getdbt.com/api/v2`.
        host: Just a host name (`DBT_CLOUD_HOST`): `emea.dbt.com`, `ab123.us1.dbt.com`, a
            single-tenant host. Use either `base_url` or `host`.
        account_id: The default account (`DBT_CLOUD_ACCOUNT_ID`); every method also takes
            `account_id=`.
        timeout: Seconds, a `Timeout`, or None for no limit. Default `Timeout()`: 10 s to
            connect, 30 s between bytes, 120 s for a whole call including retries and the
            search for a run whose trigger response was lost.
        retry: The `RetryPolicy` (default: 3 retries, exponential back-off with jitter).
        rate_limit: The request budget every call of this client shares, per account: a
            `RateBudget`, a number of requests per minute, or None for none. Default
            `RateBudget()`: 4,500 a minute, below dbt Cloud's 5,000. Waits poll less often
            as it fills, and a 429's `Retry-After` pauses every call of the account.
        http_client: An `httpx.AsyncClient` to send through (e.g. `asgi_http_client(app)`).
            The client closes only an httpx client it created itself.
        user_agent: Replaces the default `dbt-runs/<version>` User-Agent.
        page_window: How many list pages may be fetched at once when iterating (1: one at
            a time).
        trigger_marker: Append a marker unique to each trigger to its cause
            (`"Nightly [dbt-runs:1a2b3c4d5e6f]"`, 24 characters; a longer cause is shortened
            to fit dbt's 255). When a trigger's answer is lost, the marker is how the client
            proves which run is its own. False sends the cause unchanged: a lost answer then
            always raises `TriggerOutcomeUnknownError`.
        reconcile_skew: Seconds of clock difference allowed when looking for a run whose
            trigger response was lost.
        clock: For testing: a monotonic clock in seconds (default `time.monotonic`).
        sleep: For testing: the async sleep used between retries and polls.
        wall_clock: For testing: the current UTC time (used for `Retry-After` dates and
            trigger reconciliation).

    Example:
        >>> async with AsyncRunsClient(account_id=1) as client:   # token from DBT_API_KEY
        ...     run = await client.trigger_run(42, cause="Nightly refresh")
        ...     run = await client.wait_for_run(run.id, timeout=3600)
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        base_url: str | None = None,
        host: str | None = None,
        account_id: int | None = None,
        timeout: float | Timeout | NotGiven | None = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        rate_limit: RateBudget | int | NotGiven | None = NOT_GIVEN,
        http_client: Any = None,
        user_agent: str | None = None,
        page_window: int = 8,
        trigger_marker: bool = True,
        reconcile_skew: float = 120.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        token_value = resolve_token(token)
        self._token = _Secret(token_value)
        self._base_url = resolve_base_url(base_url, host)
        self._account_id = resolve_account_id(account_id)
        self._timeout = DEFAULT_TIMEOUT if isinstance(timeout, NotGiven) else Timeout.of(timeout)
        retry_policy = retry if retry is not None else RetryPolicy()
        if not isinstance(retry_policy, RetryPolicy):
            raise InvalidArgumentError(f"retry must be a RetryPolicy, got {retry!r}")
        self._page_window = _PAGE_WINDOW.check(page_window)
        if not isinstance(trigger_marker, bool):
            raise InvalidArgumentError(
                f"trigger_marker must be True or False, got {trigger_marker!r}"
            )
        self._trigger_marker = trigger_marker
        self._reconcile_skew = timedelta(seconds=reconcile_skew)
        headers = {"Accept": JSON, "User-Agent": user_agent or _user_agent()}
        self._requester = Requester(
            http=HttpTransport(
                base_url=self._base_url,
                headers=headers,
                token=self._token.reveal,
                http_client=http_client,
                timeout=self._timeout,
            ),
            retry=retry_policy,
            redactor=Redactor(token_value),
            clock=clock or time.monotonic,
            sleep=sleep or asyncio.sleep,
            wall_clock=wall_clock or _utcnow,
            budget=(
                DEFAULT_RATE_BUDGET
                if isinstance(rate_limit, NotGiven)
                else RateBudget.of(rate_limit)
            ),
        )
        self._raw = RawRunsClient(self)
        # Cancel requests sent after an aborted wait, kept alive until they finish.
        self._aborts: set[asyncio.Future[Run]] = set()
        # Per account: the watcher through which waits share their polls.
        self._watchers: dict[int, RunWatcher] = {}
        # False: every wait polls on its own, as before watchers (for side-by-side measures).
        self._share_waits = True

    # -- configuration and lifecycle ---------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API root, ending in `/api/v2`."""
        return self._base_url

    @property
    def account_id(self) -> int | None:
        """The default account id (None: every call must pass `account_id=`)."""
        return self._account_id

    @property
    def timeout(self) -> Timeout:
        """The default timeout for every call."""
        return self._timeout

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy."""
        return self._requester.retry

    @property
    def rate_limit(self) -> RateBudget | None:
        """The request budget each account's calls share (None: no budget)."""
        return self._requester.budget

    @property
    def page_window(self) -> int:
        """How many list pages may be fetched at once."""
        return self._page_window

    @property
    def trigger_marker(self) -> bool:
        """Whether each trigger's cause carries a marker that proves its run (see `__init__`)."""
        return self._trigger_marker

    @property
    def with_raw_response(self) -> RawRunsClient:
        """The same operations, returning `RawResponse` (dbt's bytes plus `.parse()`)."""
        return self._raw

    @property
    def is_closed(self) -> bool:
        """True once the underlying HTTP client is closed."""
        return self._requester.http.is_closed

    async def aclose(self) -> None:
        """Close the HTTP client, if this client created it."""
        await self._requester.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncRunsClient(base_url={self._base_url!r}, account_id={self._account_id})"

    # -- sending an operation ----------------------------------------------------------------

    def _account(self, account_id: int | None) -> int:
        if account_id is None:
            if self._account_id is None:
                raise InvalidArgumentError(
                    "no account id: pass account_id=... or set DBT_CLOUD_ACCOUNT_ID",
                    argument="account_id",
                )
            return self._account_id
        return fields.ACCOUNT_ID.check(account_id)

    def _resolve_timeout(self, timeout: TimeoutArg) -> Timeout:
        if isinstance(timeout, NotGiven):
            return self._timeout
        try:
            return Timeout.of(timeout)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc), argument="timeout") from None

    async def _call(
        self, op: Operation[T], account_id: int | None, timeout: TimeoutArg, **values: Any
    ) -> T:
        """Send `op` with `values` (its inputs, by SDK keyword); the parsed result, or the
        `RawResponse` when called through `with_raw_response`."""
        raw_mode = take_raw_mode()
        acct = self._account(account_id)
        for option in op.options:
            if values.get(option.name) is not None:
                values[option.name] = option.check(values[option.name])
        path = op.url_path(acct, values)
        params = op.query_params(values)
        body = op.json_body(values)
        resolved = self._resolve_timeout(timeout)
        if op.creates_run:
            raw = await self._create_run(
                cast(Operation[Run], op), acct, path, body, values, resolved
            )
        else:
            raw = await self._send(op, path, params, body, resolved, PARSERS[op.result], values)
        # The raw mode's caller (`to_raw_response_wrapper`) expects the RawResponse itself:
        # the one place where the declared return type does not hold, as in openai-python.
        return cast(T, raw) if raw_mode else cast(T, raw.parse())

    async def _send(
        self,
        op: Operation[Any],
        path: str,
        params: Mapping[str, str | int] | None,
        body: Any,
        timeout: Timeout,
        parse: Callable[[RawResponse[Any]], Any],
        values: Mapping[str, Any],
    ) -> RawResponse[Any]:
        try:
            response, retries = await self._requester.request(
                op.method,
                path,
                kind=op.kind,
                params=params,
                body=body,
                timeout=timeout,
                deadline=self._requester.deadline(timeout),
                accept=op.accept,
            )
        except NotFoundError as exc:
            if op.result is Result.ARTIFACT:
                raise artifact_not_found(
                    exc,
                    values.get("run_id"),
                    values["path"],
                    values.get("step"),
                    job_id=values.get("job_id"),
                ) from None
            raise
        return RawResponse(
            status_code=response.status_code,
            headers=response.headers,
            content=response.content,
            parse=parse,
            retries=retries,
        )

    async def _create_run(
        self,
        op: Operation[Run],
        account_id: int,
        path: str,
        body: dict[str, Any] | None,
        values: Mapping[str, Any],
        timeout: Timeout,
    ) -> RawResponse[Run]:
        """Send a run-creating request once; after an ambiguous failure, find its run."""
        if (values.get("if_running") or "queue") != "queue":
            active = await self._active_run(account_id, values["job_id"], timeout)
            if active is not None:
                if values["if_running"] == "fail":
                    state = active.status.humanized if active.status is not None else "active"
                    raise RunInProgressError(
                        f"job {values['job_id']} already has run {active.id} ({state}): "
                        f"nothing was triggered ({active.href or 'see dbt Cloud'})",
                        run=active,
                    )
                return RawResponse.enveloped(active.raw, active, reused=True)
        marker = None
        if body is not None and "cause" in body and self._trigger_marker:
            marker = new_marker()
            body["cause"] = mark_cause(body["cause"], marker)
        attempted_at = self._requester.wall_clock()
        deadline = self._requester.deadline(timeout)
        try:
            response, retries = await self._requester.request(
                op.method,
                path,
                kind=op.kind,
                params=None,
                body=body,
                timeout=timeout,
                deadline=deadline,
            )
            raw: RawResponse[Run] = RawResponse(
                status_code=response.status_code,
                headers=response.headers,
                content=response.content,
                parse=PARSERS[Result.RUN],
                retries=retries,
            )
            # Read now: an answer that cannot be read still created a run, and the caller
            # must learn which (or that it cannot be known), not get a parse error later.
            raw.parse()
        except APIError as exc:
            if not is_ambiguous(exc):
                raise
            attempt = Attempt(
                operation=op,
                account_id=account_id,
                job_id=values.get("job_id"),
                run_id=values.get("run_id"),
                cause=body.get("cause") if body is not None else None,
                marker=marker,
                attempted_at=attempted_at,
                error=exc,
                deadline=deadline,
            )
            search = Search(self, self._requester, self._timeout, self._reconcile_skew)
            return await reconcile(search, attempt)
        return raw

    async def _active_run(self, account_id: int, job_id: int, timeout: Timeout) -> Run | None:
        """The job's newest run that is queued, starting or running, if any."""
        page = await self.list_runs(
            account_id=account_id,
            job_definition_id=job_id,
            status=[RunStatus.QUEUED, RunStatus.STARTING, RunStatus.RUNNING],
            order_by="-id",
            include_related=["trigger"],
            limit=1,
            timeout=timeout,
        )
        return page.items[0] if page.items else None

    # -- runs --------------------------------------------------------------------------------

    async def get_run(
        self,
        run_id: int,
        *,
        account_id: int | None = None,
        include_related: Iterable[str] | str | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> Run:
        """Fetch one run (always from dbt: nothing is cached).

        Args:
            run_id: The run.
            account_id: Overrides the client's default account.
            include_related: Related objects to embed: `trigger`, `job`, `environment`,
                `repository`, `run_steps`, `run_retries`, `used_repo_cache`,
                `repo_cache_restore`, `audit`, `debug_logs`.
            timeout: Overrides the client's default timeout for this call.

        Raises:
            NotFoundError: No such run (or the token cannot see it).
        """
        return await self._call(
            ops.GET_RUN, account_id, timeout, run_id=run_id, include_related=include_related
        )

    def list_runs(
        self,
        *,
        account_id: int | None = None,
        job_definition_id: int | None = None,
        environment_id: int | None = None,
        project_id: int | Iterable[int] | None = None,
        status: RunStatus | int | str | Iterable[RunStatus | int | str] | None = None,
        order_by: str | None = None,
        include_related: Iterable[str] | str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        finished_after: datetime | str | None = None,
        finished_before: datetime | str | None = None,
        limit: int = 100,
        offset: int = 0,
        max_items: int | None = None,
        page_window: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> RunPaginator:
        """List runs: `await` the result for one page, `async for` it for every run.

        Arguments are checked here, before anything is sent.

        Args:
            account_id: Overrides the client's default account.
            job_definition_id: Only this job's runs.
            environment_id: Only this environment's runs.
            project_id: One project id, or several (sent as `project_id__in`).
            status: One status or several (sent as `status__in`): `RunStatus`, a code, or a
                name such as `"error"`.
            order_by: `id`, `created_at` or `finished_at`; prefix `-` for descending.
            include_related: `trigger`, `job`, `audit`, `debug_logs`.
            created_after: Only runs created at or after this time (naive means UTC; an
                ISO 8601 text with a time zone works too).
            created_before: Only runs created at or before this time.
            finished_after: Only runs finished at or after this time.
            finished_before: Only runs finished at or before this time.
            limit: Runs per request, 1 to 100 (dbt rejects more).
            offset: Where the listing starts.
            max_items: Stop iterating after this many runs.
            page_window: Overrides the client's `page_window` for this listing.
            timeout: Overrides the client's default timeout for each page request.

        Returns:
            A `RunPaginator`.
        """
        values = {
            "job_definition_id": job_definition_id,
            "environment_id": environment_id,
            "project_id": project_id,
            "status": status,
            "order_by": order_by,
            "include_related": include_related,
            "created_after": created_after,
            "created_before": created_before,
            "finished_after": finished_after,
            "finished_before": finished_before,
            "limit": limit,
            "offset": offset,
        }
        return self._paginate(
            RunPaginator,
            ops.LIST_RUNS,
            parse_page,
            account_id=account_id,
            values=values,
            max_items=max_items,
            page_window=page_window,
            timeout=timeout,
        )

    def _paginate(
        self,
        paginator: type[PaginatorT],
        op: Operation[Any],
        parse: Callable[..., Any],
        *,
        account_id: int | None,
        values: Mapping[str, Any],
        max_items: int | None,
        page_window: int | None,
        timeout: TimeoutArg,
    ) -> PaginatorT:
        """A paginator over `op`'s pages; every argument is checked here, before sending."""
        acct = self._account(account_id)
        params = op.query_params(values) or {}
        start = int(params.pop("offset"))
        page_size = int(params.pop("limit"))
        if max_items is not None:
            max_items = _MAX_ITEMS.check(max_items)
        window = self._page_window if page_window is None else _PAGE_WINDOW.check(page_window)
        path = op.url_path(acct, values)
        resolved = self._resolve_timeout(timeout)

        async def fetch(page_offset: int, page_limit: int) -> RawResponse[Any]:
            parse_at = functools.partial(parse, offset=page_offset, limit=page_limit)
            page_params = {**params, "limit": page_limit, "offset": page_offset}
            return await self._send(op, path, page_params, None, resolved, parse_at, values)

        return paginator(fetch, offset=start, limit=page_size, max_items=max_items, window=window)

    async def trigger_run(
        self,
        job_id: int,
        *,
        account_id: int | None = None,
        cause: str = DEFAULT_CAUSE,
        git_branch: str | None = None,
        git_sha: str | None = None,
        schema_override: str | None = None,
        dbt_version_override: str | None = None,
        threads_override: int | None = None,
        target_name_override: str | None = None,
        generate_docs_override: bool | None = None,
        timeout_seconds_override: int | None = None,
        steps_override: Iterable[str] | None = None,
        github_pull_request_id: int | None = None,
        gitlab_merge_request_id: int | None = None,
        azure_pull_request_id: int | None = None,
        non_native_pull_request_id: int | None = None,
        if_running: Literal["queue", "reuse", "fail"] = "queue",
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> Run:
        """Trigger a run of a job; returns the new run (status Queued, `trigger` embedded).

        The POST is never sent twice once it may have reached dbt. It is retried only after
        a connect-phase failure or a 429. After an ambiguous failure (a read timeout, a
        dropped connection, a 500/502/504, or a 200 whose body cannot be read) the client
        looks among the job's recent runs for the one whose cause carries this request's
        marker (see `trigger_marker`) and returns it; that run's `raw` is then the run
        object as listed by dbt (with `trigger` embedded, `job` not). If no run carries the
        marker in time, it raises `TriggerOutcomeUnknownError`: it never adopts a run it
        cannot prove is its own.

        Args:
            job_id: The job to run.
            account_id: Overrides the client's default account.
            cause: Why the run was started (1 to 255 characters). With `trigger_marker`,
                dbt receives it followed by the marker.
            git_branch: Check out this branch instead of the environment's.
            git_sha: Check out this commit.
            schema_override: Build into this schema.
            dbt_version_override: Run with this dbt version.
            threads_override: Number of threads.
            target_name_override: The `target.name` value.
            generate_docs_override: Whether to run `dbt docs generate`.
            timeout_seconds_override: The run's own timeout in seconds (0: none).
            steps_override: dbt commands to run instead of the job's (at most 50, each
                starting with `dbt `), e.g. `["dbt build"]`.
            github_pull_request_id: The GitHub pull request this run is for.
            gitlab_merge_request_id: The GitLab merge request this run is for.
            azure_pull_request_id: The Azure DevOps pull request this run is for.
            non_native_pull_request_id: A pull request id from another git provider.
            if_running: When the job already has a run queued or running: `"queue"` (dbt's
                way: the new run waits behind it), `"reuse"` (return that run and trigger
                nothing; in raw mode `reused` is True), or `"fail"` (raise
                `RunInProgressError` naming it). A run started between the check and the
                trigger is not seen.
            timeout: Overrides the client's default timeout for this call.

        Raises:
            InvalidArgumentError: An argument dbt would reject (checked before sending).
            RunInProgressError: `if_running="fail"` and the job has a run going.
            TriggerOutcomeUnknownError: The run may or may not have started.
        """
        return await self._call(
            ops.TRIGGER_RUN,
            account_id,
            timeout,
            job_id=job_id,
            cause=cause,
            git_branch=git_branch,
            git_sha=git_sha,
            schema_override=schema_override,
            dbt_version_override=dbt_version_override,
            threads_override=threads_override,
            target_name_override=target_name_override,
            generate_docs_override=generate_docs_override,
            timeout_seconds_override=timeout_seconds_override,
            steps_override=steps_override,
            github_pull_request_id=github_pull_request_id,
            gitlab_merge_request_id=gitlab_merge_request_id,
            azure_pull_request_id=azure_pull_request_id,
            non_native_pull_request_id=non_native_pull_request_id,
            if_running=if_running,
        )

    async def cancel_run(
        self, run_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> Run:
        """Cancel a run; returns it (status Cancelled, or unchanged if it had already finished).

        Cancelling is idempotent, so it is retried like a GET.
        """
        return await self._call(ops.CANCEL_RUN, account_id, timeout, run_id=run_id)

    async def retry_run(
        self, run_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> Run:
        """Retry a failed run from its point of failure; returns the new run.

        dbt allows this only for the latest run of a job when it errored (`run.can_retry`).
        Like a trigger, the POST is never sent twice once it may have reached dbt. A retry
        carries no cause to mark, so after an ambiguous failure the client cannot prove
        which run is its own: it raises `TriggerOutcomeUnknownError` naming the runs that
        retry `run_id` (`candidate_run_ids`).
        """
        return await self._call(ops.RETRY_RUN, account_id, timeout, run_id=run_id)

    async def rerun_job(
        self, job_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> Run:
        """Rerun a job: retry its latest run from the point of failure, if that run failed;
        otherwise dbt starts a new run of the job. Returns the run started.

        Like a trigger, the POST is never sent twice once it may have reached dbt. A rerun
        carries no cause to mark, so after an ambiguous failure the client cannot prove which
        run is its own: it raises `TriggerOutcomeUnknownError` naming the job's runs created
        since (`candidate_run_ids`).

        Raises:
            BadRequestError: dbt refused (its message says why, e.g. a run is in progress).
            TriggerOutcomeUnknownError: The run may or may not have started.
        """
        return await self._call(ops.RERUN_JOB, account_id, timeout, job_id=job_id)

    async def get_run_errors(
        self,
        run_id: int,
        *,
        include_warnings: bool = False,
        log_lines: int = DEFAULT_LOG_LINES,
        account_id: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> RunErrors:
        """Why a run failed: each failed step, its failing nodes and sources, its log tail.

        For each failed step it reads that step's own `run_results.json` (`sources.json` for
        `dbt source freshness`), asked for with `step=` so that a later step's artifact
        (`dbt docs generate`, say) cannot hide it. A step that saved no artifact is explained
        by the error lines of its log (`StepFailure.source == "logs"`). A run that did not
        fail has no failed steps; `run.status_message` says why a run was cancelled.

        Args:
            run_id: The run.
            include_warnings: Also report nodes and sources that only warned (in every step
                that ran dbt, failed or not).
            log_lines: How many of each step's last log lines to keep (0: none).
            account_id: Overrides the client's default account.
            timeout: Overrides the client's default timeout for each request.

        Example:
            >>> errors = await client.get_run_errors(run.id)
            >>> for node in errors.nodes:
            ...     print(node.unique_id, node.status, node.message)
        """
        return await diagnose(
            self,
            fields.RUN_ID.check(run_id),
            account_id=account_id,
            include_warnings=fields.INCLUDE_WARNINGS.check(include_warnings),
            log_lines=fields.LOG_LINES.check(log_lines),
            timeout=timeout,
        )

    # -- jobs --------------------------------------------------------------------------------

    def list_jobs(
        self,
        *,
        account_id: int | None = None,
        project_id: int | Iterable[int] | None = None,
        environment_id: int | None = None,
        name_contains: str | None = None,
        limit: int = 100,
        offset: int = 0,
        max_items: int | None = None,
        page_window: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> JobPaginator:
        """List jobs: `await` the result for one page, `async for` it for every job.

        Args:
            account_id: Overrides the client's default account.
            project_id: One project id, or several.
            environment_id: Only this environment's jobs.
            name_contains: Only jobs whose name contains this text, in any case.
            limit: Jobs per request, 1 to 100.
            offset: Where the listing starts.
            max_items: Stop iterating after this many jobs.
            page_window: Overrides the client's `page_window` for this listing.
            timeout: Overrides the client's default timeout for each page request.
        """
        values = {
            "project_id": project_id,
            "environment_id": environment_id,
            "name_contains": name_contains,
            "limit": limit,
            "offset": offset,
        }
        return self._paginate(
            JobPaginator,
            ops.LIST_JOBS,
            parse_job_page,
            account_id=account_id,
            values=values,
            max_items=max_items,
            page_window=page_window,
            timeout=timeout,
        )

    async def get_job(
        self, job_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> Job:
        """Fetch one job definition."""
        return await self._call(ops.GET_JOB, account_id, timeout, job_id=job_id)

    async def find_job(
        self,
        name: str,
        *,
        project_id: int | None = None,
        environment_id: int | None = None,
        account_id: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> Job:
        """The one job called `name` (exactly, or else in any case), within the account or
        the given project and environment.

        Raises:
            JobLookupError: No job has that name, or several do (`job_ids` lists them: pass
                `project_id` or `environment_id` to tell them apart, or use the id).
        """
        wanted = _JOB_NAME.check(name).strip()
        jobs = [
            job
            async for job in self.list_jobs(
                account_id=account_id,
                project_id=project_id,
                environment_id=environment_id,
                name_contains=wanted,
                timeout=timeout,
            )
        ]
        exact = [job for job in jobs if (job.name or "").strip() == wanted]
        matches = exact or [
            job for job in jobs if (job.name or "").strip().lower() == wanted.lower()
        ]
        if len(matches) == 1:
            return matches[0]
        where = "".join(
            f" in {what} {value}"
            for what, value in (("project", project_id), ("environment", environment_id))
            if value is not None
        )
        if not matches:
            near = ", ".join(f"{job.name!r} ({job.id})" for job in jobs[:5])
            hint = f"; names that contain it: {near}" if near else ""
            raise JobLookupError(f"no job is called {wanted!r}{where}{hint}", name=wanted)
        ids = tuple(job.id for job in matches if job.id is not None)
        described = ", ".join(
            f"{job.id} (project {job.project_id}, environment {job.environment_id})"
            for job in matches
        )
        raise JobLookupError(
            f"{len(matches)} jobs are called {wanted!r}{where}: {described}; pass a project or "
            "an environment to tell them apart, or use the job's id",
            name=wanted,
            job_ids=ids,
        )

    async def get_job_artifact(
        self,
        job_id: int,
        path: str,
        *,
        account_id: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> bytes:
        """An artifact of the job's latest successful run, e.g. its `manifest.json`.

        dbt serves the last step's file. When the step that matters is not the last one (a
        job ending in `dbt docs generate`, say), read the run's artifact with `step=`
        instead: `get_run_artifact(run_id, path, step=N)`.

        Raises:
            ArtifactNotFoundError: The job has no successful run with that artifact.
        """
        return await self._call(ops.GET_JOB_ARTIFACT, account_id, timeout, job_id=job_id, path=path)

    # -- artifacts ---------------------------------------------------------------------------

    async def list_run_artifacts(
        self, run_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> list[str]:
        """The paths of a run's artifacts (of its last step); `[]` when there are none."""
        return await self._call(ops.LIST_RUN_ARTIFACTS, account_id, timeout, run_id=run_id)

    async def get_run_artifact(
        self,
        run_id: int,
        path: str,
        *,
        step: int | None = None,
        account_id: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> bytes:
        """A small artifact's bytes, e.g. `run_results.json` (use `download_run_artifact` or
        `stream_run_artifact` for a large `manifest.json`).

        Args:
            run_id: The run.
            path: The path under `target/`, e.g. `run_results.json`.
            step: The 1-based step whose artifact to get; without it dbt serves the last
                step's, which is often `dbt docs generate`, not your build.
            account_id: Overrides the client's default account.
            timeout: Overrides the client's default timeout for this call.

        Raises:
            ArtifactNotFoundError: The run (or step) did not produce it, or not yet.
        """
        return await self._call(
            ops.GET_RUN_ARTIFACT, account_id, timeout, run_id=run_id, path=path, step=step
        )

    async def get_run_artifact_json(
        self,
        run_id: int,
        path: str,
        *,
        step: int | None = None,
        account_id: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> Any:
        """A small JSON artifact, decoded (`run_results.json`, `sources.json`, ...)."""
        raw = await self.with_raw_response.get_run_artifact(
            run_id, path, step=step, account_id=account_id, timeout=timeout
        )
        try:
            return json.loads(raw.content)
        except (ValueError, RecursionError):
            raise validation_error(raw, f"artifact {path!r} of run {run_id} is not JSON") from None

    @contextlib.asynccontextmanager
    async def stream_run_artifact(
        self,
        run_id: int,
        path: str,
        *,
        step: int | None = None,
        account_id: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> AsyncIterator[ArtifactStream]:
        """Stream an artifact without holding it in memory.

        Opening the stream is retried like any GET; a failure after the first byte is not.

        Example:
            >>> async with client.stream_run_artifact(42, "manifest.json") as stream:
            ...     async for chunk in stream:
            ...         sink.write(chunk)
        """
        values = {"run_id": run_id, "path": path, "step": step}
        async with self._stream(ops.GET_RUN_ARTIFACT, values, account_id, timeout) as stream:
            yield stream

    @contextlib.asynccontextmanager
    async def stream_job_artifact(
        self,
        job_id: int,
        path: str,
        *,
        account_id: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> AsyncIterator[ArtifactStream]:
        """Stream an artifact of the job's latest successful run (see `get_job_artifact`)."""
        values = {"job_id": job_id, "path": path}
        async with self._stream(ops.GET_JOB_ARTIFACT, values, account_id, timeout) as stream:
            yield stream

    @contextlib.asynccontextmanager
    async def _stream(
        self,
        op: Operation[bytes],
        values: Mapping[str, Any],
        account_id: int | None,
        timeout: TimeoutArg,
    ) -> AsyncIterator[ArtifactStream]:
        url_path = op.url_path(self._account(account_id), values)
        params = op.query_params(values)
        resolved = self._resolve_timeout(timeout)
        try:
            async with self._requester.stream(url_path, params=params, timeout=resolved) as (
                opened,
                retries,
            ):
                yield ArtifactStream(
                    opened,
                    run_id=values.get("run_id"),
                    path=values["path"],
                    step=values.get("step"),
                    job_id=values.get("job_id"),
                    retries=retries,
                )
        except NotFoundError as exc:
            raise artifact_not_found(
                exc,
                values.get("run_id"),
                values["path"],
                values.get("step"),
                job_id=values.get("job_id"),
            ) from None

    async def download_run_artifact(
        self,
        run_id: int,
        path: str,
        dest: str | os.PathLike[str],
        *,
        step: int | None = None,
        account_id: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> Path:
        """Download an artifact to a file, streaming (never the whole file in memory).

        The file appears only once complete (written beside it, then renamed), so a failed
        download never leaves a truncated artifact behind. It is created with the process's
        umask applied, like any file `curl -O` writes.

        Args:
            run_id: The run.
            path: The path under `target/`, e.g. `manifest.json`.
            dest: The file to write, or an existing directory to write the artifact's own
                file name into (`compiled/a b.sql` is written as `a b.sql`).
            step: The 1-based step (default: the last step).
            account_id: Overrides the client's default account.
            timeout: Overrides the client's default phase timeouts.

        Returns:
            The path written.

        Raises:
            ArtifactWriteError: The file could not be written (no such folder, a name too
                long, no permission, no space).
        """
        checked = fields.ARTIFACT_PATH.check(path)
        target = await asyncio.to_thread(download_target, Path(dest), checked)
        async with self.stream_run_artifact(
            run_id, checked, step=step, account_id=account_id, timeout=timeout
        ) as stream:
            await write_stream(stream, target)
        return target

    # -- waiting -----------------------------------------------------------------------------

    async def wait_for_run(
        self,
        run_id: int | Run,
        *,
        account_id: int | None = None,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        cancel_on_timeout: bool = False,
        cancel_on_abort: bool = False,
        raise_on_failure: bool = True,
        include_related: Iterable[str] | str | None = None,
        on_status_change: RunCallback | None = None,
        on_poll: RunCallback | None = None,
        on_log: LogCallback | None = None,
        events: EventHub | None = None,
        needs_artifacts: bool = True,
    ) -> Run:
        """Poll a run until it finishes; return it, or raise a `WaitError` saying why not.

        Bounded by default (one hour). At the deadline the run is checked one last time, so
        a run that finished just before it is not reported as timed out. A 404 right after a
        trigger is tolerated for `not_found_grace` seconds. Every poll asks dbt afresh.

        The waits of one account share their polls: while several are waiting, their runs
        are read together, one request per 100 runs (`GET runs/?pk__in=[...]`), so a
        thousand concurrent waits cost about ten requests per interval. A wait alone polls
        exactly as it would by itself; a wait along with others may be polled up to half an
        interval early, so that they fall into step. A wait with `on_log`, or with related
        objects a listing cannot embed (`run_steps`, `environment`...), polls on its own.
        Polls come further apart as the account's request budget fills (`rate_limit`), and
        a 429's cooldown is waited out when it ends before the deadline.

        Given `events` (the `EventHub` a webhook receiver publishes to, see
        `dbt_runs.expose.webhooks`), the wait subscribes to the run before its first poll and
        ends as soon as a verified `job.run.completed` for it arrives: the run is then read
        once, to return it in full and confirm it has ended. It still polls, every
        `DEFAULT_SAFETY_POLL` (120 s) unless `poll_interval` is given, because a delivery
        can be lost even after dbt's retries. Timeouts, cancelling and callbacks behave as
        without events (`on_poll` and `on_log` see only the polls and reads made).

        Args:
            run_id: The run's id, or a `Run` you already hold, such as the one `trigger_run`
                returned: an unfinished run counts as the first poll (callbacks included),
                so the first request goes out one `poll_interval` later.
            account_id: Overrides the client's default account.
            timeout: Seconds to wait in all; None waits forever (only when asked).
            poll_interval: Seconds between polls. Default: `DEFAULT_POLL_INTERVAL` (10 s),
                or `DEFAULT_SAFETY_POLL` (120 s) with `events`.
            not_found_grace: Seconds during which a 404 is taken as "not visible yet".
            cancel_on_timeout: Cancel the run in dbt when the wait times out.
            cancel_on_abort: Cancel the run in dbt when this wait is itself cancelled (the
                awaiting task is cancelled, Ctrl-C), so no run is left behind.
            raise_on_failure: Raise `RunFailedError`/`RunCancelledError` for a run that
                errored or was cancelled (False: return it).
            include_related: Passed to each poll, e.g. `["run_steps"]`.
            on_status_change: Called (sync or async) with the run whenever its status is
                first seen or changes.
            on_poll: Called (sync or async) with the run after every poll.
            on_log: Called (sync or async) with each step's new log lines (`LogLines`) as
                polls find them; the polls then include the run's steps.
            events: An `EventHub` fed by a webhook receiver in this process (any thread):
                the run's events end the wait early (None: polls only).
            needs_artifacts: With `events`: True waits for `job.run.completed`, which dbt
                sends once the run's artifacts and logs can be read. False also ends the wait
                on `job.run.errored`, which dbt sends as soon as a run fails, possibly
                before its artifacts are readable: sooner, for a caller that only needs the
                status.

        Raises:
            RunFailedError: The run errored (`.run` is the finished run).
            RunCancelledError: The run was cancelled.
            WaitTimeoutError: The run did not finish in time (`.run` is the last one seen).
        """
        waits = self._waits(
            [run_id],
            account_id=account_id,
            timeout=timeout,
            poll_interval=poll_interval,
            not_found_grace=not_found_grace,
            cancel_on_timeout=cancel_on_timeout,
            raise_on_failure=raise_on_failure,
            include_related=include_related,
            on_status_change=on_status_change,
            on_poll=on_poll,
            on_log=on_log,
            events=events,
            needs_artifacts=needs_artifacts,
        )
        return await waits[0].start(cancel_on_abort)

    @overload
    async def wait_for_runs(
        self,
        runs: Iterable[int | Run],
        *,
        account_id: int | None = None,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        cancel_on_timeout: bool = False,
        cancel_on_abort: bool = False,
        raise_on_failure: bool = True,
        return_exceptions: Literal[False] = False,
        include_related: Iterable[str] | str | None = None,
        on_status_change: RunCallback | None = None,
        on_poll: RunCallback | None = None,
        on_log: LogCallback | None = None,
        events: EventHub | None = None,
        needs_artifacts: bool = True,
    ) -> list[Run]: ...

    @overload
    async def wait_for_runs(
        self,
        runs: Iterable[int | Run],
        *,
        account_id: int | None = None,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        cancel_on_timeout: bool = False,
        cancel_on_abort: bool = False,
        raise_on_failure: bool = True,
        return_exceptions: bool,
        include_related: Iterable[str] | str | None = None,
        on_status_change: RunCallback | None = None,
        on_poll: RunCallback | None = None,
        on_log: LogCallback | None = None,
        events: EventHub | None = None,
        needs_artifacts: bool = True,
    ) -> list[Run | Exception]: ...

    async def wait_for_runs(
        self,
        runs: Iterable[int | Run],
        *,
        account_id: int | None = None,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        cancel_on_timeout: bool = False,
        cancel_on_abort: bool = False,
        raise_on_failure: bool = True,
        return_exceptions: bool = False,
        include_related: Iterable[str] | str | None = None,
        on_status_change: RunCallback | None = None,
        on_poll: RunCallback | None = None,
        on_log: LogCallback | None = None,
        events: EventHub | None = None,
        needs_artifacts: bool = True,
    ) -> list[Run] | list[Run | Exception]:
        """Wait for several runs at once; their finished runs, in the order given.

        Each run is waited for as `wait_for_run` waits for it, with the same arguments (its
        `timeout` counts from this call, for every run) and the same outcome; the callbacks
        get each run's `Run` (or `LogLines`, which name their run). Their polls are shared:
        one request per 100 runs per interval. Every wait goes on to its end: one run
        failing does not stop the others.

        Args:
            runs: Run ids, or `Run`s you hold (an unfinished one counts as its first poll).
                A run given twice is waited for once.
            account_id: Overrides the client's default account.
            timeout: Seconds to wait in all, for each run; None waits forever.
            poll_interval: Seconds between polls (default: 10 s, or 120 s with `events`).
            not_found_grace: Seconds during which a 404 is taken as "not visible yet".
            cancel_on_timeout: Cancel a run in dbt when its wait times out.
            cancel_on_abort: Cancel the runs still going when this call is cancelled.
            raise_on_failure: Count a run that errored or was cancelled as an error
                (`RunFailedError`/`RunCancelledError`); False: return it.
            return_exceptions: False: if any wait ended in an error, raise them all in an
                `ExceptionGroup` once every wait has ended. True: never raise for a run;
                the list holds the error in that run's place.
            include_related: Passed to each poll (see `wait_for_run`).
            on_status_change: Called with a run whenever its status is first seen or changes.
            on_poll: Called with a run after each of its polls.
            on_log: Called with each step's new log lines; such waits poll on their own.
            events: An `EventHub` fed by a webhook receiver: each run's events end its wait
                early (see `wait_for_run`).
            needs_artifacts: With `events`: wait for `job.run.completed` (True), or also
                end on `job.run.errored` (False; see `wait_for_run`).

        Raises:
            ExceptionGroup: With `return_exceptions=False`, the errors of the waits that
                ended in one (`RunFailedError`, `RunCancelledError`, `WaitTimeoutError`, an
                `APIError`...), in the order of their runs: catch them with `except*`.

        Example:
            >>> runs = [await client.trigger_run(job) for job in (12, 13, 14)]
            >>> try:
            ...     done = await client.wait_for_runs(runs, timeout=3600)
            ... except* RunFailedError as failed:
            ...     print([error.run.id for error in failed.exceptions])
        """
        items = listed(runs)
        waits = self._waits(
            items,
            account_id=account_id,
            timeout=timeout,
            poll_interval=poll_interval,
            not_found_grace=not_found_grace,
            cancel_on_timeout=cancel_on_timeout,
            raise_on_failure=raise_on_failure,
            include_related=include_related,
            on_status_change=on_status_change,
            on_poll=on_poll,
            on_log=on_log,
            events=events,
            needs_artifacts=needs_artifacts,
        )
        order = [item.id if isinstance(item, Run) else item for item in items]
        # gather: cancelled, it cancels every wait and returns once they have cleaned up
        # (a wait with cancel_on_abort has sent its cancel request by then).
        outcomes = await asyncio.gather(
            *(wait.start(cancel_on_abort) for wait in waits), return_exceptions=True
        )
        by_run = {wait.run_id: outcome for wait, outcome in zip(waits, outcomes, strict=True)}
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # KeyboardInterrupt, SystemExit: not a run's outcome
        results = [cast(Run | Exception, by_run[rid]) for rid in order]
        if return_exceptions:
            return results
        errors = [outcome for outcome in by_run.values() if isinstance(outcome, Exception)]
        if errors:
            raise ExceptionGroup(
                f"{len(errors)} of {len(by_run)} waits ended without a successful run", errors
            )
        return cast(list[Run], results)

    @overload
    def as_completed(
        self,
        runs: Iterable[int | Run],
        *,
        account_id: int | None = None,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        cancel_on_timeout: bool = False,
        cancel_on_abort: bool = False,
        raise_on_failure: bool = True,
        return_exceptions: Literal[False] = False,
        include_related: Iterable[str] | str | None = None,
        events: EventHub | None = None,
        needs_artifacts: bool = True,
    ) -> AsyncIterator[Run]: ...

    @overload
    def as_completed(
        self,
        runs: Iterable[int | Run],
        *,
        account_id: int | None = None,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        cancel_on_timeout: bool = False,
        cancel_on_abort: bool = False,
        raise_on_failure: bool = True,
        return_exceptions: bool,
        include_related: Iterable[str] | str | None = None,
        events: EventHub | None = None,
        needs_artifacts: bool = True,
    ) -> AsyncIterator[Run | Exception]: ...

    def as_completed(
        self,
        runs: Iterable[int | Run],
        *,
        account_id: int | None = None,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        cancel_on_timeout: bool = False,
        cancel_on_abort: bool = False,
        raise_on_failure: bool = True,
        return_exceptions: bool = False,
        include_related: Iterable[str] | str | None = None,
        events: EventHub | None = None,
        needs_artifacts: bool = True,
    ) -> AsyncIterator[Run] | AsyncIterator[Run | Exception]:
        """The runs, each as soon as it finishes (iterate over the result).

        The runs are waited for as `wait_for_runs` waits for them (shared polls, the same
        arguments, each run's outcome as `wait_for_run` would give it; with `events`, each
        run comes as soon as its webhook event does). Arguments are checked here, before
        anything is sent; the waits start with the iteration.

        With `return_exceptions=False`, a wait that ends in an error (with
        `raise_on_failure`, a failed or cancelled run; a timeout; an `APIError`) raises it
        from the loop where that run would have come, and the other waits stop (those with
        `cancel_on_abort` cancel their runs). With `return_exceptions=True` the error is
        yielded in the run's place and the iteration goes on. Leaving the loop early (or
        closing the iterator) stops the waits left the same way.

        Example:
            >>> async for run in client.as_completed(run_ids, raise_on_failure=False):
            ...     print(run.id, run.status_humanized)
        """
        waits = self._waits(
            runs,
            account_id=account_id,
            timeout=timeout,
            poll_interval=poll_interval,
            not_found_grace=not_found_grace,
            cancel_on_timeout=cancel_on_timeout,
            raise_on_failure=raise_on_failure,
            include_related=include_related,
            events=events,
            needs_artifacts=needs_artifacts,
        )
        return completing(waits, cancel_on_abort, return_exceptions)

    def _waits(
        self,
        runs: Iterable[int | Run],
        *,
        account_id: int | None,
        timeout: float | None,
        poll_interval: float | None,
        not_found_grace: float,
        cancel_on_timeout: bool,
        raise_on_failure: bool,
        include_related: Iterable[str] | str | None,
        on_status_change: RunCallback | None = None,
        on_poll: RunCallback | None = None,
        on_log: LogCallback | None = None,
        events: EventHub | None = None,
        needs_artifacts: bool = True,
    ) -> list[Wait]:
        """A checked wait for each distinct run: every argument is checked here, before any
        request is sent."""
        acct = self._account(account_id)
        if timeout is not None:
            timeout = _WAIT_TIMEOUT.check(timeout, as_name="timeout")
        if events is not None and not isinstance(events, EventHub):
            raise InvalidArgumentError(
                f"events must be a dbt_runs.webhooks.EventHub, not {type(events).__name__}",
                argument="events",
            )
        needs_artifacts = _NEEDS_ARTIFACTS.check(needs_artifacts)
        if poll_interval is None:
            # With events, polls are only the safety net for a lost delivery.
            poll_interval = DEFAULT_POLL_INTERVAL if events is None else DEFAULT_SAFETY_POLL
        interval = _POLL_INTERVAL.check(poll_interval)
        grace = _NOT_FOUND_GRACE.check(not_found_grace)
        related = (
            None if include_related is None else fields.INCLUDE_RELATED_RUN.check(include_related)
        )
        if on_log is not None and (related is None or "run_steps" not in related):
            # The step logs come with the run's steps.
            related = (*(related or ()), "run_steps")
        polls: Polls
        if self._share_waits and shareable(related, on_log):
            watcher = self._watchers.get(acct)
            if watcher is None:
                watcher = self._watchers[acct] = RunWatcher(
                    self, acct, clock=self._requester.clock, sleep=self._requester.sleep
                )
            polls = watcher.polls(related)
        else:
            polls = SolePolls(self, acct, related, self._requester.sleep)
        held: dict[int, Run | None] = {}
        for item in listed(runs):
            seen = item if isinstance(item, Run) else None
            rid = fields.RUN_ID.check(seen.id if seen is not None else item)
            if held.get(rid) is None:
                held[rid] = seen
        return [
            Wait(
                Waiter(
                    client=self,
                    clock=self._requester.clock,
                    polls=polls,
                    run_id=rid,
                    account_id=acct,
                    timeout=timeout,
                    poll_interval=interval,
                    not_found_grace=grace,
                    cancel_on_timeout=cancel_on_timeout,
                    raise_on_failure=raise_on_failure,
                    on_status_change=on_status_change,
                    on_poll=on_poll,
                    on_log=on_log,
                    events=events,
                    needs_artifacts=needs_artifacts,
                    pace=functools.partial(self._requester.pace, acct),
                ),
                seen,
                self._aborts,
            )
            for rid, seen in held.items()
        ]

    async def _runs_by_id(
        self, account_id: int, run_ids: Sequence[int], include_related: Iterable[str] | None
    ) -> list[Run]:
        """Up to 100 runs in one request (`pk__in`), as dbt lists them (absent ones left out)."""
        op = ops.LIST_RUNS_BY_ID
        values = {"pk": list(run_ids), "include_related": include_related, "limit": len(run_ids)}
        parse = functools.partial(parse_page, offset=0, limit=len(run_ids))
        raw = await self._send(
            op,
            op.url_path(account_id, values),
            op.query_params(values),
            None,
            self._timeout,
            parse,
            values,
        )
        page: RunPage = raw.parse()
        return list(page.items)


_PAGE_WINDOW: Final = fields.Integer("page_window", "List pages fetched at once.")
_JOB_NAME: Final = fields.Text("name", "The job's name.")

_MAX_ITEMS: Final = fields.Integer("max_items", "Stop after this many items.", minimum=0)
_WAIT_TIMEOUT: Final = fields.Number("timeout", "Seconds to wait in all.")
_POLL_INTERVAL: Final = fields.Number("poll_interval", "Seconds between polls.")
_NOT_FOUND_GRACE: Final = fields.Number(
    "not_found_grace", "Seconds a 404 is taken as not visible yet.", inclusive=True
)
_NEEDS_ARTIFACTS: Final = fields.Flag(
    "needs_artifacts", "With events: wait for job.run.completed, not job.run.errored too."
)
