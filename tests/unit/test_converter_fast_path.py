"""The fast flavour's shortcuts (duration cache, tuple and optional hooks, `raw` set afterwards)
must give exactly what the detailed flavour, built on cattrs' own hooks, gives."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest

from dbt_runs import Job, Run, RunStep, RunTrigger
from dbt_runs._converter import (
    _cached_duration,
    _fast,
    _fast_strict,
    converter,
    parse_duration,
    strict_converter,
    structure,
)

from .fakes import run_json

EXAMPLES = Path(__file__).parents[1] / "data" / "reference" / "examples"


def _fields(obj: Any) -> dict[str, Any]:
    # Equality leaves `raw` out; compare it too, and the types (True == 1, 1 == 1.0).
    return {f.name: (type(v), v) for f in attrs.fields(type(obj)) for v in [getattr(obj, f.name)]}


def _same(fast: Any, detailed: Any) -> None:
    assert type(fast) is type(detailed)
    assert _fields(fast) == _fields(detailed)
    if isinstance(fast, Run):
        for name in ("trigger", "job"):
            if getattr(fast, name) is not None:
                _same(getattr(fast, name), getattr(detailed, name))
        for fast_step, detailed_step in zip(
            fast.run_steps or (), detailed.run_steps or (), strict=True
        ):
            _same(fast_step, detailed_step)


def _run_objects() -> list[dict[str, Any]]:
    out = []
    for path in sorted(EXAMPLES.rglob("run*.json")) + sorted(EXAMPLES.rglob("list_runs*.json")):
        if "legacy-v4" in path.parts or "errors" in path.parts:
            continue
        data = json.loads(path.read_text()).get("data")
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and "trigger_id" in item:
                out.append(item)
    return out


RICH_RUN = run_json(
    7,
    10,
    blocked_by=[3, 4, 2**63 - 1],
    duration="24:00:36",
    queued_duration="00:00:01.5",
    run_duration="1 day, 00:00:36",
    trigger={"id": 1, "cause": "API", "steps_override": ["dbt build"], "job": {"a": 1}},
    job={"id": 2, "name": "nightly", "execute_steps": [], "cost_optimization_features": ["x"]},
    run_steps=[
        {"id": 1, "index": 1, "status": 10, "duration": "00:00:05", "name": "Clone"},
        {"id": 2, "index": 2, "status": 20, "duration": None, "started_at": "2024-03-25T13:47Z"},
    ],
)


def test_there_are_run_captures() -> None:
    assert len(_run_objects()) >= 3


@pytest.mark.parametrize(
    "payload",
    [*_run_objects(), RICH_RUN, {"id": 1}, run_json(2, 30, blocked_by=None, run_steps=None)],
)
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_fast_flavour_gives_what_cattrs_own_hooks_give(
    payload: dict[str, Any], strict: bool
) -> None:
    fast = (_fast_strict if strict else _fast).structure(payload, Run)
    detailed = (strict_converter if strict else converter).structure(payload, Run)
    _same(fast, detailed)
    assert fast.raw is payload


def test_unknown_status_codes_parse_the_same_on_both_flavours() -> None:
    payload = {**RICH_RUN, "status": 40, "run_steps": [{"id": 1, "status": 99}]}
    fast = _fast.structure(payload, Run)
    _same(fast, converter.structure(payload, Run))
    assert fast.status is not None
    assert fast.status.name == "UNKNOWN_40"


@pytest.mark.parametrize(
    "change",
    [
        {"status": True},
        {"status": "10"},
        {"status": 10.0},
        {"environment": ["not", "an", "object"]},
        {"blocked_by": "3"},
        {"blocked_by": [True]},
    ],
)
def test_the_fast_paths_reject_what_cattrs_own_hooks_reject(change: dict[str, Any]) -> None:
    payload = {**run_json(8, 10), **change}
    with pytest.raises(Exception):  # noqa: B017, PT011 (cattrs' and ours differ in class)
        converter.structure(payload, Run)
    with pytest.raises(Exception):  # noqa: B017, PT011
        _fast.structure(payload, Run)


def test_nested_models_keep_their_own_json_as_raw() -> None:
    run = structure(RICH_RUN, Run)
    assert run.trigger is not None
    assert run.trigger.raw is RICH_RUN["trigger"]
    assert run.job is not None
    assert run.job.raw is RICH_RUN["job"]
    assert run.run_steps is not None
    assert [step.raw for step in run.run_steps] == RICH_RUN["run_steps"]
    assert run.run_steps[0].raw is RICH_RUN["run_steps"][0]
    assert run.blocked_by == (3, 4, 2**63 - 1)
    assert run.job.execute_steps == ()
    assert isinstance(run.run_steps[0], RunStep)
    assert isinstance(run.trigger, RunTrigger)
    assert isinstance(run.job, Job)


def test_a_raw_key_in_the_json_is_an_ordinary_unknown_field() -> None:
    payload = {**run_json(5, 10), "raw": {"not": "the raw"}}
    assert structure(payload, Run).raw is payload
    with pytest.raises(cattrs.ClassValidationError) as info:
        structure(payload, Run, strict=True)
    assert "raw" in str(cattrs.transform_error(info.value))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:00", timedelta(0)),
        ("99999:59:59", timedelta(hours=99999, minutes=59, seconds=59)),
        (" 00:01:02 ", timedelta(minutes=1, seconds=2)),
        ("0:1:2", timedelta(minutes=1, seconds=2)),
        ("-00:00:05", timedelta(seconds=-5)),
        ("2 days, 01:00:00", timedelta(days=2, hours=1)),
        ("-1 day, 23:59:59", timedelta(seconds=-1)),
        ("00:00:00.000001", timedelta(microseconds=1)),
    ],
)
def test_cached_durations_are_right_the_first_time_and_the_second(
    text: str, expected: timedelta
) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(text) == expected
    assert structure(run_json(1, duration=text), Run).duration == expected


@pytest.mark.parametrize("bad", ["soon", "", "00:00", "00:0a:00", "00:00:60x", "1:2"])
def test_bad_durations_raise_every_time_not_only_the_first(bad: str) -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="HH:MM:SS"):
            parse_duration(bad)


@pytest.mark.parametrize("bad", [55, 1.5, None, ["00:00:01"], {"h": 1}])
def test_non_string_durations_raise_type_errors(bad: object) -> None:
    with pytest.raises(TypeError, match="duration string"):
        parse_duration(bad)


def test_timedelta_and_str_subclass_durations_still_parse() -> None:
    class Text(str):
        pass

    assert parse_duration(timedelta(seconds=3)) == timedelta(seconds=3)
    assert parse_duration(Text("00:00:03")) == timedelta(seconds=3)


def test_the_duration_cache_is_bounded() -> None:
    for seconds in range(10_000):
        parse_duration(f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}")
    info = _cached_duration.cache_info()
    assert info.maxsize is not None
    assert info.currsize <= info.maxsize


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", "soon"),
        ("run_duration", 12),
        ("blocked_by", [1, "2"]),
        ("blocked_by", [True]),
        ("blocked_by", 5),
        ("run_steps", [{"id": "x"}]),
        ("run_steps", ["step"]),
        ("created_at", "yesterday"),
        ("created_at", 1700000000),
        ("is_success", "false"),
        ("trigger", []),
        ("job", {"execute_steps": [1]}),
    ],
)
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_bad_values_still_name_their_field(field: str, value: object, strict: bool) -> None:
    with pytest.raises(cattrs.BaseValidationError) as info:
        structure(run_json(1, **{field: value}), Run, strict=strict)
    assert any(field in message for message in cattrs.transform_error(info.value))


def test_blocked_by_accepts_any_iterable_of_ints_as_before() -> None:
    assert structure(run_json(1, blocked_by=(1, 2)), Run).blocked_by == (1, 2)
    assert structure(run_json(1, blocked_by=[]), Run).blocked_by == ()
    assert structure(run_json(1, run_steps=()), Run).run_steps == ()


# Every kind of JSON value, and the odd ones a field's own hook must still decide on.
ODD_VALUES: list[object] = [
    None,
    0,
    7,
    -1,
    2**63,
    True,
    False,
    1.5,
    10.0,
    "",
    "x",
    "10",
    "2024-05-27 10:42:16.179903+00:00",
    "2024-03-25T13:47:20.129690Z",
    "2024-03-25T13:47:20",
    "00:00:05",
    "24:00:36",
    [],
    [1, 2],
    ["a"],
    {},
    {"id": 1},
]


def _outcome(conv: cattrs.Converter, payload: dict[str, Any], cls: type[Any]) -> object:
    try:
        return _fields(conv.structure(payload, cls))
    except Exception:  # only whether it is refused is compared
        return "refused"


@pytest.mark.parametrize("cls", [Run, RunStep, RunTrigger, Job])
def test_the_inlined_hooks_take_and_refuse_what_cattrs_own_hooks_do(cls: type[Any]) -> None:
    base = run_json(3, 10) if cls is Run else {"id": 3}
    checked = 0
    for field in attrs.fields(cls):
        for value in [*ODD_VALUES, "missing"]:
            payload = dict(base)
            if value == "missing":
                payload.pop(field.name, None)
            else:
                payload[field.name] = value
            fast = _outcome(_fast, payload, cls)
            assert fast == _outcome(converter, payload, cls), (field.name, value)
            checked += fast != "refused"
    assert checked > len(attrs.fields(cls))  # most values of most fields parse


def test_the_inlined_hook_is_the_lenient_fast_flavour_only() -> None:
    assert "inlined" in _fast.get_structure_hook(Run).__code__.co_filename
    for conv in (_fast_strict, converter, strict_converter):
        assert "inlined" not in conv.get_structure_hook(Run).__code__.co_filename
