"""The one cattrs converter: every hook that turns dbt's JSON into `dbt_runs.models`.

Two flavours share the same hooks. `converter` is lenient (what the client uses): unknown
fields are ignored and undocumented status codes parse. `strict_converter` rejects both, so
the tests notice when dbt's payloads drift from what the models know.

Each flavour exists twice: a fast one (no detailed validation, an `X | None` hook resolved
once per field) that parses every payload, and a detailed one that runs only when the fast
one failed, to say exactly which field was wrong. Listing 10,000 runs parses 10,000 runs, so
the fast path matters.
"""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar, Union, get_args, get_origin, get_type_hints

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.gen import make_dict_structure_fn, override

from dbt_runs.models import Job, Run, RunStatus, RunStep, RunTrigger

__all__ = [
    "converter",
    "make_converter",
    "strict_converter",
    "structure",
    "structure_many",
    "validation_message",
]

T = TypeVar("T")

_DURATION = re.compile(
    r"^\s*(?:(?P<days>-?\d+) days?, )?(?P<sign>-)?(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2})"
    r"(?:\.(?P<frac>\d{1,6}))?\s*$"
)


def parse_timestamp(value: object, _: object = None) -> datetime:
    """Parse both timestamp forms dbt sends; a naive value is taken as UTC.

    `2024-05-27 10:42:16.179903+00:00` (runs) and `2024-03-25T13:47:20.129690Z` (jobs).
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value)
    else:
        raise TypeError(f"expected a timestamp string, got {type(value).__name__}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_duration(value: object, _: object = None) -> timedelta:
    """Parse dbt's `HH:MM:SS` durations (hours may exceed 24: `24:00:36`)."""
    if type(value) is str:
        # Every run carries three durations and most are a few seconds or minutes long, so a
        # page repeats the same strings; timedelta is immutable, so sharing one is safe.
        return _cached_duration(value)
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an HH:MM:SS duration string, got {type(value).__name__}")
    return _parse_duration_text(value)


def _parse_duration_text(value: str) -> timedelta:
    # The common shape, without a regex.
    hours, _, rest = value.partition(":")
    minutes, _, seconds = rest.partition(":")
    if (
        hours.isdecimal()
        and len(minutes) == 2
        and minutes.isdecimal()
        and len(seconds) == 2
        and seconds.isdecimal()
    ):
        return timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds))
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"expected an HH:MM:SS duration, got {value!r}")
    frac = match["frac"] or "0"
    delta = timedelta(
        hours=int(match["h"]),
        minutes=int(match["m"]),
        seconds=int(match["s"]),
        microseconds=int(frac.ljust(6, "0")),
    )
    if match["sign"]:
        delta = -delta
    if match["days"]:
        delta += timedelta(days=int(match["days"]))
    return delta


# Bounded so that a long listing of distinct durations cannot grow it without limit. Errors
# are not cached (lru_cache never stores a raised exception), so bad input raises every time.
_cached_duration: Final = functools.lru_cache(maxsize=4096)(_parse_duration_text)


def _structure_bool(value: object, _: object) -> bool:
    if isinstance(value, bool):
        return value
    # bool("false") is True: never let Python's truthiness decide a flag.
    raise TypeError(f"expected true or false, got {value!r}")


def _structure_int(value: object, _: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected an integer, got {value!r}")


def _structure_str(value: object, _: object) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {value!r}")


def _optional_str(value: object, _: object) -> str | None:
    if value is None or type(value) is str:
        return value
    return _structure_str(value, _)


def _optional_int(value: object, _: object) -> int | None:
    if value is None or type(value) is int:
        return value
    return _structure_int(value, _)


def _optional_bool(value: object, _: object) -> bool | None:
    if value is None or type(value) is bool:
        return value
    return _structure_bool(value, _)


def _optional_timestamp(value: object, _: object) -> datetime | None:
    if type(value) is str:
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None if value is None else parse_timestamp(value)


def _optional_duration(value: object, _: object) -> timedelta | None:
    if value is None:
        return None
    if type(value) is str:
        return _cached_duration(value)
    return parse_duration(value)


# Most of a run's 55 fields are one of these: one call each instead of two.
_OPTIONAL_PRIMITIVES: Final[dict[Any, Callable[[object, object], Any]]] = {
    str: _optional_str,
    int: _optional_int,
    bool: _optional_bool,
    datetime: _optional_timestamp,
    timedelta: _optional_duration,
}


def _structure_mapping(value: object, _: object) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise TypeError(f"expected an object, got {type(value).__name__}")


def _optional_mapping(value: object, _: object) -> Mapping[str, Any] | None:
    if value is None or type(value) is dict:
        return value
    return _structure_mapping(value, _)


# Looking a member up by value through the enum's own call costs about a microsecond; every
# run has a status.
_STATUSES: Final = {status.value: status for status in RunStatus}


def _structure_status(strict: bool) -> Callable[[object, object], RunStatus]:
    def hook(value: object, _: object) -> RunStatus:
        if type(value) is int and value in _STATUSES:
            return _STATUSES[value]
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"expected a status code, got {value!r}")
        status = RunStatus(value)
        if strict and not status.is_known:
            raise ValueError(f"undocumented status code {value}")
        return status

    return hook


def _is_optional(t: Any) -> bool:
    args = get_args(t)
    return get_origin(t) in (Union, types.UnionType) and len(args) == 2 and type(None) in args


def _optional_hook_factory(conv: cattrs.Converter) -> Callable[[Any], Any]:
    # cattrs' generic Optional hook looks the inner hook up on every value; resolving it once
    # per field type makes parsing a run about twice as fast.
    def factory(t: Any) -> Callable[[Any, Any], Any]:
        inner = next(arg for arg in get_args(t) if arg is not type(None))
        if inner in _OPTIONAL_PRIMITIVES:
            return _OPTIONAL_PRIMITIVES[inner]
        if inner == Mapping[str, Any]:
            return _optional_mapping
        hook = conv.get_structure_hook(inner)
        if _is_homogeneous_tuple(inner):
            # `blocked_by` and `run_steps` are `[]` on nearly every listed run.
            def structure_optional_tuple(value: Any, _: Any) -> Any:
                if value is None:
                    return None
                if type(value) is list and not value:
                    return ()
                return hook(value, inner)

            return structure_optional_tuple

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else hook(value, inner)

        return structure_optional

    return factory


def _is_homogeneous_tuple(t: Any) -> bool:
    args = get_args(t)
    return get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis


def _tuple_hook_factory(conv: cattrs.Converter) -> Callable[[Any], Any]:
    # `blocked_by` and `run_steps` are `[]` on nearly every listed run: answer that without
    # cattrs' generic tuple hook, which inspects the type's arguments on every call.
    def factory(t: Any) -> Callable[[Any, Any], Any]:
        generic = homogenous_tuple_structure_factory(t, conv)
        item = get_args(t)[0]

        if item is int:

            def structure_int_tuple(value: Any, _: Any) -> Any:
                if type(value) is list and all(type(v) is int for v in value):
                    return tuple(value)
                return generic(value, t)

            return structure_int_tuple

        def structure_tuple(value: Any, _: Any) -> Any:
            if type(value) is list and not value:
                return ()
            return generic(value, t)

        return structure_tuple

    return factory


def make_converter(*, strict: bool = False, detailed: bool = True) -> cattrs.Converter:
    """Build a converter; `strict=True` also rejects unknown fields and status codes.

    `detailed=False` gives the fast flavour, whose errors do not say which field failed.
    """
    conv = cattrs.Converter(forbid_extra_keys=strict, detailed_validation=detailed)
    conv.register_structure_hook(datetime, parse_timestamp)
    conv.register_structure_hook(timedelta, parse_duration)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(RunStatus, _structure_status(strict))
    conv.register_structure_hook_func(
        lambda t: t is Mapping[str, Any] or t == Mapping[str, Any], _structure_mapping
    )
    conv.register_structure_hook_factory(_is_optional, _optional_hook_factory(conv))
    if not detailed:
        # The detailed flavour keeps cattrs' own tuple hook, which names the failing index.
        conv.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_hook_factory(conv))
    # Registered innermost first, so each class's generated function finds its children's hooks.
    for cls in (RunTrigger, RunStep, Job, Run):
        _register_model(conv, cls)
    return conv


def _register_model(conv: cattrs.Converter, cls: type[Any]) -> None:
    # `raw` is no key of dbt's JSON (a "raw" key there is an unknown field like any other):
    # it is set on the new instance below, so the payload needs no copy with an extra key.
    generated = make_dict_structure_fn(
        cls, conv, _cattrs_forbid_extra_keys=conv.forbid_extra_keys, raw=override(omit=True)
    )
    set_raw = object.__setattr__

    def hook(value: Any, _: object) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"expected a {cls.__name__} object, got {type(value).__name__}")
        instance = generated(value, cls)
        # Frozen, but not yet seen by anyone: the same write attrs' own __init__ makes.
        set_raw(instance, "raw", value)
        return instance

    if conv.detailed_validation or conv.forbid_extra_keys:
        conv.register_structure_hook(cls, hook)
    else:
        conv.register_structure_hook(cls, _inlined_hook(conv, cls, hook))


# How the inlined hook reads each kind of field (`v` is the field's value, `h` its cattrs hook,
# `t` its type): the usual JSON value is taken or converted in place, and anything else goes to
# the very hook cattrs would have called.
_INLINE: Final[dict[Any, str]] = {
    int: "if v is not None and type(v) is not int: v = h(v, t)",
    str: "if v is not None and type(v) is not str: v = h(v, t)",
    bool: "if v is not None and type(v) is not bool: v = h(v, t)",
    datetime: (
        "if type(v) is str:\n"
        "    v = fromisoformat(v)\n"
        "    if v.tzinfo is None: v = v.replace(tzinfo=UTC)\n"
        "elif v is not None: v = h(v, t)"
    ),
    timedelta: "if v is not None: v = duration(v) if type(v) is str else h(v, t)",
    RunStatus: "if v is not None: v = STATUSES[v] if type(v) is int and v in STATUSES else h(v, t)",
}


def _inlined_hook(
    conv: cattrs.Converter, cls: type[Any], fallback: Callable[[Any, object], Any]
) -> Callable[[Any, object], Any]:
    """The lenient fast flavour's hook for `cls`: cattrs' generated function with each field's
    hook inlined for the values dbt sends (an int, a string, a timestamp, null).

    A run has 55 fields: one function call per field, and the keyword arguments of `cls(...)`,
    were most of what parsing it cost. Values of any other type take the field's own cattrs
    hook, so the result, and what is refused, stay the same as `fallback`'s (the tests compare
    them field by field). Every field but `id` defaults to None, which is what `.get` gives for
    an absent key; a class with any other default keeps `fallback`.
    """
    hints = get_type_hints(cls)
    fields = [f for f in attrs.fields(cls) if f.name != "raw"]
    if any(f.default is not None and f.name != "id" for f in fields):
        return fallback
    namespace: dict[str, Any] = {
        "cls": cls,
        "new": object.__new__,
        "setattr": object.__setattr__,
        "fallback": fallback,
        "fromisoformat": datetime.fromisoformat,
        "UTC": UTC,
        "duration": _cached_duration,
        "STATUSES": _STATUSES,
    }
    lines = [
        "def structure(o, _=None):",
        "    if type(o) is not dict: return fallback(o, cls)",
        "    get = o.get",
        "    instance = new(cls)",
    ]
    for i, field in enumerate(fields):
        kind = hints[field.name]
        namespace[f"h{i}"], namespace[f"t{i}"] = conv.get_structure_hook(kind), kind
        inner = next((a for a in get_args(kind) if a is not type(None)), kind)
        if field.name == "id" and field.default is attrs.NOTHING:
            lines.append("    v = o['id']")  # required: a KeyError, as cattrs gives
        else:
            lines.append(f"    v = get({field.name!r})")
        code = _INLINE.get(inner, "if v is not None: v = h(v, t)")
        if kind is int:  # a required int: None is refused
            code = "if type(v) is not int: v = h(v, t)"
        code = code.replace("h(v, t)", f"h{i}(v, t{i})")
        lines += ["    " + line for line in code.split("\n")]
        lines.append(f"    setattr(instance, {field.name!r}, v)")
    lines += ["    setattr(instance, 'raw', o)", "    return instance"]
    filename = f"<dbt-runs inlined structure {cls.__module__}.{cls.__qualname__}>"
    exec(compile("\n".join(lines), filename, "exec"), namespace)  # noqa: S102 (our own code)
    structure: Callable[[Any, object], Any] = namespace["structure"]
    return structure


@functools.cache
def _built(strict: bool, detailed: bool) -> cattrs.Converter:
    # Built on first use: generating the four converters' code is most of what importing this
    # module would cost, and a command that parses nothing (`dbt-runs runs --help`) needs none;
    # the detailed two are needed only once a payload has failed to parse.
    return make_converter(strict=strict, detailed=detailed)


# name -> (strict, detailed)
_FLAVOURS: Final = {
    "converter": (False, True),
    "strict_converter": (True, True),
    "_fast": (False, False),
    "_fast_strict": (True, False),
}

if TYPE_CHECKING:
    converter: cattrs.Converter
    strict_converter: cattrs.Converter
    _fast: cattrs.Converter
    _fast_strict: cattrs.Converter
else:

    def __getattr__(name: str) -> cattrs.Converter:
        if name in _FLAVOURS:
            strict, detailed = _FLAVOURS[name]
            return _built(strict, detailed)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def structure(value: Any, cls: type[T], *, strict: bool = False) -> T:
    """Structure `value` into `cls` (lenient unless `strict`).

    Raises:
        cattrs.BaseValidationError: With every failing field's path (see
            `validation_message`).
    """
    try:
        return _built(strict, False).structure(value, cls)
    except Exception as fast_error:
        # Parse again, slowly, only to learn which fields failed and why.
        _built(strict, True).structure(value, cls)
        raise fast_error


def structure_many(values: list[Any], cls: type[T]) -> tuple[T, ...]:
    """`structure` each of `values` into `cls` (leniently): a page of a listing.

    The same as one `structure` call per value, with the hook looked up once per page
    instead of once per item; the first failure is parsed again by `structure` for its
    detailed error.
    """
    hook = _built(False, False).get_structure_hook(cls)
    try:
        return tuple([hook(value, cls) for value in values])
    except Exception:
        for value in values:
            structure(value, cls)
        raise


def validation_message(exc: BaseException, what: str) -> str:
    """A short, path-tagged description of why a payload did not parse."""
    if isinstance(exc, cattrs.BaseValidationError):
        problems = cattrs.transform_error(exc, path=what)
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        return f"dbt Cloud sent a {what} this client cannot read: {shown}{more}"
    return f"dbt Cloud sent a {what} this client cannot read: {exc}"
