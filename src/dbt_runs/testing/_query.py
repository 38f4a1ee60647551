"""Query-string parsing as loose as dbt's: every encoding real clients send.

A list-valued parameter (`status__in`, `project_id__in`, `include_related`, the date ranges)
may arrive as a JSON list (`[10, 20]`), a Python-style list (`['job']`, Airflow and dbt-mcp),
a comma list (`trigger,job`), repeated parameters (`?status__in=10&status__in=20`) or
`name[]=` brackets. A value that fits none of them is a 400 naming the parameter, with dbt's
wording (`'...' is not valid under any of the given schemas`).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = ["Query", "QueryError"]

_INT = re.compile(r"^[+-]?\d+$")


class _Params(Protocol):
    def getlist(self, key: str) -> list[str]: ...
    def keys(self) -> Any: ...


class QueryError(Exception):
    """A query parameter dbt would reject; becomes a 400 envelope `{field: message}`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _invalid(field: str, raw: object) -> QueryError:
    return QueryError(field, f"'{raw}' is not valid under any of the given schemas")


class Query:
    """Typed access to a request's query parameters."""

    def __init__(self, params: _Params) -> None:
        self._params = params

    def raw(self, name: str) -> list[str]:
        """Every value given for `name` (also as `name[]`)."""
        return [*self._params.getlist(name), *self._params.getlist(f"{name}[]")]

    def has(self, name: str) -> bool:
        """Whether the parameter was given at all."""
        return bool(self.raw(name))

    def items(self, name: str) -> list[Any] | None:
        """The elements of a list parameter in any encoding; None when absent."""
        values = self.raw(name)
        if not values:
            return None
        out: list[Any] = []
        for value in values:
            text = value.strip()
            if text.startswith(("[", "(")):
                parsed: Any
                try:
                    parsed = json.loads(text)
                except ValueError:
                    try:
                        parsed = ast.literal_eval(text)
                    except (ValueError, SyntaxError, MemoryError, RecursionError):
                        raise _invalid(name, value) from None
                if not isinstance(parsed, list | tuple):
                    raise _invalid(name, value)
                out.extend(parsed)
            elif "," in text:
                out.extend(part.strip() for part in text.split(",") if part.strip())
            elif text:
                out.append(text)
        return out

    def int_list(self, name: str) -> list[int] | None:
        """A list of integers (`status__in`, `project_id__in`, `pk__in`)."""
        items = self.items(name)
        if items is None:
            return None
        out = []
        for item in items:
            if isinstance(item, bool):
                raise _invalid(name, self.raw(name)[0])
            if isinstance(item, int):
                out.append(item)
            elif isinstance(item, str) and _INT.match(item.strip()):
                out.append(int(item))
            else:
                raise _invalid(name, self.raw(name)[0])
        return out

    def str_list(self, name: str) -> list[str] | None:
        """A list of strings (`include_related`, `dbt_version__in`)."""
        items = self.items(name)
        if items is None:
            return None
        return [str(item).strip() for item in items if str(item).strip()]

    def integer(self, name: str) -> int | None:
        """A single integer; None when absent."""
        values = self.raw(name)
        if not values:
            return None
        value = values[-1].strip()
        if not _INT.match(value):
            raise _invalid(name, values[-1])
        return int(value)

    def string(self, name: str) -> str | None:
        """A single string; None when absent."""
        values = self.raw(name)
        return values[-1] if values else None

    def boolean(self, name: str) -> bool | None:
        """`true`/`false` (any case) or `1`/`0`."""
        values = self.raw(name)
        if not values:
            return None
        value = values[-1].strip().lower()
        if value in {"true", "1", "yes"}:
            return True
        if value in {"false", "0", "no"}:
            return False
        raise _invalid(name, values[-1])

    def date_range(self, name: str) -> tuple[float, float] | None:
        """A `__range` of two date-times (ISO 8601, `T` or space, `Z` or offset)."""
        items = self.items(name)
        if items is None:
            return None
        if len(items) != 2:
            raise _invalid(name, self.raw(name)[0])
        bounds = [_parse_datetime(name, item, self.raw(name)[0]) for item in items]
        # Timestamps are shown to the microsecond: widen by half of one so that a bound copied
        # from a run's own `created_at` includes that run.
        return bounds[0] - 5e-7, bounds[1] + 5e-7


def _parse_datetime(name: str, item: object, raw: str) -> float:
    if not isinstance(item, str):
        raise _invalid(name, raw)
    text = item.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(name, raw) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_include_related(query: Query) -> frozenset[str]:
    """`include_related` in every form clients send; unknown values are ignored, as dbt does."""
    values = query.str_list("include_related") or []
    return frozenset(v.strip().strip("'\"") for v in values)


def first_key(names: Sequence[str], query: Query) -> str | None:
    """The first of `names` present in the query."""
    for name in names:
        if query.has(name):
            return name
    return None
