"""Validation of the REST adapter's inputs: path ids, query parameters and the trigger body.

Each parameter is declared once, as a `Param` that both parses the raw query values and
describes itself in the OpenAPI document, so the document cannot drift from what is accepted.
Every problem is collected before answering, so one 400 names every bad parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

INT64_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")


class ParameterError(Exception):
    """One or more inputs are invalid; `errors` maps each parameter name to its problem."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(describe(self.errors))


def describe(errors: Mapping[str, str]) -> str:
    """A one-line message naming every invalid parameter."""
    parts = [f"'{name}' {problem}" for name, problem in errors.items()]
    noun = "parameter" if len(parts) == 1 else "parameters"
    return f"Invalid {noun}: " + "; ".join(parts) + "."


def parse_id(name: str, raw: str) -> int:
    """Parse a path id: a positive 64-bit integer written in decimal digits."""
    if not _DIGITS.fullmatch(raw) or len(raw) > 19 or not 1 <= int(raw) <= INT64_MAX:
        raise ParameterError({name: f"must be a positive 64-bit integer, got {_show(raw)}"})
    return int(raw)


def _show(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:37] + "...")


MAX_ARTIFACT_PATH = 1024
_CHAR = r"[^/\x00-\x1f\x7f\\]"
_SEGMENT = rf"(?:[^/.\x00-\x1f\x7f\\]{_CHAR}*|\.[^/.\x00-\x1f\x7f\\]{_CHAR}*|\.\.{_CHAR}+)"
ARTIFACT_PATH_PATTERN = rf"^{_SEGMENT}(?:/{_SEGMENT})*$"
"""Relative, `/`-separated, no empty/`.`/`..` segment, no control character or backslash."""


def parse_artifact_path(raw: str) -> str:
    """Check an artifact path (relative to dbt's `target/`) before it is sent upstream."""
    if not raw or len(raw) > MAX_ARTIFACT_PATH:
        raise ParameterError({"path": f"must be 1 to {MAX_ARTIFACT_PATH} characters"})
    if any(segment in {"", ".", ".."} for segment in raw.split("/")):
        raise ParameterError(
            {"path": "must be a relative path without empty, '.' or '..' segments"}
        )
    if not re.fullmatch(ARTIFACT_PATH_PATTERN, raw):
        raise ParameterError({"path": "must not contain control characters or backslashes"})
    return raw


# ---------------------------------------------------------------- query parameter kinds


@dataclass(frozen=True)
class Param:
    """A query parameter: how to parse its raw values and how to document it.

    Attributes:
        name: The query parameter's name, as dbt spells it.
        description: One sentence for the OpenAPI document.
        parse: Turns the raw values (one per occurrence in the query) into the value passed
            to the client; raises `ValueError` with a message naming the problem.
        schema: The JSON Schema of one occurrence (or the array, for list parameters).
        repeatable: Whether the parameter may be given more than once (list parameters).
    """

    name: str
    description: str
    parse: Callable[[Sequence[str]], Any]
    schema: Mapping[str, Any]
    repeatable: bool = False

    def openapi(self) -> dict[str, Any]:
        """This parameter as an OpenAPI 3.1 parameter object."""
        spec: dict[str, Any] = {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": self.description,
            "schema": dict(self.schema),
        }
        if self.repeatable:
            spec["style"] = "form"
            spec["explode"] = True
        return spec


def _single(values: Sequence[str]) -> str:
    if len(values) != 1:
        raise ValueError("must be given at most once")
    return values[0]


def _int(raw: str, minimum: int, maximum: int) -> int:
    text = raw.strip()
    if not re.fullmatch(r"-?[0-9]{1,19}", text):
        raise ValueError(f"must be an integer, got {_show(raw)}")
    value = int(text)
    if not minimum <= value <= maximum:
        bound = f">= {minimum}" if maximum == INT64_MAX else f"between {minimum} and {maximum}"
        raise ValueError(f"must be {bound}, got {value}")
    return value


def int_param(name: str, description: str, *, minimum: int = 1, maximum: int = INT64_MAX) -> Param:
    """An integer in `[minimum, maximum]` (ids by default: positive 64-bit)."""
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum != INT64_MAX:
        schema["maximum"] = maximum
    else:
        schema["format"] = "int64"
        schema["maximum"] = INT64_MAX
    return Param(name, description, lambda v: _int(_single(v), minimum, maximum), schema)


def choice_param(name: str, description: str, choices: Sequence[int | str]) -> Param:
    """One value out of `choices` (integers or strings)."""
    is_int = all(isinstance(c, int) for c in choices)

    def parse(values: Sequence[str]) -> int | str:
        raw = _single(values).strip()
        value: int | str = int(raw) if is_int and re.fullmatch(r"-?[0-9]{1,19}", raw) else raw
        if value not in choices:
            raise ValueError(f"must be one of {_list(choices)}, got {_show(raw)}")
        return value

    schema = {"type": "integer" if is_int else "string", "enum": list(choices)}
    return Param(name, description, parse, schema)


def _items(values: Sequence[str]) -> list[str]:
    """Split list values the ways real clients send them: repeated, comma-separated, or a
    JSON/Python-style list in one value (`[1, 2]`, `['job']`)."""
    items: list[str] = []
    for value in values:
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            inner = text[1:-1]
            try:
                decoded = json.loads(text.replace("'", '"'))
            except ValueError:
                decoded = None
            if isinstance(decoded, list):
                items.extend(str(item).strip() for item in decoded)
                continue
            text = inner
        items.extend(part.strip().strip("'\"") for part in text.split(","))
    if not items or any(not item for item in items):
        raise ValueError("must be a non-empty list without empty items")
    return items


def int_list_param(
    name: str, description: str, *, choices: Sequence[int] | None = None, max_items: int = 100
) -> Param:
    """A list of integers (positive 64-bit ids, or values out of `choices`)."""

    def parse(values: Sequence[str]) -> list[int]:
        items = _items(values)
        if len(items) > max_items:
            raise ValueError(f"must have at most {max_items} items")
        result = []
        for item in items:
            if not re.fullmatch(r"-?[0-9]{1,19}", item):
                raise ValueError(f"must be a list of integers, got {_show(item)}")
            value = int(item)
            if choices is not None and value not in choices:
                raise ValueError(f"items must be among {_list(choices)}, got {value}")
            if choices is None and not 1 <= value <= INT64_MAX:
                raise ValueError(f"items must be positive 64-bit integers, got {value}")
            result.append(value)
        return result

    items: dict[str, Any] = (
        {"type": "integer", "enum": list(choices)}
        if choices is not None
        else {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}
    )
    schema = {"type": "array", "items": items, "minItems": 1, "maxItems": max_items}
    return Param(name, description, parse, schema, repeatable=True)


def str_list_param(
    name: str, description: str, *, choices: Sequence[str] | None = None, max_items: int = 20
) -> Param:
    """A list of strings (out of `choices` when given)."""

    def parse(values: Sequence[str]) -> list[str]:
        items = _items(values)
        if len(items) > max_items:
            raise ValueError(f"must have at most {max_items} items")
        if choices is not None:
            unknown = [item for item in items if item not in choices]
            if unknown:
                raise ValueError(f"items must be among {_list(choices)}, got {_show(unknown[0])}")
        # A repeated item means nothing more to dbt; keep the first occurrence only.
        return list(dict.fromkeys(items))

    item_schema: dict[str, Any] = (
        {"type": "string", "enum": list(choices)}
        if choices is not None
        else {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^,\[\]'\"\s]+$"}
    )
    schema = {"type": "array", "items": item_schema, "minItems": 1, "maxItems": max_items}
    return Param(name, description, parse, schema, repeatable=True)


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 timestamp (`T` or `t`, `Z` or `z`; a leap second counts as :59)."""
    text = re.sub(r"([Tt ]\d\d:\d\d):60", r"\1:59", text.strip())
    return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))


def datetime_range_param(name: str, description: str) -> Param:
    """Two ISO 8601 timestamps with a time zone, `start` before `end`."""

    def parse(values: Sequence[str]) -> list[datetime]:
        items = _items(values)
        if len(items) != 2:
            raise ValueError("must be exactly two timestamps: start and end")
        stamps = []
        for item in items:
            try:
                stamp = parse_timestamp(item)
            except ValueError:
                raise ValueError(f"must hold ISO 8601 timestamps, got {_show(item)}") from None
            if stamp.tzinfo is None:
                raise ValueError(f"timestamps need a time zone (e.g. +00:00), got {_show(item)}")
            stamps.append(stamp)
        if stamps[0] > stamps[1]:
            raise ValueError("the start must not be after the end")
        return stamps

    schema = {
        "type": "array",
        "items": {"type": "string", "format": "date-time"},
        "minItems": 2,
        "maxItems": 2,
    }
    return Param(name, description, parse, schema, repeatable=True)


def parse_query(params: Iterable[Param], query: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Parse a query string's `(name, value)` pairs against the declared parameters.

    Returns:
        Parameter name -> parsed value, for the parameters present.

    Raises:
        ParameterError: Unknown parameters, repeated single-valued ones, or bad values.
    """
    declared = {param.name: param for param in params}
    raw: dict[str, list[str]] = {}
    for name, value in query:
        raw.setdefault(name, []).append(value)
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for name, values in raw.items():
        param = declared.get(name)
        if param is None:
            allowed = _list(sorted(declared)) if declared else "none"
            errors[name] = f"is not a known query parameter here (accepted: {allowed})"
            continue
        try:
            parsed[name] = param.parse(values)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ParameterError(errors)
    return parsed


def _list(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


# ---------------------------------------------------------------- the trigger body


@dataclass(frozen=True)
class BodyField:
    """One field of the trigger body: its JSON Schema and its check."""

    name: str
    description: str
    schema: Mapping[str, Any]
    check: Callable[[Any], str | None] = field(repr=False)


def _string_field(name: str, description: str, max_length: int = 255) -> BodyField:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a string"
        if not value.strip():
            return "must not be empty or blank"
        if len(value) > max_length:
            return f"must be at most {max_length} characters, got {len(value)}"
        return None

    schema = {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NOT_BLANK}
    return BodyField(name, description, schema, check)


def _int_field(name: str, description: str, minimum: int) -> BodyField:
    def check(value: Any) -> str | None:
        # JSON `true` decodes to a bool, which Python counts as an int: refuse it. JSON
        # Schema counts 3.0 as an integer, so do we (it is sent to dbt as 3).
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if not minimum <= value <= INT64_MAX:
            return f"must be >= {minimum}"
        return None

    schema = {"type": "integer", "minimum": minimum, "maximum": INT64_MAX}
    return BodyField(name, description, schema, check)


def _bool_field(name: str, description: str) -> BodyField:
    def check(value: Any) -> str | None:
        return None if isinstance(value, bool) else "must be true or false"

    return BodyField(name, description, {"type": "boolean"}, check)


MAX_STEPS = 50
# dbt runs only dbt commands: each step is `dbt <something>`.
_STEP = re.compile(r"\s*dbt \s*\S")

# Exactly the characters `str.isspace()` (and so `str.strip()`, which the client uses) calls
# whitespace, spelled out: ECMA-262's `\s` and Python's differ, and a schema's pattern is read
# by both kinds of validator.
_WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SPACE = f"[{_WHITESPACE}]"
_NOT_SPACE = f"[^{_WHITESPACE}]"
NOT_BLANK = _NOT_SPACE
"""A JSON Schema pattern: at least one character that is not whitespace."""


def _steps_field(name: str, description: str) -> BodyField:
    def check(value: Any) -> str | None:
        if not isinstance(value, list) or not value:
            return "must be a non-empty list of dbt commands"
        if len(value) > MAX_STEPS:
            return f"must hold at most {MAX_STEPS} commands"
        if not all(isinstance(step, str) and step.strip() for step in value):
            return "must hold only non-empty strings (dbt commands)"
        if not all(_STEP.match(step) for step in value):
            return 'must hold dbt commands, each starting with "dbt ", e.g. "dbt build"'
        return None

    schema = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_STEPS,
        "items": {"type": "string", "pattern": rf"^{_SPACE}*dbt {_SPACE}*{_NOT_SPACE}"},
    }
    return BodyField(name, description, schema, check)


CAUSE_MAX_LENGTH = 255
DEFAULT_CAUSE = "Triggered via the dbt-runs REST adapter"

TRIGGER_FIELDS: tuple[BodyField, ...] = (
    _string_field(
        "cause",
        f"Why the run was triggered (shown in dbt Cloud); default {DEFAULT_CAUSE!r}.",
        max_length=CAUSE_MAX_LENGTH,
    ),
    _string_field("git_sha", "Run this commit instead of the environment's branch head."),
    _string_field("git_branch", "Run this branch instead of the environment's."),
    _int_field("azure_pull_request_id", "The Azure DevOps pull request being built.", 1),
    _int_field("github_pull_request_id", "The GitHub pull request being built.", 1),
    _int_field("gitlab_merge_request_id", "The GitLab merge request being built.", 1),
    _int_field("non_native_pull_request_id", "A pull request id from another git host.", 1),
    _string_field("schema_override", "Build into this schema instead of the job's."),
    _string_field("dbt_version_override", "Use this dbt version instead of the job's."),
    _int_field("threads_override", "Use this many threads.", 1),
    _string_field("target_name_override", "Use this target name."),
    _bool_field("generate_docs_override", "Generate docs (or not) regardless of the job."),
    _int_field("timeout_seconds_override", "Cancel the run after this many seconds.", 0),
    _steps_field("steps_override", "Run these dbt commands instead of the job's steps."),
)
"""dbt's trigger fields, as accepted by `POST .../jobs/{jobid}/run`."""


def parse_trigger_body(body: bytes) -> dict[str, Any]:
    """Validate the optional JSON body of a trigger request.

    Returns:
        The fields to send to dbt (`null` values dropped), with `cause` defaulted.

    Raises:
        ParameterError: Malformed JSON, not an object, unknown fields, or bad values.
    """
    fields: dict[str, Any] = {}
    if body.strip():
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParameterError({"body": f"is not valid JSON ({exc})"}) from None
        if not isinstance(decoded, dict):
            raise ParameterError({"body": "must be a JSON object of dbt's trigger fields"})
        known = {f.name: f for f in TRIGGER_FIELDS}
        errors: dict[str, str] = {}
        for name, value in decoded.items():
            spec = known.get(name)
            if spec is None:
                errors[name] = "is not a trigger field (accepted: " + _list(known) + ")"
            elif value is not None:
                problem = spec.check(value)
                if problem is None:
                    fields[name] = int(value) if isinstance(value, float) else value
                else:
                    errors[name] = problem
        if errors:
            raise ParameterError(errors)
    fields.setdefault("cause", DEFAULT_CAUSE)
    return fields


def trigger_body_schema() -> dict[str, Any]:
    """The JSON Schema of the trigger body, for the OpenAPI document."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            f.name: {
                "anyOf": [dict(f.schema), {"type": "null"}],
                "description": f.description,
            }
            for f in TRIGGER_FIELDS
        },
    }
