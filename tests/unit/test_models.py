"""Models and the converter: every captured dbt payload parses, leniently and strictly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cattrs
import pytest

from dbt_runs import Job, Run, RunPage, RunStatus
from dbt_runs._converter import parse_duration, parse_timestamp, structure

from .fakes import TOKEN, run_json

EXAMPLES = Path(__file__).parents[1] / "data" / "reference" / "examples"
# legacy-v4 is a retired API version with another shape; error bodies go through the error
# mapping (tests/unit/test_errors.py); the artifact body is a dbt artifact, not an API object.
SKIP = {"legacy-v4", "errors"}
NOT_API_OBJECTS = {"run_get_artifact_response.json"}

# Fields present in real payloads that the models deliberately do not name, with the reason.
# (None so far: every field seen in a capture is a model field. Add entries here, not hacks.)
ALLOWED_DRIFT: dict[str, str] = {}


def _captures() -> list[Path]:
    files = sorted(EXAMPLES.rglob("*.json"))
    return [
        f
        for f in files
        if not SKIP & set(f.relative_to(EXAMPLES).parts) and f.name not in NOT_API_OBJECTS
    ]


def _objects(body: dict[str, Any]) -> list[tuple[type[Any], dict[str, Any]]]:
    data = body["data"]
    items = data if isinstance(data, list) else [data]
    out: list[tuple[type[Any], dict[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            continue  # artifact paths
        out.append((Run if "trigger_id" in item else Job, item))
    return out


def test_there_are_captures_to_check() -> None:
    names = {f.name for f in _captures()}
    assert {"run.json", "list_runs_response.json", "run_get_response.json"} <= names


@pytest.mark.parametrize("path", _captures(), ids=lambda p: str(p.relative_to(EXAMPLES)))
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_every_capture_parses(path: Path, strict: bool) -> None:
    body = json.loads(path.read_text())
    for cls, obj in _objects(body):
        if strict:
            obj = {k: v for k, v in obj.items() if k not in ALLOWED_DRIFT}
        parsed = structure(obj, cls, strict=strict)
        assert parsed.raw is obj
        assert parsed.id == obj["id"]


def test_strict_mode_notices_a_new_field_and_lenient_ignores_it() -> None:
    data = run_json(1, 10, brand_new_field=True)
    assert structure(data, Run).id == 1
    with pytest.raises(cattrs.BaseValidationError):
        structure(data, Run, strict=True)


def test_unknown_status_parses_leniently_but_not_strictly() -> None:
    data = run_json(1, 40, is_complete=True)
    run = structure(data, Run)
    assert run.status == 40
    assert run.status is not None
    assert run.status.name == "UNKNOWN_40"
    assert not run.status.is_known
    # dbt's own flag decides whether an undocumented status is finished.
    assert run.is_terminal
    with pytest.raises(cattrs.BaseValidationError):
        structure(data, Run, strict=True)


def test_every_field_but_id_may_be_null() -> None:
    data = dict.fromkeys(run_json(1))
    data["id"] = 1
    run = structure(data, Run, strict=True)
    assert run.status is None
    assert run.created_at is None
    assert not run.is_terminal
    assert "id=1" in repr(run)


def test_open_metadata_capture_has_64_bit_ids_and_a_day_long_duration() -> None:
    body = json.loads((EXAMPLES / "open-metadata_OpenMetadata/list_runs_response.json").read_text())
    run = structure(body["data"][0], Run)
    assert run.id == 70403110257794
    assert run.duration == timedelta(hours=24, seconds=36)
    assert run.status is RunStatus.CANCELLED
    assert run.created_at == datetime(2024, 5, 27, 10, 42, 16, 179903, tzinfo=UTC)
    queued = structure(body["data"][1], Run)
    assert queued.blocked_by == (70403111611683,)
    assert queued.in_progress


def test_trigger_capture_embeds_trigger_and_job_with_iso_timestamps() -> None:
    body = json.loads((EXAMPLES / "kestra-io_plugin-dbt/run.json").read_text())
    run = structure(body["data"], Run, strict=True)
    assert run.trigger is not None
    assert run.trigger.cause == "Triggered by Kestra."
    assert run.trigger.cause_category == "api"
    assert run.trigger.timeout_seconds_override == 7200
    assert run.job is not None
    assert run.job.name == "[Core] CI build on merge"
    assert run.job.created_at == datetime(2024, 3, 25, 13, 47, 20, 129690, tzinfo=UTC)
    assert run.job.execute_steps == ("dbt build --select state:modified+",)
    assert run.cause == "Triggered by Kestra."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-27 10:42:16.179903+00:00", datetime(2024, 5, 27, 10, 42, 16, 179903, tzinfo=UTC)),
        ("2024-03-25T13:47:20.129690Z", datetime(2024, 3, 25, 13, 47, 20, 129690, tzinfo=UTC)),
        ("2024-03-25T13:47:20", datetime(2024, 3, 25, 13, 47, 20, tzinfo=UTC)),
        ("2021-11-18T15:19:03.185668+00:00", datetime(2021, 11, 18, 15, 19, 3, 185668, tzinfo=UTC)),
    ],
)
def test_both_timestamp_forms(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:51", timedelta(seconds=51)),
        ("24:00:36", timedelta(days=1, seconds=36)),
        ("123:04:05", timedelta(hours=123, minutes=4, seconds=5)),
        ("00:00:01.5", timedelta(seconds=1.5)),
        ("1 day, 00:00:36", timedelta(days=1, seconds=36)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_malformed_values_raise_path_tagged_errors() -> None:
    with pytest.raises(cattrs.BaseValidationError) as info:
        structure(run_json(1, duration="soon", is_success="false"), Run)
    messages = cattrs.transform_error(info.value)
    assert any("duration" in m for m in messages)
    # "false" is not silently truthy.
    assert any("is_success" in m for m in messages)


def test_run_status_helpers() -> None:
    assert [s for s in RunStatus if s.is_terminal] == [
        RunStatus.SUCCESS,
        RunStatus.ERROR,
        RunStatus.CANCELLED,
    ]
    assert RunStatus(2).humanized == "Starting"
    assert RunStatus(99).humanized == "Unknown 99"
    assert not RunStatus(99).is_terminal


@pytest.mark.parametrize(
    ("status", "word"),
    [*((status, status.humanized) for status in RunStatus), (RunStatus(40), "Unknown 40")],
    ids=str,
)
def test_a_status_prints_as_a_word_and_stays_an_int(status: RunStatus, word: str) -> None:
    assert str(status) == f"{status}" == "%s" % status == word  # noqa: UP031 - %s is tested
    assert f"{status:<12}|" == f"{word:<12}|"  # a width pads the word, not the code
    assert f"{status:>4d}" == f"{int(status):>4d}"  # a numeric format gives the code
    assert "%d" % status == str(int(status))  # noqa: UP031
    assert repr(status) == f"<RunStatus.{status.name}: {int(status)}>"
    # Still the int dbt sends: compared, hashed, sorted and dumped as one.
    assert status == int(status)
    assert {int(status): "x"}[status] == "x"
    assert json.dumps({"status": status}) == f'{{"status": {int(status)}}}'


def test_print_of_a_run_status_shows_the_word(capsys: pytest.CaptureFixture[str]) -> None:
    run = structure(run_json(7, 10), Run)
    print(run.status)
    assert capsys.readouterr().out == "Success\n"
    assert RunStatus.SUCCESS == 10
    assert json.loads(json.dumps({"status": run.status})) == {"status": 10}


def test_reprs_are_short_and_carry_no_raw_dict() -> None:
    run = structure(run_json(7, 20, status_message=TOKEN), Run)
    text = repr(run)
    assert text.startswith("Run(id=7, job_id=1, status=ERROR")
    assert "href" not in text
    assert TOKEN not in text
    assert len(text) < 120


def test_models_compare_by_value_not_by_raw() -> None:
    a = structure(run_json(7, 10), Run)
    b = structure(run_json(7, 10, brand_new_field=1), Run)
    assert a == b
    assert a.raw != b.raw


def test_run_html_repr_escapes_and_links() -> None:
    run = structure(run_json(7, 20, status_message="<b>boom</b>"), Run)
    page = run._repr_html_()
    assert "&lt;b&gt;boom&lt;/b&gt;" in page
    assert "<a href='https://dbt.test/deploy/1/projects/2/runs/7/'" in page
    assert "Error" in page


def test_page_html_repr_is_a_table_with_coloured_status() -> None:
    runs = tuple(structure(run_json(i, s), Run) for i, s in ((1, 10), (2, 20), (3, 3)))
    page = RunPage(items=runs, total_count=30, offset=0, limit=3)
    html = page._repr_html_()
    assert html.count("<tr>") == 4
    for header in ("Run", "Job", "Status", "Started", "Duration", "Cause"):
        assert f">{header}</th>" in html
    assert "#16a34a" in html  # success
    assert "#dc2626" in html  # error
    assert "runs 1-3 of 30" in html
    assert repr(page) == "RunPage(offset=0, count=3, total_count=30, ids=[1, 2, 3])"


def test_page_next_offset() -> None:
    run = structure(run_json(1), Run)
    assert RunPage(items=(run,) * 2, total_count=5, offset=0, limit=2).next_offset == 2
    assert RunPage(items=(run,), total_count=5, offset=4, limit=2).next_offset is None
    assert RunPage(items=(), total_count=5, offset=6, limit=2).next_offset is None
    # Without a total, a full page suggests more.
    assert RunPage(items=(run,) * 2, offset=0, limit=2).next_offset == 2
    assert RunPage(items=(run,), offset=0, limit=2).next_offset is None
