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

from typing import TYPE_CHECKING

from dbt_runs._version import __version__

if TYPE_CHECKING:
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
else:
    import importlib
    import importlib.util

    # `import dbt_runs` imports nothing else: each name loads its module on first use, so
    # that `dbt-runs --help`, a `dbt_runs.errors` import or the pytest plugin does not pay
    # for httpx, cattrs and tenacity (most of a cold start) before it needs them.
    _LAZY = {
        "APIConnectionError": "dbt_runs.errors",
        "APIError": "dbt_runs.errors",
        "APIResponseValidationError": "dbt_runs.errors",
        "APIStatusError": "dbt_runs.errors",
        "APITimeoutError": "dbt_runs.errors",
        "ArtifactNotFoundError": "dbt_runs.errors",
        "ArtifactStream": "dbt_runs._artifacts",
        "ArtifactWriteError": "dbt_runs.errors",
        "AsyncRunsClient": "dbt_runs._client",
        "AuthenticationError": "dbt_runs.errors",
        "BadRequestError": "dbt_runs.errors",
        "ConfigurationError": "dbt_runs.errors",
        "ConflictError": "dbt_runs.errors",
        "DEFAULT_BASE_URL": "dbt_runs._config",
        "DbtRunsError": "dbt_runs.errors",
        "FreshnessResult": "dbt_runs.models",
        "InternalServerError": "dbt_runs.errors",
        "InvalidArgumentError": "dbt_runs.errors",
        "Job": "dbt_runs.models",
        "JobLookupError": "dbt_runs.errors",
        "JobPage": "dbt_runs.models",
        "JobPaginator": "dbt_runs.pagination",
        "LogLines": "dbt_runs._logs",
        "NOT_GIVEN": "dbt_runs._config",
        "NodeResult": "dbt_runs.models",
        "NotFoundError": "dbt_runs.errors",
        "NotGiven": "dbt_runs._config",
        "PermissionDeniedError": "dbt_runs.errors",
        "RateBudget": "dbt_runs._budget",
        "RateLimitError": "dbt_runs.errors",
        "RawResponse": "dbt_runs._response",
        "RawRunsClient": "dbt_runs._raw",
        "RetryPolicy": "dbt_runs._retry",
        "Run": "dbt_runs.models",
        "RunCancelledError": "dbt_runs.errors",
        "RunErrors": "dbt_runs.models",
        "RunFailedError": "dbt_runs.errors",
        "RunInProgressError": "dbt_runs.errors",
        "RunPage": "dbt_runs.models",
        "RunPaginator": "dbt_runs.pagination",
        "RunStatus": "dbt_runs.models",
        "RunStep": "dbt_runs.models",
        "RunTrigger": "dbt_runs.models",
        "RunsClient": "dbt_runs._sync",
        "StepFailure": "dbt_runs.models",
        "SyncArtifactStream": "dbt_runs._sync",
        "SyncJobPaginator": "dbt_runs._sync",
        "SyncRawRunsClient": "dbt_runs._sync",
        "SyncRunPaginator": "dbt_runs._sync",
        "Timeout": "dbt_runs._config",
        "TriggerOutcomeUnknownError": "dbt_runs.errors",
        "UnprocessableEntityError": "dbt_runs.errors",
        "WaitError": "dbt_runs.errors",
        "WaitTimeoutError": "dbt_runs.errors",
        "WebhookError": "dbt_runs.errors",
        "WebhookPayloadError": "dbt_runs.errors",
        "WebhookSignatureError": "dbt_runs.errors",
        "asgi_http_client": "dbt_runs._http",
    }

    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
            globals()[name] = value  # looked up once
            return value
        # `import dbt_runs` used to import every core module, so `dbt_runs.models.Run` worked
        # without importing `dbt_runs.models`: it still does.
        if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}"):
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})


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
