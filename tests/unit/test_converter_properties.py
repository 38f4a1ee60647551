"""Property checks for the converter's hand-written parsers (bounded, derandomized)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_runs import Run
from dbt_runs._converter import parse_duration, parse_timestamp, structure

from .fakes import run_json

SETTINGS = settings(max_examples=200, derandomize=True, deadline=None)


@SETTINGS
@given(
    hours=st.integers(0, 100_000),
    minutes=st.integers(0, 59),
    seconds=st.integers(0, 59),
)
def test_every_hh_mm_ss_duration(hours: int, minutes: int, seconds: int) -> None:
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    assert parse_duration(text) == timedelta(hours=hours, minutes=minutes, seconds=seconds)


@SETTINGS
@given(
    when=st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    )
)
def test_both_timestamp_forms_round_trip(when: datetime) -> None:
    run_style = when.isoformat(sep=" ")  # "2024-05-27 10:42:16.179903+00:00"
    job_style = when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert parse_timestamp(run_style) == when
    assert parse_timestamp(job_style) == when


@SETTINGS
@given(run_id=st.integers(1, 2**63 - 1), status=st.integers(-(2**31), 2**31))
def test_any_64_bit_id_and_any_status_code_parse_leniently(run_id: int, status: int) -> None:
    run = structure(run_json(run_id, status), Run)
    assert run.id == run_id
    assert run.status == status


@SETTINGS
@given(extra=st.dictionaries(st.text(min_size=1).filter(lambda k: k not in run_json()), st.none()))
def test_unknown_fields_never_break_lenient_parsing(extra: dict[str, None]) -> None:
    assert structure({**run_json(3, 10), **extra}, Run).id == 3
