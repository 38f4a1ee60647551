"""Every input dbt-runs accepts, declared once.

A `Field` is one argument's rules: its type, bounds and pattern, and one sentence saying what
it means. Every surface derives what it needs from the same object, so the SDK, the REST
adapter, the MCP server and the command line accept and refuse exactly the same values:

- the client checks Python values with `Field.check` and sends them with `Field.wire`;
- the REST adapter parses query text with `Field.from_text`, checks JSON bodies with
  `Field.validate`, and documents both with `Field.schema` in its OpenAPI document;
- the MCP server publishes `Field.schema` as each tool's input schema and checks every
  argument with `Field.validate` before the SDK's own (strict) check, so nothing is coerced;
- the command line builds its click options from `flag`, `doc` and `Field.from_text`.

Strict means the same everywhere: a string is not a number (`"8"` is not 8), a bool is not an
integer, a float is not an integer, and text must be valid Unicode without NUL characters.
Only the command line and REST query strings, which carry nothing but text, read numbers from
text (`from_text`); what they read then meets the same rules.

The emulator keeps its own validation on purpose (see ARCHITECTURE.md): one misreading of dbt
must not hide on both sides of the wire.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Generic, Literal, TypeVar
from urllib.parse import quote

from dbt_runs.errors import InvalidArgumentError
from dbt_runs.models import RunStatus

__all__ = [
    "ACCOUNT_ID",
    "ARTIFACT_PATH",
    "CAUSE",
    "IF_RUNNING",
    "INCLUDE_RELATED_LIST",
    "INCLUDE_RELATED_RUN",
    "INCLUDE_WARNINGS",
    "INT64_MAX",
    "JOB_FILTERS",
    "JOB_ID",
    "LIMIT",
    "LIST_FILTERS",
    "LOG_LINES",
    "OFFSET",
    "ORDER_BY",
    "RUN_ID",
    "RUN_IDS",
    "STEP",
    "TRIGGER_FIELDS",
    "Field",
    "FieldError",
    "encode_query",
]

T = TypeVar("T")

INT64_MAX: Final = 2**63 - 1
"""dbt's ids are 64-bit (cell-based hosts hand out ids such as 70403110257794)."""

_SHOWN: Final = 40
"""How much of a refused value a message repeats: enough to recognise it, never an amplifier."""

# Exactly the characters `str.isspace()` calls whitespace, spelled out: ECMA-262's `\s` and
# Python's differ, and a schema's pattern is read by validators of both kinds.
_WHITESPACE: Final = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
NOT_BLANK: Final = rf"^[^\x00]*[^{_WHITESPACE}\x00][^\x00]*$"
"""A JSON Schema pattern: no NUL, and at least one character that is not whitespace."""


class FieldError(ValueError):
    """A value a field refuses; the message is the problem alone ("must be ..."), without the
    argument's name, so that each surface can name the argument its own way."""


def show(value: object) -> str:
    """A short, safe rendering of a refused value for an error message."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _describe_type(value: object) -> str:
    return "null" if value is None else type(value).__name__


class Field(Generic[T]):
    """One argument's rules, shared by every surface.

    Args:
        name: The SDK keyword, which is also dbt's name for trigger fields and filters.
        doc: One sentence: the SDK docstring, the OpenAPI and MCP descriptions, the CLI help.
        flag: The command-line option (default `--` plus the name with dashes).
        metavar: The command-line placeholder.
        mcp_name: The MCP argument name when it differs (the seed spells ids `runId`).
        rest_name: The REST name when it differs (path parameters are lower-case there).
        wire_name: dbt's query parameter when it differs from the name (`name__icontains`).
    """

    __slots__ = ("doc", "flag", "mcp_name", "metavar", "name", "rest_name", "wire_name")

    #: The form a value takes in JSON Schema terms, for surfaces that need a Python type.
    kind: str = "string"

    def __init__(
        self,
        name: str,
        doc: str,
        *,
        flag: str | None = None,
        metavar: str | None = None,
        mcp_name: str | None = None,
        rest_name: str | None = None,
        wire_name: str | None = None,
    ) -> None:
        self.name = name
        self.doc = doc
        self.flag = flag or "--" + name.replace("_", "-")
        self.metavar = metavar
        self.mcp_name = mcp_name or name
        self.wire_name = wire_name or name
        self.rest_name = rest_name or self.wire_name

    def validate(self, value: object) -> T:
        """The value as the client sends it, or `FieldError` saying what is wrong with it."""
        raise NotImplementedError

    def check(self, value: object, *, as_name: str | None = None) -> T:
        """`validate`, raising `InvalidArgumentError` that names the argument."""
        try:
            return self.validate(value)
        except FieldError as exc:
            name = as_name or self.name
            raise InvalidArgumentError(f"{name} {exc}", argument=name) from None

    def from_text(self, texts: Sequence[str]) -> T:
        """Read a value from text (a query string's values, a command-line option's).

        `texts` holds one entry per occurrence; most fields take exactly one.
        """
        return self.validate(_single(texts))

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of an accepted value (portable: no `type` arrays)."""
        raise NotImplementedError

    def described_schema(self) -> dict[str, Any]:
        """`schema()` with this field's description."""
        return {**self.schema(), "description": self.doc}

    def wire(self, value: T) -> dict[str, str | int]:
        """The query parameters that carry `value` to dbt."""
        return {self.wire_name: value if isinstance(value, int) else str(value)}

    def path_text(self, value: T) -> str:
        """`value` as it goes into a URL path."""
        return str(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _single(texts: Sequence[str]) -> str:
    if len(texts) != 1:
        raise FieldError("must be given once")
    return texts[0]


# ---------------------------------------------------------------- scalars


class Integer(Field[int]):
    """An integer in `[minimum, maximum]`; ids by default (positive, 64-bit)."""

    __slots__ = ("hint", "maximum", "minimum")
    kind = "integer"

    def __init__(
        self,
        name: str,
        doc: str,
        *,
        minimum: int = 1,
        maximum: int = INT64_MAX,
        hint: str = "",
        **kw: Any,
    ) -> None:
        super().__init__(name, doc, **kw)
        self.minimum = minimum
        self.maximum = maximum
        self.hint = hint

    def validate(self, value: object) -> int:
        # JSON Schema calls 3.0 an integer (and a JavaScript client cannot tell them apart),
        # so a whole float is one here too. A bool is an int to Python, never to JSON.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(f"must be an integer, got {show(value)}")
        if not self.minimum <= value <= self.maximum:
            hint = f" ({self.hint})" if self.hint else ""
            raise FieldError(f"must be {self._bounds()}, got {show(value)}{hint}")
        return value

    def _bounds(self) -> str:
        if self.maximum == INT64_MAX:
            if self.minimum == 1:
                return "a positive 64-bit integer"
            return f">= {self.minimum} (and a 64-bit integer)"
        return f"between {self.minimum} and {self.maximum}"

    def from_text(self, texts: Sequence[str]) -> int:
        return self.validate(_int_text(_single(texts)))

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "integer",
            "minimum": self.minimum,
            "maximum": self.maximum,
        }
        if self.maximum == INT64_MAX:
            schema["format"] = "int64"
        return schema


_INT_TEXT: Final = re.compile(r"-?[0-9]{1,19}")


def _int_text(text: str) -> object:
    # Decimal digits only, as dbt writes ids: no sign but '-', no spaces, no other digits.
    return int(text) if _INT_TEXT.fullmatch(text) else text


class Number(Field[float]):
    """A number (of seconds, say) above `minimum` (or at least it, when `inclusive`)."""

    __slots__ = ("inclusive", "maximum", "minimum")
    kind = "number"

    def __init__(
        self,
        name: str,
        doc: str,
        *,
        minimum: float = 0,
        inclusive: bool = False,
        maximum: float | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(name, doc, **kw)
        self.minimum = minimum
        self.inclusive = inclusive
        self.maximum = maximum

    def validate(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(f"must be a number, got {show(value)}")
        low = value >= self.minimum if self.inclusive else value > self.minimum
        if not low or (self.maximum is not None and value > self.maximum):
            raise FieldError(f"must be {self._bounds()}, got {show(value)}")
        return value

    def _bounds(self) -> str:
        low = f"{'at least' if self.inclusive else 'more than'} {self.minimum:g}"
        return low if self.maximum is None else f"{low} and at most {self.maximum:g}"

    def from_text(self, texts: Sequence[str]) -> float:
        text = _single(texts).strip()
        try:
            number: object = float(text)
        except ValueError:
            number = text
        return self.validate(number)

    def schema(self) -> dict[str, Any]:
        bound = "minimum" if self.inclusive else "exclusiveMinimum"
        schema: dict[str, Any] = {"type": "number", bound: self.minimum}
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


def _text_problem(value: object, max_length: int) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {_describe_type(value)}"
    if not value.strip():
        return "must not be empty or blank"
    if len(value) > max_length:
        return f"must be at most {max_length} characters, got {len(value)}"
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


class Text(Field[str]):
    """Non-blank text of at most `max_length` characters, without NUL."""

    __slots__ = ("max_length",)

    def __init__(self, name: str, doc: str, *, max_length: int = 255, **kw: Any) -> None:
        super().__init__(name, doc, **kw)
        self.max_length = max_length

    def validate(self, value: object) -> str:
        problem = _text_problem(value, self.max_length)
        if problem is not None:
            raise FieldError(problem)
        assert isinstance(value, str)
        return value

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": self.max_length,
            "pattern": NOT_BLANK,
        }


class Flag(Field[bool]):
    """True or false."""

    __slots__ = ()
    kind = "boolean"

    def validate(self, value: object) -> bool:
        if not isinstance(value, bool):
            raise FieldError(f"must be true or false, got {show(value)}")
        return value

    def from_text(self, texts: Sequence[str]) -> bool:
        text = _single(texts).strip().lower()
        if text not in ("true", "false"):
            raise FieldError(f"must be true or false, got {show(texts[0])}")
        return text == "true"

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def wire(self, value: bool) -> dict[str, str | int]:
        return {self.wire_name: "true" if value else "false"}


class Choice(Field[str]):
    """One of a fixed set of words."""

    __slots__ = ("choices",)

    def __init__(self, name: str, doc: str, *, choices: Sequence[str], **kw: Any) -> None:
        super().__init__(name, doc, **kw)
        self.choices = tuple(choices)

    def validate(self, value: object) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise FieldError(f"must be one of {', '.join(self.choices)}, got {show(value)}")
        return value

    def from_text(self, texts: Sequence[str]) -> str:
        return self.validate(_single(texts).strip())

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}


# Relative, `/`-separated, no empty, `.` or `..` segment, no control character or backslash.
_CHAR: Final = r"[^/\x00-\x1f\x7f\\]"
_SEGMENT: Final = rf"(?:[^/.\x00-\x1f\x7f\\]{_CHAR}*|\.[^/.\x00-\x1f\x7f\\]{_CHAR}*|\.\.{_CHAR}+)"
ARTIFACT_PATH_PATTERN: Final = rf"^{_SEGMENT}(?:/{_SEGMENT})*$"
MAX_ARTIFACT_PATH: Final = 1024


class ArtifactPath(Field[str]):
    """A path under a run's `target/` directory: relative, no `.`/`..`, no control characters."""

    __slots__ = ()

    def validate(self, value: object) -> str:
        problem = _text_problem(value, MAX_ARTIFACT_PATH)
        if problem is not None:
            raise FieldError(problem)
        assert isinstance(value, str)
        if value.startswith("/"):
            raise FieldError(
                "must be relative to the run's target/ directory, e.g. 'manifest.json', "
                f"got {show(value)}"
            )
        if any(segment in ("", ".", "..") for segment in value.split("/")):
            raise FieldError(f"must not have empty, '.' or '..' segments, got {show(value)}")
        if not re.fullmatch(ARTIFACT_PATH_PATTERN, value):
            raise FieldError(
                f"must not contain control characters or backslashes, got {show(value)}"
            )
        return value

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_ARTIFACT_PATH,
            "pattern": ARTIFACT_PATH_PATTERN,
        }

    def path_text(self, value: str) -> str:
        return quote(value, safe="/")


class Timestamp(Field[datetime]):
    """A point in time: a `datetime` (naive means UTC) or an ISO 8601 text with a time zone.

    Two timestamps of the same `pair` travel to dbt as one range parameter
    (`created_at__range=["<after>","<before>"]`).
    """

    __slots__ = ("bound", "pair")

    def __init__(
        self, name: str, doc: str, *, pair: str, bound: Literal["after", "before"], **kw: Any
    ) -> None:
        super().__init__(name, doc, **kw)
        self.pair = pair
        self.bound = bound

    def validate(self, value: object) -> datetime:
        if isinstance(value, str):
            value = _parse_timestamp(value)
        if not isinstance(value, datetime):
            raise FieldError(f"must be a datetime or an ISO 8601 timestamp, got {show(value)}")
        # dbt stores every timestamp in UTC; a naive one is taken as UTC.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


def _parse_timestamp(text: str) -> datetime:
    # RFC 3339 (`T` or `t`, `Z` or `z`; a leap second counts as :59), with a time zone.
    cleaned = re.sub(r"([Tt ]\d\d:\d\d):60", r"\1:59", text.strip())
    try:
        stamp = datetime.fromisoformat(cleaned.upper().replace("Z", "+00:00"))
    except ValueError:
        raise FieldError(f"must be an ISO 8601 timestamp, got {show(text)}") from None
    if stamp.tzinfo is None:
        raise FieldError(f"needs a time zone (e.g. +00:00 or Z), got {show(text)}")
    return stamp


# ---------------------------------------------------------------- lists


def _text_items(texts: Sequence[str]) -> list[str]:
    """Split list values the ways real clients send them: repeated, comma-separated, or a
    JSON/Python-style list in one value (`[1, 2]`, `['job']`)."""
    items: list[str] = []
    for text in texts:
        stripped = text.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            try:
                decoded = json.loads(stripped.replace("'", '"'))
            except (ValueError, RecursionError):
                decoded = None
            if isinstance(decoded, list):
                items.extend(str(item).strip() for item in decoded)
                continue
            stripped = stripped[1:-1]
        items.extend(part.strip().strip("'\"") for part in stripped.split(","))
    if not items or any(not item for item in items):
        raise FieldError("must be a non-empty list without empty items")
    return items


def _sequence(value: object, what: str) -> list[object]:
    # Python callers may pass any iterable; a string is one value, not a list of letters.
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise FieldError(f"must be a list of {what}, got {_describe_type(value)}")
    return list(value)


MAX_STEPS: Final = 50
# dbt runs only dbt commands: each step is `dbt <something>`.
_COMMAND: Final = re.compile(rf"[{_WHITESPACE}]*dbt [{_WHITESPACE}]*[^{_WHITESPACE}]")


class Commands(Field[list[str]]):
    """A non-empty list of dbt commands, each starting with `dbt `."""

    __slots__ = ()
    kind = "array"

    def validate(self, value: object) -> list[str]:
        items = _sequence(value, 'dbt commands, e.g. ["dbt build"]')
        if not items:
            raise FieldError("must hold at least one dbt command")
        if len(items) > MAX_STEPS:
            raise FieldError(f"must hold at most {MAX_STEPS} commands, got {len(items)}")
        commands: list[str] = []
        for item in items:
            problem = _text_problem(item, 4096)
            if problem is not None:
                raise FieldError(f"must hold dbt commands: an entry {problem}")
            assert isinstance(item, str)
            if not _COMMAND.match(item):
                raise FieldError(
                    f'must hold dbt commands, each starting with "dbt ", e.g. "dbt build"; '
                    f"got {show(item)}"
                )
            commands.append(item)
        return commands

    def from_text(self, texts: Sequence[str]) -> list[str]:
        # One command per occurrence: a command holds commas and spaces of its own.
        return self.validate(list(texts))

    def schema(self) -> dict[str, Any]:
        return {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_STEPS,
            "items": {
                "type": "string",
                "maxLength": 4096,
                "pattern": rf"^[{_WHITESPACE}]*dbt [{_WHITESPACE}]*[^{_WHITESPACE}]",
            },
        }


class Names(Field[tuple[str, ...]]):
    """Several words out of a fixed set: a list, or one comma-separated text (`"trigger,job"`).

    dbt takes them comma-separated; a repeated name is sent once.
    """

    __slots__ = ("choices",)
    kind = "array"

    def __init__(self, name: str, doc: str, *, choices: Sequence[str], **kw: Any) -> None:
        super().__init__(name, doc, **kw)
        self.choices = tuple(choices)

    def validate(self, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        items = _sequence(value, "names")
        names: list[str] = []
        for item in items:
            if not isinstance(item, str) or item not in self.choices:
                raise FieldError(
                    f"has an unknown value {show(item)}; valid values: {', '.join(self.choices)}"
                )
            if item not in names:
                names.append(item)
        if not names:
            raise FieldError("must name at least one value")
        return tuple(names)

    def from_text(self, texts: Sequence[str]) -> tuple[str, ...]:
        return self.validate(_text_items(texts))

    def schema(self) -> dict[str, Any]:
        word = "|".join(re.escape(choice) for choice in self.choices)
        return {
            "anyOf": [
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "enum": list(self.choices)},
                },
                {"type": "string", "pattern": rf"^({word})(,({word}))*$"},
            ]
        }

    def wire(self, value: tuple[str, ...]) -> dict[str, str | int]:
        return {self.wire_name: ",".join(value)}


_STATUS_NAMES: Final = {status.name.lower(): status for status in RunStatus}
_STATUS_CODES: Final = tuple(int(status) for status in RunStatus)


def _status_code(value: object) -> int:
    if isinstance(value, str) and value.strip().lower() in _STATUS_NAMES:
        return int(_STATUS_NAMES[value.strip().lower()])
    if isinstance(value, int) and not isinstance(value, bool) and value in _STATUS_CODES:
        return int(value)
    raise FieldError(
        f"has an unknown run status {show(value)}: use a code "
        f"({', '.join(map(str, _STATUS_CODES))}) or a name ({', '.join(_STATUS_NAMES)})"
    )


class Statuses(Field[int | list[int]]):
    """One run status or several: a `RunStatus`, a code (10) or a name ("success").

    One status goes to dbt as `status=10`, several as `status__in=[10,20]`.
    """

    __slots__ = ()
    kind = "any"

    def validate(self, value: object) -> int | list[int]:
        if isinstance(value, int | str):
            return _status_code(value)
        items = _sequence(value, "run statuses")
        codes = list(dict.fromkeys(_status_code(item) for item in items))
        if not codes:
            raise FieldError("must name at least one status")
        return codes

    def from_text(self, texts: Sequence[str]) -> int | list[int]:
        items: list[object] = [_int_text(item) for item in _text_items(texts)]
        return self.validate(items[0] if len(items) == 1 and len(texts) == 1 else items)

    def schema(self) -> dict[str, Any]:
        one = {"enum": [*_STATUS_CODES, *_STATUS_NAMES]}
        return {"anyOf": [one, {"type": "array", "minItems": 1, "items": one}]}

    def wire(self, value: int | list[int]) -> dict[str, str | int]:
        if isinstance(value, int):
            return {self.name: value}
        return {f"{self.name}__in": _json_list(value)}


class Ids(Field[int | list[int]]):
    """One id or several: one goes to dbt as `<name>=1`, several as `<name>__in=[1,2]`."""

    __slots__ = ()
    kind = "any"
    _ID: Final = Integer("id", "An id.")

    def validate(self, value: object) -> int | list[int]:
        if isinstance(value, int) and not isinstance(value, bool):
            return self._ID.validate(value)
        if isinstance(value, str | bytes | bool | Mapping) or not isinstance(value, Iterable):
            raise FieldError(f"must be an id or a list of ids, got {show(value)}")
        items = list(value)
        ids = list(dict.fromkeys(self._ID.validate(item) for item in items))
        if not ids:
            raise FieldError("must hold at least one id")
        return ids

    def from_text(self, texts: Sequence[str]) -> int | list[int]:
        items = [_int_text(item) for item in _text_items(texts)]
        return self.validate(items[0] if len(items) == 1 and len(texts) == 1 else items)

    def schema(self) -> dict[str, Any]:
        one = self._ID.schema()
        return {"anyOf": [one, {"type": "array", "minItems": 1, "items": one}]}

    def wire(self, value: int | list[int]) -> dict[str, str | int]:
        if isinstance(value, int):
            return {self.name: value}
        return {f"{self.name}__in": _json_list(value)}


def _json_list(values: Iterable[Any]) -> str:
    # dbt validates list filters as one parameter holding a compact JSON list.
    return json.dumps(list(values), separators=(",", ":"))


def encode_query(fields: Iterable[Field[Any]], values: Mapping[str, Any]) -> dict[str, str | int]:
    """Check `values` (SDK keyword -> value; None means "not given") against `fields` and
    encode them as dbt's query parameters.

    Raises:
        InvalidArgumentError: The first value a field refuses, naming the argument.
    """
    params: dict[str, str | int] = {}
    ranges: dict[str, dict[str, datetime]] = {}
    for field in fields:
        value = values.get(field.name)
        if value is None:
            continue
        checked = field.check(value)
        if isinstance(field, Timestamp):
            ranges.setdefault(field.pair, {})[field.bound] = checked
        else:
            params.update(field.wire(checked))
    for pair, bounds in ranges.items():
        after = bounds.get("after", _EARLIEST)
        before = bounds.get("before", _LATEST)
        if after > before:
            name = pair.removesuffix("_at__range")
            raise InvalidArgumentError(
                f"{name}_after must not be later than {name}_before", argument=f"{name}_after"
            )
        params[pair] = _json_list([after.isoformat(), before.isoformat()])
    return params


_EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST: Final = datetime(9999, 12, 31, tzinfo=UTC)


# ================================================================ the declarations

ACCOUNT_ID: Final = Integer(
    "account_id",
    "dbt Cloud account id (the number after /accounts/ in dbt Cloud URLs).",
    mcp_name="accountId",
    rest_name="accountid",
    metavar="ID",
)
JOB_ID: Final = Integer(
    "job_id", "dbt Cloud job id (the job definition to run).", mcp_name="jobId", rest_name="jobid"
)
RUN_ID: Final = Integer(
    "run_id",
    "dbt Cloud run id, as a trigger or a run listing returns it.",
    mcp_name="runId",
    rest_name="runid",
)
RUN_IDS: Final = Ids(
    "pk",
    "Only these runs, by id (at most 100 a request: dbt's largest page).",
    metavar="ID",
)
"""dbt's `pk`/`pk__in` run filter: how the waits of an account read their runs together."""

MAX_CAUSE: Final = 255
CAUSE: Final = Text(
    "cause",
    "Why the run is triggered, shown in dbt Cloud's run history (1 to 255 characters); "
    "dbt-runs adds a marker unique to the request ([dbt-runs:...]) that proves which run it "
    "started.",
    max_length=MAX_CAUSE,
    metavar="TEXT",
)

TRIGGER_FIELDS: Final[tuple[Field[Any], ...]] = (
    CAUSE,
    Text("git_branch", "Check out this git branch instead of the environment's.", metavar="BRANCH"),
    Text("git_sha", "Check out this git commit.", metavar="SHA"),
    Text("schema_override", "Build into this schema instead of the job's.", metavar="SCHEMA"),
    Text("dbt_version_override", "Run with this dbt version.", metavar="VERSION"),
    Integer("threads_override", "Use this many dbt threads.", metavar="N"),
    Text("target_name_override", "The `target.name` value for this run.", metavar="NAME"),
    Flag("generate_docs_override", "Whether this run also generates docs."),
    Integer(
        "timeout_seconds_override",
        "dbt Cloud cancels the run after this many seconds (0: no limit).",
        minimum=0,
        metavar="SECONDS",
    ),
    Commands(
        "steps_override",
        "Run these dbt commands instead of the job's steps (at most 50, each starting with "
        "'dbt ', e.g. 'dbt build --select orders+').",
        metavar="CMD",
    ),
    Integer("github_pull_request_id", "The GitHub pull request this run builds.", metavar="N"),
    Integer("gitlab_merge_request_id", "The GitLab merge request this run builds.", metavar="N"),
    Integer("azure_pull_request_id", "The Azure DevOps pull request this run builds.", metavar="N"),
    Integer(
        "non_native_pull_request_id",
        "A pull request id from another git provider.",
        metavar="N",
    ),
)
"""dbt's trigger fields (every one optional but `cause`, which each surface defaults)."""

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
ORDER_FIELDS: Final = ("id", "created_at", "finished_at")
MAX_LIMIT: Final = 100

INCLUDE_RELATED_RUN: Final = Names(
    "include_related",
    "Related objects to embed in the run: 'run_steps' gives each step's status and logs, "
    "'trigger' the cause and overrides; 'debug_logs' makes the answer very large.",
    choices=RUN_RELATED,
    flag="--include",
    metavar="NAME",
)
INCLUDE_RELATED_LIST: Final = Names(
    "include_related",
    "Related objects to embed in each run.",
    choices=LIST_RELATED,
    flag="--include",
    metavar="NAME",
)
LIMIT: Final = Integer(
    "limit",
    f"How many per page, 1 to {MAX_LIMIT} (dbt refuses more).",
    maximum=MAX_LIMIT,
    hint="dbt Cloud refuses larger pages; iterate over the listing to get every run",
    metavar="N",
)
OFFSET: Final = Integer("offset", "How many matching runs to skip.", minimum=0, metavar="N")
STEP: Final = Integer(
    "step",
    "The 1-based run step whose artifact to read; without it dbt serves the last step's, "
    "which is often `dbt docs generate`, not the step that built your models.",
    metavar="N",
)
ARTIFACT_PATH: Final = ArtifactPath(
    "path",
    "The artifact's path under dbt's target/ directory, e.g. 'run_results.json'.",
    metavar="PATH",
)

ORDER_BY: Final = Choice(
    "order_by",
    "Sort key; a leading '-' sorts descending.",
    choices=tuple(f"{sign}{field}" for field in ORDER_FIELDS for sign in ("", "-")),
    metavar="KEY",
)

ENVIRONMENT_ID: Final = Integer(
    "environment_id", "Only those in this environment.", flag="--environment", metavar="ID"
)
PROJECT_ID: Final = Ids(
    "project_id", "Only those of this project, or of any of these projects.", flag="--project"
)

LIST_FILTERS: Final[tuple[Field[Any], ...]] = (
    Integer("job_definition_id", "Only runs of this job.", flag="--job", metavar="ID"),
    ENVIRONMENT_ID,
    PROJECT_ID,
    Statuses(
        "status",
        "Only runs with this status, or any of these: 1 Queued, 2 Starting, 3 Running, "
        "10 Success, 20 Error, 30 Cancelled (a code or a name such as 'error').",
        metavar="STATUS",
    ),
    ORDER_BY,
    INCLUDE_RELATED_LIST,
    Timestamp(
        "created_after",
        "Only runs created at or after this time.",
        pair="created_at__range",
        bound="after",
        metavar="TIME",
    ),
    Timestamp(
        "created_before",
        "Only runs created at or before this time.",
        pair="created_at__range",
        bound="before",
        metavar="TIME",
    ),
    Timestamp(
        "finished_after",
        "Only runs finished at or after this time.",
        pair="finished_at__range",
        bound="after",
        metavar="TIME",
    ),
    Timestamp(
        "finished_before",
        "Only runs finished at or before this time.",
        pair="finished_at__range",
        bound="before",
        metavar="TIME",
    ),
)
"""The run-list filters (without `limit` and `offset`, which every listing takes)."""

JOB_FILTERS: Final[tuple[Field[Any], ...]] = (
    PROJECT_ID,
    ENVIRONMENT_ID,
    Text(
        "name_contains",
        "Only jobs whose name contains this text, in any case.",
        wire_name="name__icontains",
        metavar="TEXT",
    ),
)
"""The job-list filters (without `limit` and `offset`)."""

IF_RUNNING: Final = Choice(
    "if_running",
    "When the job already has a run queued or running: 'queue' a new one behind it (dbt's "
    "own way), 'reuse' that run instead of starting another, or 'fail' naming it.",
    choices=("queue", "reuse", "fail"),
    metavar="WHAT",
)
LOG_LINES: Final = Integer(
    "log_lines",
    "How many of each failed step's last log lines to keep (0 to 1000).",
    minimum=0,
    maximum=1000,
    metavar="N",
)
INCLUDE_WARNINGS: Final = Flag(
    "include_warnings", "Also report nodes and sources that only warned."
)
