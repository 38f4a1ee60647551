"""The body of `POST jobs/{id}/run/`, read as dbt reads it.

dbt's trigger serializer is Django REST Framework's: it coerces what DRF coerces (`"8"` is a
valid integer, `"true"` a valid boolean, a form field repeated is a list) and names every bad
field at once. This is the emulator's own reading of dbt, written from dbt's behaviour and never
from the client's field table: one misreading must not hide on both sides of the wire.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from dbt_runs.testing._state import MAX_STEPS, Trigger

__all__ = ["validate_trigger"]

_STR_FIELDS: Final = (
    "git_sha",
    "git_branch",
    "schema_override",
    "dbt_version_override",
    "target_name_override",
)
_INT_FIELDS: Final = (
    "azure_pull_request_id",
    "github_pull_request_id",
    "gitlab_merge_request_id",
    "non_native_pull_request_id",
    "threads_override",
    "timeout_seconds_override",
)
_INT_TEXT: Final = re.compile(r"^\s*[+-]?\d+\s*$")


def validate_trigger(body: Mapping[str, Any]) -> tuple[dict[str, str], Trigger | None]:
    """Read a trigger body as dbt does: `({}, trigger)`, or `(errors, None)` naming every bad
    field at once in Django REST Framework's words (the 400's `data`).

    Example:
        >>> validate_trigger({"cause": "Nightly", "threads_override": "8"})[1].threads_override
        8
        >>> validate_trigger({"cause": " "})[0]
        {'cause': 'This field may not be blank.'}
    """
    errors: dict[str, str] = {}
    cause = body.get("cause")
    if cause is None:
        errors["cause"] = (
            "This field is required." if "cause" not in body else "This field may not be null."
        )
    elif not isinstance(cause, str):
        errors["cause"] = "Not a valid string."
    elif not cause.strip():
        errors["cause"] = "This field may not be blank."
    elif len(cause) > 255:
        errors["cause"] = "Ensure this field has no more than 255 characters."
    values: dict[str, Any] = {}
    for name in _STR_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            errors[name] = "Not a valid string."
        elif not value.strip():
            errors[name] = "This field may not be blank."
        elif len(value) > 255:
            errors[name] = "Ensure this field has no more than 255 characters."
        else:
            values[name] = value
    for name in _INT_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _INT_TEXT.match(value):
            number = int(value)
        if number is None:
            errors[name] = "A valid integer is required."
            continue
        minimum = 1 if name == "threads_override" else 0
        if number < minimum:
            errors[name] = f"Ensure this value is greater than or equal to {minimum}."
        else:
            values[name] = number
    docs = body.get("generate_docs_override")
    if docs is not None:
        if isinstance(docs, bool):
            values["generate_docs_override"] = docs
        elif isinstance(docs, str) and docs.strip().lower() in {"true", "false", "1", "0"}:
            values["generate_docs_override"] = docs.strip().lower() in {"true", "1"}
        else:
            errors["generate_docs_override"] = "Must be a valid boolean."
    steps = body.get("steps_override")
    if steps is not None:
        if not isinstance(steps, list):
            errors["steps_override"] = (
                f'Expected a list of items but got type "{type(steps).__name__}".'
            )
        elif not steps:
            errors["steps_override"] = "This list may not be empty."
        elif len(steps) > MAX_STEPS - 5:
            errors["steps_override"] = (
                f"Ensure this field has no more than {MAX_STEPS - 5} elements."
            )
        elif any(not isinstance(s, str) or not s.strip() for s in steps):
            errors["steps_override"] = "This field may not be blank."
        elif any(not s.strip().startswith("dbt ") for s in steps):
            errors["steps_override"] = 'Each step must be a dbt command, for example "dbt build".'
        else:
            values["steps_override"] = tuple(s.strip() for s in steps)
    if errors:
        return errors, None
    assert isinstance(cause, str)
    return {}, Trigger(cause, "api", None, **values)
