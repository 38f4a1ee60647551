"""dbt-runs: a typed Python SDK for dbt Cloud job runs, async (`AsyncRunsClient`) and sync
(`RunsClient`).

Example:
    >>> from dbt_runs import AsyncRunsClient, RunsClient
    >>> async with AsyncRunsClient(account_id=1) as client:   # token from DBT_API_KEY
    ...     run = await client.trigger_run(42, cause="Nightly refresh")
    ...     run = await client.wait_for_run(run)
    >>> with RunsClient(account_id=1) as client:              # the same, synchronously
    ...     run = client.trigger_run(42, cause="Nightly refresh")
    ...     run = client.wait_for_run(run)
"""

from dbt_runs._artifacts import ArtifactStream
from dbt_runs._budget import RateBudget
from dbt_runs._client import AsyncRunsClient
from dbt_runs._config import DEFAULT_BASE_URL, NOT_GIVEN, NotGiven, Timeout
from dbt_runs._http import asgi_http_client
from dbt_runs._logs import LogLines
from dbt_runs._raw import RawRunsClient
from dbt_runs._response import RawResponse
from dbt_runs._retry import RetryPolicy
from dbt_runs._sync import (
    RunsClient,
    SyncArtifactStream,
    SyncJobPaginator,
    SyncRawRunsClient,
    SyncRunPaginator,
)
from dbt_runs._version import __version__
from dbt_runs.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ArtifactNotFoundError,
    ArtifactWriteError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    DbtRunsError,
    InternalServerError,
    InvalidArgumentError,
    JobLookupError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RunCancelledError,
    RunFailedError,
    RunInProgressError,
    TriggerOutcomeUnknownError,
    UnprocessableEntityError,
    WaitError,
    WaitTimeoutError,
    WebhookError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from dbt_runs.models import (
    FreshnessResult,
    Job,
    JobPage,
    NodeResult,
    Run,
    RunErrors,
    RunPage,
    RunStatus,
    RunStep,
    RunTrigger,
    StepFailure,
)
from dbt_runs.pagination import JobPaginator, RunPaginator

# Plain sorted() order (what tests/test_package.py guards), not isort-style.
__all__ = [  # noqa: RUF022
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "ArtifactNotFoundError",
    "ArtifactStream",
    "ArtifactWriteError",
    "AsyncRunsClient",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "DEFAULT_BASE_URL",
    "DbtRunsError",
    "FreshnessResult",
    "InternalServerError",
    "InvalidArgumentError",
    "Job",
    "JobLookupError",
    "JobPage",
    "JobPaginator",
    "LogLines",
    "NOT_GIVEN",
    "NodeResult",
    "NotFoundError",
    "NotGiven",
    "PermissionDeniedError",
    "RateBudget",
    "RateLimitError",
    "RawResponse",
    "RawRunsClient",
    "RetryPolicy",
    "Run",
    "RunCancelledError",
    "RunErrors",
    "RunFailedError",
    "RunInProgressError",
    "RunPage",
    "RunPaginator",
    "RunStatus",
    "RunStep",
    "RunTrigger",
    "RunsClient",
    "StepFailure",
    "SyncArtifactStream",
    "SyncJobPaginator",
    "SyncRawRunsClient",
    "SyncRunPaginator",
    "Timeout",
    "TriggerOutcomeUnknownError",
    "UnprocessableEntityError",
    "WaitError",
    "WaitTimeoutError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "__version__",
    "asgi_http_client",
]
