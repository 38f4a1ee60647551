"""Every exception dbt-runs raises, in one tree.

```
DbtRunsError                          root: `except DbtRunsError` catches everything below
├── ConfigurationError (ValueError)   missing token, malformed base URL or account id
├── InvalidArgumentError (ValueError) an argument the client rejects before sending anything
├── ArtifactWriteError (OSError)      a downloaded artifact could not be written to disk
├── JobLookupError (LookupError)      no job, or several, answer to a name
├── RunInProgressError                trigger(if_running="fail"): the job already has a run going
├── WebhookError                      a delivery of dbt Cloud's webhooks cannot be accepted
│   ├── WebhookSignatureError         no, garbled or wrong signature (`Authorization`)
│   └── WebhookPayloadError (ValueError)   a signed body that is not a run event dbt documents
├── APIError                          talking to dbt Cloud failed
│   ├── APIConnectionError            no usable response (DNS, refused, reset, protocol error)
│   │   └── APITimeoutError (TimeoutError)   a connect, read, write or total timeout
│   ├── APIResponseValidationError    a 2xx body that is not what dbt's API documents
│   ├── TriggerOutcomeUnknownError    a trigger/retry POST may or may not have started a run
│   └── APIStatusError                dbt answered with a non-2xx status
│       ├── BadRequestError                400
│       ├── AuthenticationError            401
│       ├── PermissionDeniedError          403
│       ├── NotFoundError                  404
│       │   └── ArtifactNotFoundError      404 for a run artifact that was not produced
│       ├── ConflictError                  409
│       ├── UnprocessableEntityError       422
│       ├── RateLimitError                 429 (`retry_after`)
│       └── InternalServerError            5xx
└── WaitError                         `wait_for_run` ended without a successful run (`run`)
    ├── RunFailedError                the run finished with status Error (20)
    ├── RunCancelledError             the run was cancelled (30), by a user or a dbt timeout
    └── WaitTimeoutError (TimeoutError)   the run did not finish before the wait's deadline
```

Other statuses (405, 410, ...) raise `APIStatusError` itself. Messages come from dbt's body:
`status.user_message`, then `detail`, then a short piece of the text; an HTML or empty body
gives a short readable message instead of a decode error. The API token never appears in a
message: the client never puts headers or credentials into exceptions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from dbt_runs.models import Run

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "ArtifactNotFoundError",
    "ArtifactWriteError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "DbtRunsError",
    "InternalServerError",
    "InvalidArgumentError",
    "JobLookupError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RunCancelledError",
    "RunFailedError",
    "RunInProgressError",
    "TriggerOutcomeUnknownError",
    "UnprocessableEntityError",
    "WaitError",
    "WaitTimeoutError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookSignatureError",
]


class DbtRunsError(Exception):
    """The root of every exception raised by dbt-runs."""


class ConfigurationError(DbtRunsError, ValueError):
    """The client's configuration is unusable (no token, malformed base URL or account id)."""


class InvalidArgumentError(DbtRunsError, ValueError):
    """An argument was rejected before any request was sent.

    Examples: an empty or 256-character `cause`, `limit=500`, a negative `offset`.

    Attributes:
        argument: The name of the refused argument, when one argument is to blame.
    """

    def __init__(self, message: str, *, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


class ArtifactWriteError(DbtRunsError, OSError):
    """A downloaded artifact could not be written: no such folder, a name too long for the
    file system, no permission, no space left.

    It is also an `OSError`, with `errno` and `filename` set.
    """

    def __init__(self, message: str, errno: int, filename: str) -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno
        self.filename = filename

    def __str__(self) -> str:
        return self.message


class JobLookupError(DbtRunsError, LookupError):
    """`find_job` found no job with that name, or several (then `job_ids` lists them).

    Attributes:
        name: The name looked for.
        job_ids: The jobs that answer to it (empty: none does).
    """

    def __init__(self, message: str, *, name: str, job_ids: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.job_ids = job_ids


class RunInProgressError(DbtRunsError):
    """`trigger_run(..., if_running="fail")`: the job already has a run queued or running.

    Nothing was triggered.

    Attributes:
        run: That run.
    """

    def __init__(self, message: str, *, run: Run) -> None:
        super().__init__(message)
        self.run = run


class WebhookError(DbtRunsError):
    """A webhook delivery from dbt Cloud cannot be accepted (see `dbt_runs.webhooks`).

    Messages say what is wrong with the delivery; they never contain the secret, the
    signature that was expected, or the header value that was presented.
    """


class WebhookSignatureError(WebhookError):
    """The delivery's `Authorization` header is missing, is not a hex HMAC-SHA256 digest, or
    does not match the body for the secret: it did not come from dbt Cloud (with this
    secret), or a proxy changed the body or dropped the header on the way.

    A receiver answers 401 and ignores the body.
    """


class WebhookPayloadError(WebhookError, ValueError):
    """A correctly signed body that is not one of dbt's run events: not JSON, not an
    object, or a field the event cannot do without (`eventId`, `eventType`, `accountId`,
    `data.jobId`, `data.runId`) missing or of the wrong kind.

    Fields dbt may add never cause it: unknown fields are kept in `RunEvent.raw`.

    Attributes:
        field: Where the problem is (`data.runId`), or None for the body as a whole.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class APIError(DbtRunsError):
    """A request to dbt Cloud failed.

    Attributes:
        retries: How many retries the client took before giving up (0 when it did not retry).
    """

    retries: int = 0

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIConnectionError(APIError):
    """No usable response arrived: DNS failure, refused or reset connection, protocol error.

    Attributes:
        request_sent: False when the failure happened before the request could reach dbt
            (connect phase); True when dbt may have received and acted on it.
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError, TimeoutError):
    """A request timed out (connect, read, write, connection pool, or the call's total)."""


class APIResponseValidationError(APIError):
    """dbt answered 2xx with a body that does not have the documented shape.

    Attributes:
        status_code: The HTTP status.
        content: The body bytes exactly as received.
    """

    def __init__(self, message: str, *, status_code: int, content: bytes) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.content = content


class TriggerOutcomeUnknownError(APIError):
    """A trigger, retry or rerun POST failed in a way that may still have started a run.

    The client never sends such a POST twice. It looked for the run it may have started
    (by the marker in a trigger's cause) and could not prove that one was started: none
    appeared in time, or the request carried no marker to prove it by. Check the job's
    recent runs in dbt Cloud (or `list_runs(job_definition_id=..., order_by="-id")`)
    before triggering again.

    Attributes:
        job_id: The job that was being triggered (None when unknown).
        cause: The cause that was sent, marker included (None for a retry or rerun).
        marker: The marker in that cause (`[dbt-runs:...]`), to search dbt Cloud for.
        attempted_at: When the POST was sent (UTC, the client's clock).
        candidate_run_ids: Runs that could be the one, when the request could not be proven.
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: int | None,
        cause: str | None,
        attempted_at: datetime | None,
        candidate_run_ids: tuple[int, ...] = (),
        marker: str | None = None,
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.cause = cause
        self.marker = marker
        self.attempted_at = attempted_at
        self.candidate_run_ids = candidate_run_ids


class APIStatusError(APIError):
    """dbt Cloud answered with a non-2xx status.

    Attributes:
        status_code: The HTTP status.
        headers: The response headers (case-insensitive).
        content: The body bytes exactly as received (adapters pass them through unchanged).
        body: The decoded JSON body, or None when the body was not JSON.
        message: A readable message: dbt's `status.user_message`, then `detail`, then text.
        retry_after: Seconds the server asked to wait (`Retry-After`, on a 429 or a 503),
            or None.
    """

    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes,
        body: Any,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.body = body

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status_code})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(APIStatusError):
    """400: dbt rejected the request; `body["data"]` usually maps fields to messages."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, wrong, or used on the wrong regional or cell host."""


class PermissionDeniedError(APIStatusError):
    """403: the token is not scoped to this account, lacks permission, or an IP rule denied it."""


class NotFoundError(APIStatusError):
    """404: the run (or other resource) does not exist, or the token cannot see it."""


class ArtifactNotFoundError(NotFoundError):
    """404 for an artifact: the run did not produce it (for this step), or not yet; or the
    job has no successful run that did.

    Attributes:
        run_id: The run (None for a job's artifact).
        job_id: The job (for a job's artifact).
        path: The artifact path that was asked for.
        step: The step asked for (None: the last step).
    """

    run_id: int | None = None
    job_id: int | None = None
    path: str | None = None
    step: int | None = None


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's current state."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well formed but dbt could not process it."""


class RateLimitError(APIStatusError):
    """429: the account's request budget is spent (dbt enforces a cooldown).

    `retry_after` holds the seconds dbt asked to wait (from `Retry-After`), or None. The
    client raises this instead of sleeping when that wait exceeds the retry policy's
    `max_retry_after`.
    """


class InternalServerError(APIStatusError):
    """5xx: dbt Cloud or a gateway in front of it failed."""


class WaitError(DbtRunsError):
    """`wait_for_run` ended without a successful run.

    Attributes:
        run: The last `Run` seen (None when the run was never seen, e.g. it stayed 404).
    """

    def __init__(self, message: str, *, run: Run | None) -> None:
        super().__init__(message)
        self.message = message
        self.run = run


class RunFailedError(WaitError):
    """The run finished with status Error (20); `run.status_message` often says why."""


class RunCancelledError(WaitError):
    """The run was cancelled (30): by a user, by the API, or by dbt's own job timeout."""


class WaitTimeoutError(WaitError, TimeoutError):
    """The run was not finished when the wait's deadline passed (checked once more at it).

    Attributes:
        cancelled: True when the client cancelled the run because `cancel_on_timeout` was set.
    """

    def __init__(self, message: str, *, run: Run | None, cancelled: bool = False) -> None:
        super().__init__(message, run=run)
        self.cancelled = cancelled


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_ERRORS.get(status_code, APIStatusError)


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_MAX_TEXT = 200


def _short_text(content: bytes) -> str:
    text = content.decode("utf-8", errors="replace")
    if "<" in text and ">" in text:
        # An HTML page from a gateway: its <title> says what happened; the rest is markup.
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        text = title.group(1) if title else _TAG.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 3] + "..."
    return text


def _field_errors(data: Any) -> str:
    if not isinstance(data, Mapping) or not data:
        return ""
    parts = []
    for field, problem in list(data.items())[:5]:
        if isinstance(problem, list):
            problem = "; ".join(str(p) for p in problem)
        parts.append(f"{field}: {problem}")
    return " (" + ", ".join(parts) + ")"


def decode_error_body(content: bytes) -> Any:
    """The JSON value of an error body, or None when it is empty or not JSON."""
    if not content or content.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def error_message(status_code: int, reason: str, body: Any, content: bytes) -> str:
    """A readable message for an error response (never raises, never echoes credentials)."""
    if isinstance(body, Mapping):
        status = body.get("status")
        if isinstance(status, Mapping):
            user_message = status.get("user_message")
            if isinstance(user_message, str) and user_message.strip():
                extra = _field_errors(body.get("data")) if status_code == 400 else ""
                return user_message.strip() + extra
        detail = body.get("detail")
        if isinstance(detail, str) and detail.strip():
            return detail.strip()
    text = _short_text(content) if content else ""
    label = f"dbt Cloud answered {status_code} {reason}".rstrip()
    if not text:
        return f"{label} with an empty body"
    if body is None and content.lstrip()[:1] == b"<":
        return f"{label} (an HTML page, not JSON: {text!r})"
    return f"{label}: {text}"
