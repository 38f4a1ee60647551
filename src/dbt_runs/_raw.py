"""`client.with_raw_response`: every operation again, returning dbt's response as received.

The pattern is openai-python's (`_response.py`, `to_raw_response_wrapper`): each typed method
is written once, and raw mode wraps it, keeping its signature. The wrapper asks the typed
method's one send (`AsyncRunsClient._call`) for the `RawResponse` instead of the parsed value
through a context variable, the way openai-python passes a header; the typed method is none
the wiser. Only the outermost operation takes the request (`take_raw_mode`), so the requests
an operation makes on its own behalf (reconciling a trigger, say) are parsed as usual.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from dbt_runs._response import RawResponse

if TYPE_CHECKING:
    from dbt_runs._client import AsyncRunsClient

__all__ = ["RawRunsClient", "take_raw_mode", "to_raw_response_wrapper"]

P = ParamSpec("P")
R = TypeVar("R")

_RAW_MODE: contextvars.ContextVar[bool] = contextvars.ContextVar("dbt_runs_raw", default=False)


def take_raw_mode() -> bool:
    """Whether the caller asked for a raw response; the request is consumed, so that the
    operations this one makes on its own behalf answer normally."""
    if not _RAW_MODE.get():
        return False
    _RAW_MODE.set(False)
    return True


def to_raw_response_wrapper(
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[RawResponse[R]]]:
    """Wrap a typed operation so that it returns the `RawResponse` it parsed its result from.

    `func` may be a coroutine function or, like `list_runs`, return an awaitable (the raw
    mode then returns its first page).
    """

    @functools.wraps(func)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> RawResponse[R]:
        token = _RAW_MODE.set(True)
        try:
            result: Any = await func(*args, **kwargs)
        finally:
            _RAW_MODE.reset(token)
        if not isinstance(result, RawResponse):  # pragma: no cover - a wiring mistake
            raise TypeError(f"{func.__qualname__} does not support the raw mode")
        return cast(RawResponse[R], result)

    return wrapped


class RawRunsClient:
    """`client.with_raw_response`: the client's operations, returning `RawResponse`.

    Each attribute takes exactly the arguments of the method of the same name; `list_runs`
    returns one page. Errors raise the same exceptions as the typed methods.

    Example:
        >>> raw = await client.with_raw_response.get_run(42)
        >>> raw.status_code, raw.headers["content-type"], raw.parse().status
    """

    def __init__(self, client: AsyncRunsClient) -> None:
        self.get_run = to_raw_response_wrapper(client.get_run)
        self.list_runs = to_raw_response_wrapper(client.list_runs)
        self.trigger_run = to_raw_response_wrapper(client.trigger_run)
        self.cancel_run = to_raw_response_wrapper(client.cancel_run)
        self.retry_run = to_raw_response_wrapper(client.retry_run)
        self.list_run_artifacts = to_raw_response_wrapper(client.list_run_artifacts)
        self.get_run_artifact = to_raw_response_wrapper(client.get_run_artifact)
        self.rerun_job = to_raw_response_wrapper(client.rerun_job)
        self.list_jobs = to_raw_response_wrapper(client.list_jobs)
        self.get_job = to_raw_response_wrapper(client.get_job)
        self.get_job_artifact = to_raw_response_wrapper(client.get_job_artifact)
