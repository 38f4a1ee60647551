"""Reading dbt's 2xx bodies into typed results: envelope checks and one parser per result.

A body that does not have the documented shape raises `APIResponseValidationError`, never a
decode error: a gateway can answer 200 with an HTML page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from dbt_runs._converter import structure, structure_many, validation_message
from dbt_runs._operations import Result
from dbt_runs._response import RawResponse
from dbt_runs.errors import APIResponseValidationError
from dbt_runs.models import Job, JobPage, Page, Run, RunPage

__all__ = ["PARSERS", "parse_job_page", "parse_page", "validation_error"]

PageT = TypeVar("PageT", bound=Page[Any])
ModelT = TypeVar("ModelT")


def validation_error(raw: RawResponse[Any], message: str) -> APIResponseValidationError:
    """The error for a 2xx body that is not what dbt documents."""
    return APIResponseValidationError(message, status_code=raw.status_code, content=raw.content)


def envelope(raw: RawResponse[Any], what: str) -> Mapping[str, Any]:
    """The decoded `{"status": ..., "data": ...}` body, or `APIResponseValidationError`."""
    try:
        body = raw.json()
    except (ValueError, RecursionError):
        preview = raw.content[:80].decode("utf-8", errors="replace")
        raise validation_error(
            raw, f"dbt Cloud answered {raw.status_code} with a {what} that is not JSON: {preview!r}"
        ) from None
    if not isinstance(body, dict) or "data" not in body:
        raise validation_error(raw, f"dbt Cloud sent a {what} without its 'data' envelope")
    return body


def parse_run(raw: RawResponse[Any]) -> Run:
    """One run."""
    return _one(raw, Run, "run")


def parse_job(raw: RawResponse[Any]) -> Job:
    """One job."""
    return _one(raw, Job, "job")


def _one(raw: RawResponse[Any], model: type[ModelT], what: str) -> ModelT:
    data = envelope(raw, what)["data"]
    try:
        return structure(data, model)
    except Exception as exc:
        raise validation_error(raw, validation_message(exc, what)) from exc


def parse_page(raw: RawResponse[Any], *, offset: int, limit: int) -> RunPage:
    """A page of runs, asked for at `offset` with `limit`."""
    return _page(raw, RunPage, Run, "run", offset=offset, limit=limit)


def parse_job_page(raw: RawResponse[Any], *, offset: int, limit: int) -> JobPage:
    """A page of jobs, asked for at `offset` with `limit`."""
    return _page(raw, JobPage, Job, "job", offset=offset, limit=limit)


def _page(
    raw: RawResponse[Any],
    page: type[PageT],
    item: type[Any],
    what: str,
    *,
    offset: int,
    limit: int,
) -> PageT:
    body = envelope(raw, f"{what} list")
    data = body["data"]
    if data is None:
        data = []
    if not isinstance(data, list):
        raise validation_error(raw, f"dbt Cloud sent a {what} list whose 'data' is not a list")
    try:
        items = structure_many(data, item)
    except Exception as exc:
        raise validation_error(raw, validation_message(exc, f"{what} list")) from exc
    extra = _mapping(body.get("extra"))
    pagination = _mapping(extra.get("pagination"))
    order_by = extra.get("order_by")
    filters = extra.get("filters")
    return page(
        items=items,
        total_count=_count(pagination.get("total_count")),
        count=_count(pagination.get("count")),
        offset=offset,
        limit=limit,
        order_by=order_by if isinstance(order_by, str) else None,
        filters=filters if isinstance(filters, Mapping) else None,
        raw=body,
    )


def parse_paths(raw: RawResponse[Any]) -> list[str]:
    """A run's artifact paths; `[]` for dbt's `data: null` (a run without artifacts)."""
    data = envelope(raw, "artifact list")["data"]
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(p, str) for p in data):
        raise validation_error(raw, "dbt Cloud sent an artifact list that is not a list of paths")
    return list(data)


def parse_bytes(raw: RawResponse[Any]) -> bytes:
    """An artifact's bytes, as received."""
    return raw.content


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


PARSERS: Final[Mapping[Result, Callable[[RawResponse[Any]], Any]]] = {
    Result.RUN: parse_run,
    Result.JOB: parse_job,
    Result.ARTIFACT_PATHS: parse_paths,
    Result.ARTIFACT: parse_bytes,
}
"""The parser of each result but the pages, whose parsers also need the page's position."""
