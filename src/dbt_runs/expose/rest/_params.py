"""Reading a REST request's inputs with the rules declared in `dbt_runs._fields`.

Path ids and query values are text: each is read with its field's `from_text`, then meets the
same rules as an SDK argument. The trigger body is JSON: each value meets its field's
`validate`, so `"8"` is not 8 here either. Every problem is collected before answering, so
one 400 names every bad input; what an error repeats back is bounded, so a hostile request
cannot turn a 400 into megabytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from dbt_runs._fields import Field, FieldError, Ids, Statuses, Timestamp

__all__ = [
    "MAX_NAMED_ERRORS",
    "BodyReader",
    "ParameterError",
    "QueryParam",
    "describe",
    "query_params",
    "read_path",
    "read_query",
]

MAX_NAMED_ERRORS: Final = 10
"""At most this many bad inputs are named one by one in a 400; the rest are counted."""


class ParameterError(Exception):
    """One or more inputs are invalid.

    Attributes:
        problems: Every invalid input's name and its problem.
        errors: What a 400 shows of them: at most `MAX_NAMED_ERRORS`, then a count.
    """

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        self.errors = _bounded(self.problems)
        super().__init__(describe(self.errors))


def _bounded(errors: Mapping[str, str]) -> dict[str, str]:
    items = list(errors.items())
    kept = {_name(name): problem for name, problem in items[:MAX_NAMED_ERRORS]}
    if len(items) > MAX_NAMED_ERRORS:
        kept["..."] = f"and {len(items) - MAX_NAMED_ERRORS} more invalid inputs"
    return kept


def _name(name: str) -> str:
    # A name comes from the request: repeat a recognisable piece, never all of it.
    return name if len(name) <= 40 else name[:37] + "..."


def describe(errors: Mapping[str, str]) -> str:
    """A one-line message naming every invalid input."""
    parts = [
        f"'{name}' {problem}" if name != "..." else problem for name, problem in errors.items()
    ]
    noun = "parameter" if len(parts) == 1 else "parameters"
    return f"Invalid {noun}: " + "; ".join(parts) + "."


# ---------------------------------------------------------------- path


def read_path(fields: Iterable[Field[Any]], raw: Mapping[str, str]) -> dict[str, Any]:
    """The SDK arguments named by the path, each read with its field (by `rest_name`)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        try:
            values[field.name] = field.from_text([raw[field.rest_name]])
        except FieldError as exc:
            errors[field.rest_name] = str(exc)
    if errors:
        raise ParameterError(errors)
    return values


# ---------------------------------------------------------------- query


@dataclass(frozen=True)
class QueryParam:
    """A query parameter as the REST adapter accepts it, made from a field.

    dbt's own names are kept: a field with a single and a list form (`status`,
    `project_id`) is two parameters (`status` and `status__in`), and two timestamps of one
    range (`created_after`, `created_before`) are one (`created_at__range`).

    Attributes:
        name: The parameter's name.
        description: One sentence for the OpenAPI document.
        schema: The JSON Schema of its value (an array for repeatable parameters).
        repeatable: Whether it may be given more than once (list values).
        read: Turns its raw values into SDK arguments; raises `FieldError`.
    """

    name: str
    description: str
    schema: Mapping[str, Any]
    repeatable: bool
    read: Callable[[Sequence[str]], dict[str, Any]]

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


def query_params(fields: Iterable[Field[Any]]) -> tuple[QueryParam, ...]:
    """The query parameters that carry `fields`, in dbt's names."""
    params: list[QueryParam] = []
    ranges: dict[str, list[Timestamp]] = {}
    for field in fields:
        if isinstance(field, Timestamp):
            ranges.setdefault(field.pair, []).append(field)
        elif isinstance(field, Statuses | Ids):
            params.extend(_one_or_many(field))
        else:
            params.append(_plain(field))
    params.extend(_range(pair, bounds) for pair, bounds in ranges.items())
    return tuple(params)


def _plain(field: Field[Any]) -> QueryParam:
    schema = field.schema()
    repeatable = schema.get("type") == "array" or "anyOf" in schema
    if "anyOf" in schema:
        # Names: a list (repeated, comma-separated or JSON) is how a query carries them.
        schema = next(s for s in schema["anyOf"] if s.get("type") == "array")

    def read(texts: Sequence[str]) -> dict[str, Any]:
        return {field.name: field.from_text(texts)}

    return QueryParam(field.rest_name, field.doc, schema, repeatable, read)


def _one_or_many(field: Statuses | Ids) -> tuple[QueryParam, QueryParam]:
    one, many = field.schema()["anyOf"]

    def read_one(texts: Sequence[str]) -> dict[str, Any]:
        if len(texts) != 1:
            raise FieldError(f"must be given at most once (use {field.name}__in for several)")
        return {field.name: field.from_text(texts)}

    def read_many(texts: Sequence[str]) -> dict[str, Any]:
        value = field.from_text(texts)
        return {field.name: value if isinstance(value, list) else [value]}

    return (
        QueryParam(field.name, field.doc, one, False, read_one),
        QueryParam(
            f"{field.name}__in",
            f"{field.doc} Several values: repeat the parameter, or send '[1,2]' or '1,2'.",
            many,
            True,
            read_many,
        ),
    )


def _range(pair: str, bounds: Sequence[Timestamp]) -> QueryParam:
    by_side = {bound.bound: bound for bound in bounds}
    after, before = by_side["after"], by_side["before"]
    what = pair.removesuffix("_at__range")

    def read(texts: Sequence[str]) -> dict[str, Any]:
        items = _text_list(texts)
        if len(items) != 2:
            raise FieldError("must be exactly two timestamps: start and end")
        start, end = after.from_text([items[0]]), before.from_text([items[1]])
        if start > end:
            raise FieldError("the start must not be after the end")
        return {after.name: start, before.name: end}

    schema = {
        "type": "array",
        "items": {"type": "string", "format": "date-time"},
        "minItems": 2,
        "maxItems": 2,
    }
    doc = f"Only runs {what} between two ISO 8601 timestamps with a time zone."
    return QueryParam(pair, doc, schema, True, read)


def _text_list(texts: Sequence[str]) -> list[str]:
    items: list[str] = []
    for text in texts:
        stripped = text.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            try:
                decoded = json.loads(stripped)
            except (ValueError, RecursionError):
                decoded = None
            if isinstance(decoded, list):
                items.extend(str(item) for item in decoded)
                continue
            stripped = stripped[1:-1]
        items.extend(part.strip().strip("'\"") for part in stripped.split(","))
    return items


def read_query(params: Sequence[QueryParam], query: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The SDK arguments a query string carries.

    Raises:
        ParameterError: Unknown parameters, repeated single-valued ones, or bad values.
    """
    declared = {param.name: param for param in params}
    raw: dict[str, list[str]] = {}
    for name, value in query:
        raw.setdefault(name, []).append(value)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, texts in raw.items():
        param = declared.get(name)
        if param is None:
            # The accepted names are listed once, however many unknown ones were sent.
            accepted = ", ".join(sorted(declared)) if declared else "none"
            errors[name] = (
                "is not a known query parameter either"
                if errors
                else f"is not a known query parameter here (accepted: {accepted})"
            )
            continue
        if not param.repeatable and len(texts) > 1:
            errors[name] = "must be given at most once"
            continue
        try:
            read = param.read(texts)
        except FieldError as exc:
            errors[name] = str(exc)
            continue
        for key, value in read.items():
            # `status` and `status__in` together mean any of their values.
            values[key] = (
                list(dict.fromkeys([*_as_list(values[key]), *_as_list(value)]))
                if key in values
                else value
            )
    if errors:
        raise ParameterError(errors)
    return values


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- body


@dataclass(frozen=True)
class BodyReader:
    """Reads an optional JSON object body whose keys are `fields`.

    Attributes:
        fields: The accepted keys.
        defaults: Values for keys the body leaves out (the REST adapter's cause).
    """

    fields: tuple[Field[Any], ...]
    defaults: Mapping[str, Any]

    def read(self, body: bytes) -> dict[str, Any]:
        """The SDK arguments of `body` (`null` values dropped, defaults filled in).

        Raises:
            ParameterError: Malformed JSON, not an object, unknown keys, or bad values.
        """
        values: dict[str, Any] = {}
        if body.strip():
            try:
                decoded = json.loads(body)
            except RecursionError:
                raise ParameterError({"body": "is nested too deeply"}) from None
            except (ValueError, UnicodeDecodeError) as exc:
                raise ParameterError({"body": f"is not valid JSON ({exc})"}) from None
            if not isinstance(decoded, dict):
                raise ParameterError({"body": "must be a JSON object of the fields below"})
            known = {field.name: field for field in self.fields}
            errors: dict[str, str] = {}
            for name, value in decoded.items():
                field = known.get(name)
                if field is None:
                    errors[name] = "is not a field here (accepted: " + ", ".join(known) + ")"
                elif value is not None:
                    try:
                        values[name] = field.validate(value)
                    except FieldError as exc:
                        errors[name] = str(exc)
            if errors:
                raise ParameterError(errors)
        for name, value in self.defaults.items():
            values.setdefault(name, value)
        return values

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the body, for the OpenAPI document."""
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                field.name: {
                    "anyOf": [field.schema(), {"type": "null"}],
                    "description": field.doc,
                }
                for field in self.fields
            },
        }
