"""`AsyncRunsClient`: configuration, lifecycle, and one method per dbt Cloud runs operation."""

# `timeout=` is this API's per-call timeout (a number or a `Timeout`), applied inside with
# asyncio.timeout; ruff's ASYNC109 assumes a parameter that callers should replace with it.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from dbt_runs import _params
from dbt_runs._config import (
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    NotGiven,
    Timeout,
    resolve_account_id,
    resolve_base_url,
    resolve_token,
)
from dbt_runs._converter import structure, validation_message
from dbt_runs._http import CHUNK_SIZE, HttpResponse, HttpStream, HttpTransport
from dbt_runs._response import RawResponse
from dbt_runs._retry import (
    Kind,
    RetryPolicy,
    is_ambiguous,
    parse_retry_after,
    retrying,
    should_retry,
)
from dbt_runs._version import __version__
from dbt_runs.errors import (
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ArtifactNotFoundError,
    InvalidArgumentError,
    NotFoundError,
    RunCancelledError,
    RunFailedError,
    TriggerOutcomeUnknownError,
    WaitTimeoutError,
    decode_error_body,
    error_message,
    status_error_class,
)
from dbt_runs.models import Run, RunPage, RunStatus
from dbt_runs.pagination import RunPaginator

__all__ = ["AsyncRunsClient", "RawRunsClient"]

logger = logging.getLogger("dbt_runs")

TimeoutArg = float | Timeout | None | NotGiven
RunCallback = Callable[[Run], Awaitable[object] | object]

_JSON: Final = "application/json"
_SUCCESS_STATUS: Final = {
    "code": 200,
    "is_success": True,
    "user_message": "Success!",
    "developer_message": "",
}
DEFAULT_WAIT_TIMEOUT: Final = 3600.0
DEFAULT_POLL_INTERVAL: Final = 10.0
DEFAULT_NOT_FOUND_GRACE: Final = 30.0


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
            connect, 30 s between bytes, 120 s for a whole call including retries.
        retry: The `RetryPolicy` (default: 3 retries, exponential back-off with jitter).
        http_client: An `httpx.AsyncClient` to send through (e.g. `asgi_http_client(app)`).
            The client closes only an httpx client it created itself.
        user_agent: Replaces the default `dbt-runs/<version>` User-Agent.
        page_window: How many list pages may be fetched at once when iterating (1: one at
            a time).
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
        http_client: Any = None,
        user_agent: str | None = None,
        page_window: int = 8,
        reconcile_skew: float = 120.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._token = _Secret(resolve_token(token))
        self._base_url = resolve_base_url(base_url, host)
        self._account_id = resolve_account_id(account_id)
        self._timeout = DEFAULT_TIMEOUT if isinstance(timeout, NotGiven) else Timeout.of(timeout)
        self._retry = retry if retry is not None else RetryPolicy()
        if not isinstance(self._retry, RetryPolicy):
            raise InvalidArgumentError(f"retry must be a RetryPolicy, got {retry!r}")
        self._page_window = _params.check_int(page_window, "page_window", minimum=1)
        self._reconcile_skew = timedelta(seconds=reconcile_skew)
        self._clock = clock or time.monotonic
        self._sleep = sleep or asyncio.sleep
        self._wall_clock = wall_clock or _utcnow
        headers = {
            "Accept": _JSON,
            "User-Agent": user_agent or _user_agent(),
        }
        self._http = HttpTransport(
            base_url=self._base_url,
            headers=headers,
            token=self._token.reveal,
            http_client=http_client,
            timeout=self._timeout,
        )
        # Runs this client has already been handed by a trigger: never "adopted" again by a
        # later reconciliation of the same job and cause.
        self._triggered: collections.deque[int] = collections.deque(maxlen=1000)
        self._raw = RawRunsClient(self)
        # Cancel requests sent after an aborted wait, kept alive until they finish.
        self._aborts: set[asyncio.Future[Run]] = set()

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
        return self._retry

    @property
    def page_window(self) -> int:
        """How many list pages may be fetched at once."""
        return self._page_window

    @property
    def with_raw_response(self) -> RawRunsClient:
        """The same operations, returning `RawResponse` (dbt's bytes plus `.parse()`)."""
        return self._raw

    @property
    def is_closed(self) -> bool:
        """True once the underlying HTTP client is closed."""
        return self._http.is_closed

    async def aclose(self) -> None:
        """Close the HTTP client, if this client created it."""
        await self._http.aclose()

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

    # -- plumbing ----------------------------------------------------------------------------

    def _account(self, account_id: int | None) -> int:
        if account_id is None:
            if self._account_id is None:
                raise InvalidArgumentError(
                    "no account id: pass account_id=... or set DBT_CLOUD_ACCOUNT_ID"
                )
            return self._account_id
        return _params.require_id(account_id, "account_id")

    def _resolve_timeout(self, timeout: TimeoutArg) -> Timeout:
        if isinstance(timeout, NotGiven):
            return self._timeout
        try:
            return Timeout.of(timeout)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc)) from None

    def _status_error(self, response: HttpResponse | HttpStream, content: bytes) -> APIStatusError:
        body = decode_error_body(content)
        cls = status_error_class(response.status_code)
        message = error_message(response.status_code, response.reason, body, content)
        error = cls(
            message,
            status_code=response.status_code,
            headers=response.headers,
            content=content,
            body=body,
        )
        retry_after = response.headers.get("retry-after")
        if retry_after is not None:
            error.retry_after = parse_retry_after(retry_after, self._wall_clock())
        return error

    async def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        body: Any,
        timeout: Timeout,
        deadline: float | None,
        accept: str,
    ) -> HttpResponse:
        if deadline is None:
            response = await self._http.request(
                method, path, params=params, json=body, timeout=timeout, accept=accept
            )
        else:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise APITimeoutError(
                    f"the call ran out of its total timeout of {timeout.total} s",
                    request_sent=False,
                )
            scope = asyncio.timeout(remaining)
            try:
                async with scope:
                    response = await self._http.request(
                        method, path, params=params, json=body, timeout=timeout, accept=accept
                    )
            except TimeoutError:
                if scope.expired():
                    raise APITimeoutError(
                        f"the call took longer than its total timeout of {timeout.total} s",
                        request_sent=True,
                    ) from None
                raise
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s -> %d", method, path, response.status_code)
        if response.status_code >= 400:
            raise self._status_error(response, response.content)
        return response

    async def _request(
        self,
        method: str,
        path: str,
        *,
        kind: Kind,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        timeout: TimeoutArg = NOT_GIVEN,
        accept: str = _JSON,
    ) -> tuple[HttpResponse, int]:
        """Send with retries; returns the response and the number of retries taken."""
        resolved = self._resolve_timeout(timeout)
        deadline = None if resolved.total is None else self._clock() + resolved.total
        attempts = 0

        async def attempt() -> HttpResponse:
            nonlocal attempts
            attempts += 1
            return await self._attempt(method, path, params, body, resolved, deadline, accept)

        try:
            try:
                # The hot path: one attempt, no retry machinery built unless it fails.
                response = await attempt()
            except APIError as first_error:
                if self._retry.max_retries == 0 or not should_retry(kind, self._retry, first_error):
                    raise
                failed: APIError = first_error
                replayed = False

                async def replay_then_attempt() -> HttpResponse:
                    # Tenacity sees the attempt that already failed as its first one.
                    nonlocal replayed
                    if not replayed:
                        replayed = True
                        raise failed
                    return await attempt()

                controller = retrying(
                    kind=kind,
                    policy=self._retry,
                    deadline=deadline,
                    clock=self._clock,
                    sleep=self._sleep,
                    method=method,
                    path=path,
                )
                response = await controller(replay_then_attempt)
        except APIError as exc:
            exc.retries = attempts - 1
            raise
        return response, attempts - 1

    def _raw_response(
        self, response: HttpResponse, retries: int, parse: Callable[[RawResponse[Any]], Any]
    ) -> RawResponse[Any]:
        return RawResponse(
            status_code=response.status_code,
            headers=response.headers,
            content=response.content,
            parse=parse,
            retries=retries,
        )

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
        raw = await self._raw.get_run(
            run_id, account_id=account_id, include_related=include_related, timeout=timeout
        )
        return raw.parse()

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
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        finished_after: datetime | None = None,
        finished_before: datetime | None = None,
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
            created_after: Only runs created at or after this time (naive means UTC).
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
        acct = self._account(account_id)
        filters = _params.list_runs_params(
            job_definition_id=job_definition_id,
            environment_id=environment_id,
            project_id=project_id,
            status=status,
            order_by=order_by,
            include_related=include_related,
            created_after=created_after,
            created_before=created_before,
            finished_after=finished_after,
            finished_before=finished_before,
        )
        page_size = _params.check_limit(limit)
        start = _params.check_offset(offset)
        if max_items is not None:
            max_items = _params.check_int(max_items, "max_items", minimum=0)
        window = (
            self._page_window
            if page_window is None
            else _params.check_int(page_window, "page_window", minimum=1)
        )

        async def fetch(page_offset: int, page_limit: int) -> RawResponse[RunPage]:
            return await self._raw._list_page(acct, filters, page_offset, page_limit, timeout)

        return RunPaginator(
            fetch, offset=start, limit=page_size, max_items=max_items, window=window
        )

    async def trigger_run(
        self,
        job_id: int,
        *,
        account_id: int | None = None,
        cause: str = _params.DEFAULT_CAUSE,
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
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> Run:
        """Trigger a run of a job; returns the new run (status Queued, `trigger` embedded).

        The POST is never sent twice when the first one may have reached dbt. It is retried
        only after a connect-phase failure or a 429. After an ambiguous failure (a read
        timeout, a dropped connection, or a 500/502/504) the client looks for the run among
        the job's runs created since the attempt with the same cause (and overrides), and
        returns it; that run's `raw` is then the run object as listed by dbt (with
        `trigger` embedded, `job` not). If it cannot tell, it raises
        `TriggerOutcomeUnknownError`.

        Args:
            job_id: The job to run.
            account_id: Overrides the client's default account.
            cause: Why the run was started (1 to 255 characters). A distinctive cause also
                makes reconciliation after a lost response unambiguous.
            git_branch: Check out this branch instead of the environment's.
            git_sha: Check out this commit.
            schema_override: Build into this schema.
            dbt_version_override: Run with this dbt version.
            threads_override: Number of threads.
            target_name_override: The `target.name` value.
            generate_docs_override: Whether to run `dbt docs generate`.
            timeout_seconds_override: The run's own timeout in seconds (0: none).
            steps_override: dbt commands to run instead of the job's, e.g. `["dbt build"]`.
            github_pull_request_id: The GitHub pull request this run is for.
            gitlab_merge_request_id: The GitLab merge request this run is for.
            azure_pull_request_id: The Azure DevOps pull request this run is for.
            non_native_pull_request_id: A pull request id from another git provider.
            timeout: Overrides the client's default timeout for this call.

        Raises:
            InvalidArgumentError: An argument dbt would reject (checked before sending).
            TriggerOutcomeUnknownError: The run may or may not have started.
        """
        raw = await self._raw.trigger_run(
            job_id,
            account_id=account_id,
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
            timeout=timeout,
        )
        return raw.parse()

    async def cancel_run(
        self, run_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> Run:
        """Cancel a run; returns it (status Cancelled, or unchanged if it had already finished).

        Cancelling is idempotent, so it is retried like a GET.
        """
        raw = await self._raw.cancel_run(run_id, account_id=account_id, timeout=timeout)
        return raw.parse()

    async def retry_run(
        self, run_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> Run:
        """Retry a failed run from its point of failure; returns the new run.

        dbt allows this only for the latest run of a job when it errored (`run.can_retry`).
        Like a trigger, the POST is never sent twice when it may have reached dbt. After an
        ambiguous failure the client looks among the job's runs created since the attempt
        for the one run whose `retrying_run_id` is `run_id`, and returns it; otherwise it
        raises `TriggerOutcomeUnknownError`.
        """
        raw = await self._raw.retry_run(run_id, account_id=account_id, timeout=timeout)
        return raw.parse()

    # -- artifacts ---------------------------------------------------------------------------

    async def list_run_artifacts(
        self, run_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> list[str]:
        """The paths of a run's artifacts (of its last step); `[]` when there are none."""
        raw = await self._raw.list_run_artifacts(run_id, account_id=account_id, timeout=timeout)
        return raw.parse()

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
        raw = await self._raw.get_run_artifact(
            run_id, path, step=step, account_id=account_id, timeout=timeout
        )
        return raw.parse()

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
        content = await self.get_run_artifact(
            run_id, path, step=step, account_id=account_id, timeout=timeout
        )
        try:
            return json.loads(content)
        except ValueError:
            raise APIResponseValidationError(
                f"artifact {path!r} of run {run_id} is not JSON",
                status_code=200,
                content=content,
            ) from None

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
        acct = self._account(account_id)
        run = _params.require_id(run_id, "run_id")
        quoted = _params.artifact_path(path)
        params = _params.step_param(step)
        resolved = self._resolve_timeout(timeout)
        artifact_path = f"/accounts/{acct}/runs/{run}/artifacts/{quoted}"
        deadline = None if resolved.total is None else self._clock() + resolved.total
        attempts = 0

        async def open_stream(stack: contextlib.AsyncExitStack) -> HttpStream:
            nonlocal attempts
            attempts += 1
            opened = await stack.enter_async_context(
                self._http.stream("GET", artifact_path, params=params, timeout=resolved)
            )
            if opened.status_code >= 400:
                content = await opened.read()
                raise self._status_error(opened, content)
            return opened

        async with contextlib.AsyncExitStack() as outer:
            controller = retrying(
                kind=Kind.IDEMPOTENT,
                policy=self._retry,
                deadline=deadline,
                clock=self._clock,
                sleep=self._sleep,
                method="GET",
                path=artifact_path,
            )

            async def attempt() -> tuple[HttpStream, contextlib.AsyncExitStack]:
                stack = contextlib.AsyncExitStack()
                try:
                    return await open_stream(stack), stack
                except BaseException:
                    await stack.aclose()
                    raise

            try:
                opened: HttpStream
                stack: contextlib.AsyncExitStack
                opened, stack = await controller(attempt)
            except NotFoundError as exc:
                exc.retries = attempts - 1
                raise _artifact_not_found(exc, run, path, step) from None
            except APIError as exc:
                exc.retries = attempts - 1
                raise
            await outer.enter_async_context(stack)
            yield ArtifactStream(opened, run_id=run, path=path, step=step)

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
        download never leaves a truncated artifact behind.

        Args:
            run_id: The run.
            path: The path under `target/`, e.g. `manifest.json`.
            dest: The file to write, or an existing directory to write `basename(path)` into.
            step: The 1-based step (default: the last step).
            account_id: Overrides the client's default account.
            timeout: Overrides the client's default phase timeouts.

        Returns:
            The path written.
        """
        target = await asyncio.to_thread(_download_target, Path(dest), path)
        async with self.stream_run_artifact(
            run_id, path, step=step, account_id=account_id, timeout=timeout
        ) as stream:
            handle = await asyncio.to_thread(
                tempfile.NamedTemporaryFile,
                mode="wb",
                dir=target.parent,
                prefix=f".{target.name}.",
                suffix=".part",
                delete=False,
            )
            try:
                with handle:
                    async for chunk in stream:
                        # A 64 KiB write to the page cache takes microseconds: cheaper inline
                        # than a thread hop per chunk.
                        handle.write(chunk)
                await asyncio.to_thread(os.replace, handle.name, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(handle.name)
                raise
        return target

    # -- waiting -----------------------------------------------------------------------------

    async def wait_for_run(
        self,
        run_id: int | Run,
        *,
        account_id: int | None = None,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        cancel_on_timeout: bool = False,
        cancel_on_abort: bool = False,
        raise_on_failure: bool = True,
        include_related: Iterable[str] | str | None = None,
        on_status_change: RunCallback | None = None,
        on_poll: RunCallback | None = None,
    ) -> Run:
        """Poll a run until it finishes; return it, or raise a `WaitError` saying why not.

        Bounded by default (one hour). At the deadline the run is checked one last time, so
        a run that finished just before it is not reported as timed out. A 404 right after a
        trigger is tolerated for `not_found_grace` seconds. Every poll asks dbt afresh.

        Args:
            run_id: The run's id, or a `Run` you already hold, such as the one `trigger_run`
                returned: an unfinished run counts as the first poll (callbacks included),
                so the first request goes out one `poll_interval` later.
            account_id: Overrides the client's default account.
            timeout: Seconds to wait in all; None waits forever (only when asked).
            poll_interval: Seconds between polls.
            not_found_grace: Seconds during which a 404 is taken as "not visible yet".
            cancel_on_timeout: Cancel the run in dbt when the wait times out.
            cancel_on_abort: Cancel the run in dbt when this wait is itself cancelled (the
                awaiting task is cancelled, Ctrl-C), so no run is left behind.
            raise_on_failure: Raise `RunFailedError`/`RunCancelledError` for a run that
                errored or was cancelled (False: return it).
            include_related: Passed to each `get_run`, e.g. `["run_steps"]`.
            on_status_change: Called (sync or async) with the run whenever its status is
                first seen or changes.
            on_poll: Called (sync or async) with the run after every poll.

        Raises:
            RunFailedError: The run errored (`.run` is the finished run).
            RunCancelledError: The run was cancelled.
            WaitTimeoutError: The run did not finish in time (`.run` is the last one seen).
        """
        seen = run_id if isinstance(run_id, Run) else None
        rid = _params.require_id(seen.id if seen is not None else run_id, "run_id")
        acct = self._account(account_id)
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise InvalidArgumentError(
                f"timeout must be a positive number or None, got {timeout!r}"
            )
        if isinstance(poll_interval, bool) or not poll_interval > 0:
            raise InvalidArgumentError(f"poll_interval must be positive, got {poll_interval!r}")
        related = _params.include_related_param(include_related, allowed=_params.RUN_RELATED)
        try:
            return await self._poll(
                rid,
                acct,
                timeout=timeout,
                poll_interval=poll_interval,
                not_found_grace=not_found_grace,
                cancel_on_timeout=cancel_on_timeout,
                raise_on_failure=raise_on_failure,
                related=related,
                on_status_change=on_status_change,
                on_poll=on_poll,
                seen=seen,
            )
        except asyncio.CancelledError:
            if cancel_on_abort:
                await self._cancel_after_abort(rid, acct)
            raise

    async def _cancel_after_abort(self, run_id: int, account_id: int) -> None:
        # Shielded: the wait's own cancellation must not cancel the cancel.
        task = asyncio.ensure_future(self.cancel_run(run_id, account_id=account_id))
        self._aborts.add(task)
        task.add_done_callback(self._aborts.discard)
        try:
            await asyncio.shield(task)
            logger.warning("cancelled run %d because the wait for it was aborted", run_id)
        except asyncio.CancelledError:
            pass  # cancelled again: the cancel request still goes out in the background
        except APIError as exc:
            logger.warning("could not cancel run %d after its wait was aborted: %s", run_id, exc)

    async def _poll(
        self,
        rid: int,
        acct: int,
        *,
        timeout: float | None,
        poll_interval: float,
        not_found_grace: float,
        cancel_on_timeout: bool,
        raise_on_failure: bool,
        related: str | None,
        on_status_change: RunCallback | None,
        on_poll: RunCallback | None,
        seen: Run | None,
    ) -> Run:
        start = self._clock()
        deadline = None if timeout is None else start + timeout
        last: Run | None = None
        last_status: RunStatus | None = None
        final_check = False
        found = False
        # A finished run passed in is fetched afresh (it may carry less than asked for); an
        # unfinished one is this wait's first poll, so no request repeats what the caller knows.
        pending = seen if seen is not None and not seen.is_terminal else None
        while True:
            try:
                if pending is not None:
                    run, pending = pending, None
                else:
                    run = await self.get_run(rid, account_id=acct, include_related=related)
                    found = True
            except NotFoundError:
                if found or self._clock() - start >= not_found_grace:
                    raise
                logger.debug("run %d not found yet; still within the grace period", rid)
            else:
                last = run
                if on_poll is not None:
                    await _call(on_poll, run)
                if run.status != last_status:
                    last_status = run.status
                    if on_status_change is not None:
                        await _call(on_status_change, run)
                if run.is_terminal:
                    return _finish(run, raise_on_failure)
            if final_check:
                break
            now = self._clock()
            pause = poll_interval
            if deadline is not None:
                if now >= deadline:
                    break
                if now + pause >= deadline:
                    # Sleep to the deadline, then look once more before giving up.
                    pause = deadline - now
                    final_check = True
            await self._sleep(pause)
        cancelled = False
        if cancel_on_timeout and last is not None:
            last = await self.cancel_run(rid, account_id=acct)
            cancelled = True
        state = last.status.humanized if last is not None and last.status is not None else "unseen"
        raise WaitTimeoutError(
            f"run {rid} did not finish within {timeout} s (last status: {state})"
            + ("; it was cancelled" if cancelled else ""),
            run=last,
            cancelled=cancelled,
        )


class ArtifactStream:
    """An artifact being downloaded: iterate over it for its bytes, chunk by chunk.

    Attributes:
        run_id: The run.
        path: The artifact path.
        step: The step asked for (None: the last step).
        status_code: The HTTP status.
        headers: The response headers.
    """

    def __init__(self, stream: HttpStream, *, run_id: int, path: str, step: int | None) -> None:
        self._stream = stream
        self.run_id = run_id
        self.path = path
        self.step = step
        self.status_code = stream.status_code
        self.headers = stream.headers

    @property
    def content_type(self) -> str | None:
        """The `Content-Type` dbt sent."""
        return self.headers.get("content-type")

    @property
    def content_length(self) -> int | None:
        """The size in bytes, when dbt said (`Content-Length`)."""
        value = self.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() else None

    def iter_bytes(self, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The body in chunks of at most `chunk_size` bytes."""
        return self._stream.iter_bytes(chunk_size)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.iter_bytes()

    def __repr__(self) -> str:
        return (
            f"ArtifactStream(run_id={self.run_id}, path={self.path!r}, "
            f"content_length={self.content_length})"
        )


class RawRunsClient:
    """`client.with_raw_response`: each operation returns a `RawResponse`.

    The arguments are the same as the normal methods'. `list_runs` returns one page.
    """

    def __init__(self, client: AsyncRunsClient) -> None:
        self._client = client

    async def get_run(
        self,
        run_id: int,
        *,
        account_id: int | None = None,
        include_related: Iterable[str] | str | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> RawResponse[Run]:
        """`get_run`, raw."""
        c = self._client
        acct = c._account(account_id)
        rid = _params.require_id(run_id, "run_id")
        related = _params.include_related_param(include_related, allowed=_params.RUN_RELATED)
        params = {"include_related": related} if related is not None else None
        response, retries = await c._request(
            "GET",
            f"/accounts/{acct}/runs/{rid}/",
            kind=Kind.IDEMPOTENT,
            params=params,
            timeout=timeout,
        )
        return c._raw_response(response, retries, _parse_run)

    async def list_runs(
        self,
        *,
        account_id: int | None = None,
        job_definition_id: int | None = None,
        environment_id: int | None = None,
        project_id: int | Iterable[int] | None = None,
        status: RunStatus | int | str | Iterable[RunStatus | int | str] | None = None,
        order_by: str | None = None,
        include_related: Iterable[str] | str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        finished_after: datetime | None = None,
        finished_before: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> RawResponse[RunPage]:
        """`list_runs`, raw: one page."""
        c = self._client
        acct = c._account(account_id)
        filters = _params.list_runs_params(
            job_definition_id=job_definition_id,
            environment_id=environment_id,
            project_id=project_id,
            status=status,
            order_by=order_by,
            include_related=include_related,
            created_after=created_after,
            created_before=created_before,
            finished_after=finished_after,
            finished_before=finished_before,
        )
        return await self._list_page(
            acct, filters, _params.check_offset(offset), _params.check_limit(limit), timeout
        )

    async def _list_page(
        self,
        account_id: int,
        filters: Mapping[str, str | int],
        offset: int,
        limit: int,
        timeout: TimeoutArg,
    ) -> RawResponse[RunPage]:
        c = self._client
        params = {**filters, "limit": limit, "offset": offset}
        response, retries = await c._request(
            "GET",
            f"/accounts/{account_id}/runs/",
            kind=Kind.IDEMPOTENT,
            params=params,
            timeout=timeout,
        )
        return c._raw_response(
            response, retries, functools.partial(_parse_page, offset=offset, limit=limit)
        )

    async def trigger_run(
        self,
        job_id: int,
        *,
        account_id: int | None = None,
        cause: str = _params.DEFAULT_CAUSE,
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
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> RawResponse[Run]:
        """`trigger_run`, raw. A reconciled trigger has `reconciled=True` (see there)."""
        c = self._client
        acct = c._account(account_id)
        job = _params.require_id(job_id, "job_id")
        body = _params.trigger_body(
            cause,
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
        )
        attempted_at = c._wall_clock()
        try:
            response, retries = await c._request(
                "POST",
                f"/accounts/{acct}/jobs/{job}/run/",
                kind=Kind.CREATES_RUN,
                body=body,
                timeout=timeout,
            )
        except APIError as exc:
            if not is_ambiguous(exc):
                raise
            raw = await self._reconcile_trigger(acct, job, body, attempted_at, exc)
        else:
            raw = c._raw_response(response, retries, _parse_run)
        c._triggered.append(raw.parse().id)
        return raw

    async def _reconcile_trigger(
        self,
        account_id: int,
        job_id: int,
        body: Mapping[str, Any],
        attempted_at: datetime,
        error: APIError,
    ) -> RawResponse[Run]:
        cause = body["cause"]
        return await self._reconcile(
            account_id,
            job_id,
            lambda run: _same_trigger(run, body),
            attempted_at,
            error,
            what=f"triggering job {job_id}",
            matching=f"with cause {cause!r}",
            cause=cause,
        )

    async def _reconcile(
        self,
        account_id: int,
        job_id: int | None,
        matches: Callable[[Run], bool],
        attempted_at: datetime,
        error: APIError,
        *,
        what: str,
        matching: str,
        cause: str | None,
        run_id: int | None = None,
    ) -> RawResponse[Run]:
        """Look for the run an ambiguous POST may have created; adopt it only if it is the
        one run that matches, else raise `TriggerOutcomeUnknownError`."""
        c = self._client
        logger.warning(
            "%s may have started a run (%s); looking for it instead of sending it again",
            what,
            error,
        )
        unknown = functools.partial(
            TriggerOutcomeUnknownError, job_id=job_id, cause=cause, attempted_at=attempted_at
        )
        try:
            if job_id is None and run_id is not None:
                original = (await self.get_run(run_id, account_id=account_id)).parse()
                job_id = original.job_definition_id or original.job_id
            how = (
                f"check the job's recent runs (list_runs(job_definition_id={job_id}, "
                "order_by='-id', include_related=['trigger'])) before trying again"
            )
            if job_id is None:
                raise unknown(
                    f"{what} failed after the request may have reached dbt Cloud ({error}), "
                    f"and the run's job is unknown; {how}"
                ) from error
            filters = _params.list_runs_params(
                job_definition_id=job_id,
                order_by="-id",
                include_related=["trigger"],
                created_after=attempted_at - c._reconcile_skew,
                created_before=c._wall_clock() + c._reconcile_skew,
            )
            page = (
                await self._list_page(account_id, filters, 0, _params.MAX_LIMIT, NOT_GIVEN)
            ).parse()
        except TriggerOutcomeUnknownError:
            raise
        except APIError as lookup_error:
            raise unknown(
                f"{what} failed after the request may have reached dbt Cloud ({error}), and "
                f"looking for the run failed too ({lookup_error}); check the job's recent "
                "runs before trying again"
            ) from error
        known = set(c._triggered)
        candidates = [run for run in page.items if run.id not in known and matches(run)]
        if len(candidates) == 1:
            run = candidates[0]
            logger.warning("found run %d: %s had reached dbt", run.id, what)
            envelope = {"status": _SUCCESS_STATUS, "data": dict(run.raw)}
            return RawResponse(
                status_code=200,
                headers={"content-type": _JSON},
                content=json.dumps(envelope).encode(),
                parse=lambda _raw: run,
                retries=error.retries,
                reconciled=True,
            )
        if candidates:
            ids = tuple(run.id for run in candidates)
            raise unknown(
                f"{what} failed after the request may have reached dbt Cloud ({error}); runs "
                f"{', '.join(map(str, ids))} all match ({matching}), so the client cannot tell "
                f"which (if any) is this request's; {how}",
                candidate_run_ids=ids,
            ) from error
        raise unknown(
            f"{what} failed after the request may have reached dbt Cloud ({error}), and no "
            f"run {matching} has appeared yet; the run may still appear: {how}"
        ) from error

    async def cancel_run(
        self, run_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> RawResponse[Run]:
        """`cancel_run`, raw."""
        c = self._client
        acct = c._account(account_id)
        rid = _params.require_id(run_id, "run_id")
        response, retries = await c._request(
            "POST", f"/accounts/{acct}/runs/{rid}/cancel/", kind=Kind.IDEMPOTENT, timeout=timeout
        )
        return c._raw_response(response, retries, _parse_run)

    async def retry_run(
        self, run_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> RawResponse[Run]:
        """`retry_run`, raw."""
        c = self._client
        acct = c._account(account_id)
        rid = _params.require_id(run_id, "run_id")
        attempted_at = c._wall_clock()
        try:
            response, retries = await c._request(
                "POST",
                f"/accounts/{acct}/runs/{rid}/retry/",
                kind=Kind.CREATES_RUN,
                timeout=timeout,
            )
        except APIError as exc:
            if not is_ambiguous(exc):
                raise
            raw = await self._reconcile(
                acct,
                None,
                lambda run: run.retrying_run_id == rid,
                attempted_at,
                exc,
                what=f"retrying run {rid}",
                matching=f"retrying run {rid}",
                cause=None,
                run_id=rid,
            )
            c._triggered.append(raw.parse().id)
            return raw
        raw = c._raw_response(response, retries, _parse_run)
        c._triggered.append(raw.parse().id)
        return raw

    async def list_run_artifacts(
        self, run_id: int, *, account_id: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> RawResponse[list[str]]:
        """`list_run_artifacts`, raw."""
        c = self._client
        acct = c._account(account_id)
        rid = _params.require_id(run_id, "run_id")
        response, retries = await c._request(
            "GET",
            f"/accounts/{acct}/runs/{rid}/artifacts/",
            kind=Kind.IDEMPOTENT,
            timeout=timeout,
        )
        return c._raw_response(response, retries, _parse_paths)

    async def get_run_artifact(
        self,
        run_id: int,
        path: str,
        *,
        step: int | None = None,
        account_id: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> RawResponse[bytes]:
        """`get_run_artifact`, raw (`parse()` gives the bytes)."""
        c = self._client
        acct = c._account(account_id)
        rid = _params.require_id(run_id, "run_id")
        quoted = _params.artifact_path(path)
        try:
            response, retries = await c._request(
                "GET",
                f"/accounts/{acct}/runs/{rid}/artifacts/{quoted}",
                kind=Kind.IDEMPOTENT,
                params=_params.step_param(step),
                timeout=timeout,
                accept="*/*",
            )
        except NotFoundError as exc:
            raise _artifact_not_found(exc, rid, path, step) from None
        return c._raw_response(response, retries, _parse_bytes)


# -- parsing ---------------------------------------------------------------------------------


def _download_target(dest: Path, path: str) -> Path:
    if dest.is_dir():
        dest = dest / _params.artifact_path(path).rsplit("/", 1)[-1]
    if not dest.parent.is_dir():
        raise InvalidArgumentError(f"cannot write to {str(dest)!r}: its folder does not exist")
    return dest


def _validation_error(raw: RawResponse[Any], message: str) -> APIResponseValidationError:
    return APIResponseValidationError(message, status_code=raw.status_code, content=raw.content)


def _envelope(raw: RawResponse[Any], what: str) -> Mapping[str, Any]:
    try:
        body = raw.json()
    except ValueError:
        preview = raw.content[:80].decode("utf-8", errors="replace")
        raise _validation_error(
            raw, f"dbt Cloud answered {raw.status_code} with a {what} that is not JSON: {preview!r}"
        ) from None
    if not isinstance(body, dict) or "data" not in body:
        raise _validation_error(raw, f"dbt Cloud sent a {what} without its 'data' envelope")
    return body


def _parse_run(raw: RawResponse[Any]) -> Run:
    data = _envelope(raw, "run")["data"]
    try:
        return structure(data, Run)
    except Exception as exc:
        raise _validation_error(raw, validation_message(exc, "run")) from exc


def _parse_page(raw: RawResponse[Any], *, offset: int, limit: int) -> RunPage:
    body = _envelope(raw, "run list")
    data = body["data"]
    if data is None:
        data = []
    if not isinstance(data, list):
        raise _validation_error(raw, "dbt Cloud sent a run list whose 'data' is not a list")
    try:
        items = tuple(structure(item, Run) for item in data)
    except Exception as exc:
        raise _validation_error(raw, validation_message(exc, "run list")) from exc
    extra = _params.mapping_or_empty(body.get("extra"))
    pagination = _params.mapping_or_empty(extra.get("pagination"))
    total = pagination.get("total_count")
    count = pagination.get("count")
    order_by = extra.get("order_by")
    filters = extra.get("filters")
    return RunPage(
        items=items,
        total_count=total if isinstance(total, int) and not isinstance(total, bool) else None,
        count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        offset=offset,
        limit=limit,
        order_by=order_by if isinstance(order_by, str) else None,
        filters=filters if isinstance(filters, Mapping) else None,
        raw=body,
    )


def _parse_paths(raw: RawResponse[Any]) -> list[str]:
    data = _envelope(raw, "artifact list")["data"]
    if data is None:
        # dbt sends `data: null` for a run without artifacts.
        return []
    if not isinstance(data, list) or not all(isinstance(p, str) for p in data):
        raise _validation_error(raw, "dbt Cloud sent an artifact list that is not a list of paths")
    return list(data)


def _parse_bytes(raw: RawResponse[Any]) -> bytes:
    return raw.content


def _artifact_not_found(
    exc: NotFoundError, run_id: int, path: str, step: int | None
) -> ArtifactNotFoundError:
    where = f"step {step}" if step is not None else "its last step"
    error = ArtifactNotFoundError(
        f"run {run_id} has no artifact {path!r} for {where}: the run did not produce it, or "
        f"it is not uploaded yet ({exc.message})",
        status_code=exc.status_code,
        headers=exc.headers,
        content=exc.content,
        body=exc.body,
    )
    error.run_id = run_id
    error.path = path
    error.step = step
    error.retries = exc.retries
    return error


def _same_trigger(run: Run, body: Mapping[str, Any]) -> bool:
    trigger = run.trigger
    if trigger is None or trigger.cause != body["cause"]:
        return False
    echoed = trigger.raw
    for name, sent in body.items():
        if name == "cause" or name not in echoed or echoed[name] is None:
            continue
        if echoed[name] != sent:
            return False
    return True


async def _call(callback: RunCallback, run: Run) -> None:
    result = callback(run)
    if inspect.isawaitable(result):
        await result


def _finish(run: Run, raise_on_failure: bool) -> Run:
    if not raise_on_failure:
        return run
    failed = run.status is RunStatus.ERROR or (
        run.status is not None and not run.status.is_known and bool(run.is_error)
    )
    if failed:
        raise RunFailedError(f"run {run.id}{_of_job(run)} failed{_detail(run)}", run=run)
    cancelled = run.status is RunStatus.CANCELLED or (
        run.status is not None and not run.status.is_known and bool(run.is_cancelled)
    )
    if cancelled:
        raise RunCancelledError(f"run {run.id}{_of_job(run)} was cancelled{_detail(run)}", run=run)
    return run


def _of_job(run: Run) -> str:
    return f" of job {run.job_definition_id}" if run.job_definition_id is not None else ""


def _detail(run: Run) -> str:
    # dbt's own reason when it gives one, and where to read the logs.
    detail = f": {run.status_message}" if run.status_message else ""
    return f"{detail} ({run.href})" if run.href else detail
