"""Argument checks and wire encoding: nothing reaches dbt that dbt would reject as malformed.

List-valued filters go as one parameter holding a compact JSON list (`status__in=[10,20]`),
the form dbt validates against its schema (reference section 3.2). `include_related` goes
comma-separated, the form most clients use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from dbt_runs._config import check_id
from dbt_runs.errors import InvalidArgumentError
from dbt_runs.models import RunStatus

__all__ = [
    "DEFAULT_CAUSE",
    "MAX_LIMIT",
    "artifact_path",
    "include_related_param",
    "list_runs_params",
    "trigger_body",
]

DEFAULT_CAUSE: Final = "Triggered via dbt-runs"
MAX_CAUSE: Final = 255
MAX_LIMIT: Final = 100
# Ordered as dbt documents them; the REST adapter and its OpenAPI document list them too.
ORDER_FIELDS: Final = ("id", "created_at", "finished_at")
RUN_RELATED: Final = (
    "trigger",
    "job",
    "environment",
    "repository",
    "run_steps",
    "run_retries",
    "used_repo_cache",
    "repo_cache_restore",
    "audit",
    "debug_logs",
)
LIST_RELATED: Final = ("trigger", "job", "audit", "debug_logs")
_STATUS_NAMES: Final = {status.name.lower(): status for status in RunStatus}


def require_id(value: object, name: str) -> int:
    """A positive integer id, or an `InvalidArgumentError` naming the argument."""
    return check_id(value, name, error=InvalidArgumentError)


def _json_list(values: Iterable[Any]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidArgumentError(f"{name} must not be empty (omit it to leave it unset)")
    return value


def check_int(value: object, name: str, *, minimum: int) -> int:
    """An integer (not a bool) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_cause(cause: object) -> str:
    """A cause dbt accepts: a non-blank string of 1 to 255 characters."""
    text = _text(cause, "cause")
    if len(text) > MAX_CAUSE:
        raise InvalidArgumentError(
            f"cause must be at most {MAX_CAUSE} characters (dbt rejects longer ones), "
            f"got {len(text)}"
        )
    return text


def trigger_body(
    cause: object,
    *,
    git_branch: object = None,
    git_sha: object = None,
    schema_override: object = None,
    dbt_version_override: object = None,
    threads_override: object = None,
    target_name_override: object = None,
    generate_docs_override: object = None,
    timeout_seconds_override: object = None,
    steps_override: object = None,
    github_pull_request_id: object = None,
    gitlab_merge_request_id: object = None,
    azure_pull_request_id: object = None,
    non_native_pull_request_id: object = None,
) -> dict[str, Any]:
    """The trigger request body; fields left as None are omitted (dbt rejects empty ones)."""
    body: dict[str, Any] = {"cause": check_cause(cause)}
    texts = {
        "git_branch": git_branch,
        "git_sha": git_sha,
        "schema_override": schema_override,
        "dbt_version_override": dbt_version_override,
        "target_name_override": target_name_override,
    }
    for name, value in texts.items():
        if value is not None:
            body[name] = _text(value, name)
    counts = {
        "threads_override": (threads_override, 1),
        "timeout_seconds_override": (timeout_seconds_override, 0),
        "github_pull_request_id": (github_pull_request_id, 1),
        "gitlab_merge_request_id": (gitlab_merge_request_id, 1),
        "azure_pull_request_id": (azure_pull_request_id, 1),
        "non_native_pull_request_id": (non_native_pull_request_id, 1),
    }
    for name, (value, minimum) in counts.items():
        if value is not None:
            body[name] = check_int(value, name, minimum=minimum)
    if generate_docs_override is not None:
        if not isinstance(generate_docs_override, bool):
            raise InvalidArgumentError(
                f"generate_docs_override must be True or False, got {generate_docs_override!r}"
            )
        body["generate_docs_override"] = generate_docs_override
    if steps_override is not None:
        if isinstance(steps_override, str | bytes) or not isinstance(steps_override, Iterable):
            raise InvalidArgumentError(
                "steps_override must be a list of dbt commands, e.g. ['dbt build'], "
                f"not {type(steps_override).__name__}"
            )
        steps = [_text(step, "each steps_override entry") for step in steps_override]
        if not steps:
            raise InvalidArgumentError("steps_override must hold at least one command")
        body["steps_override"] = steps
    return body


def _statuses(status: object) -> list[int]:
    values = [status] if isinstance(status, int | str) else status
    if not isinstance(values, Iterable):
        raise InvalidArgumentError(
            f"status must be a RunStatus, a status code or name, or a list of them; got {status!r}"
        )
    codes: list[int] = []
    for value in values:
        if isinstance(value, RunStatus):
            codes.append(int(value))
        elif isinstance(value, str) and value.strip().lower() in _STATUS_NAMES:
            codes.append(int(_STATUS_NAMES[value.strip().lower()]))
        elif isinstance(value, int) and not isinstance(value, bool) and RunStatus(value).is_known:
            codes.append(value)
        else:
            names = ", ".join(_STATUS_NAMES)
            raise InvalidArgumentError(
                f"unknown run status {value!r}: use a RunStatus, a code (1, 2, 3, 10, 20, 30) "
                f"or a name ({names})"
            )
    if not codes:
        raise InvalidArgumentError("status must name at least one status")
    return codes


def _ids(value: object, name: str) -> list[int]:
    if isinstance(value, int):
        return [require_id(value, name)]
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidArgumentError(f"{name} must be an id or a list of ids, got {value!r}")
    ids = [require_id(item, name) for item in value]
    if not ids:
        raise InvalidArgumentError(f"{name} must hold at least one id")
    return ids


def _timestamp(value: object, name: str) -> str:
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{name} must be a datetime, got {type(value).__name__}")
    # A naive datetime is taken as UTC, the zone dbt stores every timestamp in.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.isoformat()


_EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST: Final = datetime(9999, 12, 31, tzinfo=UTC)


def _range(after: object, before: object, name: str) -> str | None:
    if after is None and before is None:
        return None
    start = _timestamp(after, f"{name}_after") if after is not None else _EARLIEST.isoformat()
    end = _timestamp(before, f"{name}_before") if before is not None else _LATEST.isoformat()
    if (
        isinstance(after, datetime)
        and isinstance(before, datetime)
        and datetime.fromisoformat(start) > datetime.fromisoformat(end)
    ):
        raise InvalidArgumentError(f"{name}_after must not be later than {name}_before")
    return _json_list([start, end])


def include_related_param(value: object, *, allowed: tuple[str, ...]) -> str | None:
    """The `include_related` value: known names, comma-separated (None: omit it).

    Takes a list of names or one string, which may itself be comma-separated as dbt writes it
    (`"trigger,job"`), so the encoded value can be passed back in.
    """
    if value is None:
        return None
    names = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, Iterable):
        raise InvalidArgumentError(f"include_related must be a list of names, got {value!r}")
    checked: list[str] = []
    for name in names:
        if not isinstance(name, str) or name not in allowed:
            raise InvalidArgumentError(
                f"include_related: unknown value {name!r}; valid values: " + ", ".join(allowed)
            )
        if name not in checked:
            checked.append(name)
    return ",".join(checked) if checked else None


def check_order_by(order_by: object) -> str:
    """`id`, `created_at` or `finished_at`, optionally prefixed with `-` for descending."""
    if not isinstance(order_by, str) or order_by.removeprefix("-") not in ORDER_FIELDS:
        raise InvalidArgumentError(
            f"order_by must be one of id, created_at, finished_at (prefix '-' to reverse), "
            f"got {order_by!r}"
        )
    return order_by


def check_limit(limit: object) -> int:
    """A page size dbt accepts (1 to 100)."""
    value = check_int(limit, "limit", minimum=1)
    if value > MAX_LIMIT:
        raise InvalidArgumentError(
            f"limit must be at most {MAX_LIMIT}: dbt Cloud rejects larger pages "
            "(iterate over list_runs(...) to get every run)"
        )
    return value


def check_offset(offset: object) -> int:
    """An offset of 0 or more."""
    return check_int(offset, "offset", minimum=0)


def list_runs_params(
    *,
    job_definition_id: object = None,
    environment_id: object = None,
    project_id: object = None,
    status: object = None,
    order_by: object = None,
    include_related: object = None,
    created_after: object = None,
    created_before: object = None,
    finished_after: object = None,
    finished_before: object = None,
) -> dict[str, str | int]:
    """The list-runs filter parameters (without `limit` and `offset`)."""
    params: dict[str, str | int] = {}
    if job_definition_id is not None:
        params["job_definition_id"] = require_id(job_definition_id, "job_definition_id")
    if environment_id is not None:
        params["environment_id"] = require_id(environment_id, "environment_id")
    if project_id is not None:
        projects = _ids(project_id, "project_id")
        if isinstance(project_id, int):
            params["project_id"] = projects[0]
        else:
            params["project_id__in"] = _json_list(projects)
    if status is not None:
        codes = _statuses(status)
        if isinstance(status, int | str):
            params["status"] = codes[0]
        else:
            params["status__in"] = _json_list(codes)
    if order_by is not None:
        params["order_by"] = check_order_by(order_by)
    related = include_related_param(include_related, allowed=LIST_RELATED)
    if related is not None:
        params["include_related"] = related
    created = _range(created_after, created_before, "created")
    if created is not None:
        params["created_at__range"] = created
    finished = _range(finished_after, finished_before, "finished")
    if finished is not None:
        params["finished_at__range"] = finished
    return params


def artifact_path(path: object) -> str:
    """A URL-safe artifact path relative to the run's `target/` directory."""
    text = _text(path, "path")
    if text.startswith("/") or "\\" in text:
        raise InvalidArgumentError(
            f"path must be relative to the run's target/ directory, e.g. 'manifest.json'; "
            f"got {text!r}"
        )
    parts = text.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidArgumentError(f"path must not contain empty, '.' or '..' segments: {text!r}")
    return quote(text, safe="/")


def step_param(step: object) -> dict[str, str | int] | None:
    """The `step` query parameter (1-based), or None for dbt's default (the last step)."""
    if step is None:
        return None
    return {"step": check_int(step, "step", minimum=1)}


def mapping_or_empty(value: object) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty mapping."""
    return value if isinstance(value, Mapping) else {}
