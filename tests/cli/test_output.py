"""The printing rules of the `runs` and `artifacts` commands, one by one."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dbt_runs.cli._output import (
    EXIT_CODES_HELP,
    ExitCode,
    LiveStatusLine,
    PlainStatusLines,
    Redactor,
    echo,
    format_bytes,
    format_seconds,
    format_table,
    is_interactive,
)


def test_exit_codes_are_distinct_and_documented_in_the_help_text() -> None:
    codes = [c.value for c in ExitCode]
    assert len(codes) == len(set(codes))
    for code in ExitCode:
        assert f"\n  {code.value} " in EXIT_CODES_HELP, code
    # click uses 2 for usage errors; ours must agree so one table covers both.
    assert ExitCode.USAGE == 2


def test_redactor_replaces_every_occurrence_longest_first() -> None:
    redact = Redactor(["dbtc_secret", "dbtc_secret_longer", None, ""])
    text = "a dbtc_secret_longer b dbtc_secret c"
    assert redact(text) == "a *** b *** c"


def test_redactor_ignores_values_too_short_to_be_tokens() -> None:
    assert Redactor(["ab"])("about abc") == "about abc"
    assert Redactor([])("unchanged") == "unchanged"


def test_redactor_treats_secrets_as_literal_text() -> None:
    assert Redactor(["a.b*c+"])("xa.b*c+y axbbbc") == "x***y axbbbc"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (75, "1m 15s"), (3725, "1h 02m 05s"), (90000, "25h 00m 00s")],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (2048, "2.0 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
    ],
)
def test_format_bytes(size: int, text: str) -> None:
    assert format_bytes(size) == text


def test_table_aligns_columns_and_truncates_long_cells() -> None:
    out = format_table(
        ["ID", "STATUS", "CAUSE"],
        [["1", "Success", "short"], ["1234", "Error", "x" * 50]],
        max_widths={"CAUSE": 10},
    )
    lines = out.splitlines()
    assert lines[0] == "ID    STATUS   CAUSE"
    assert lines[1] == "1     Success  short"
    assert lines[2] == "1234  Error    xxxxxxxxx…"


def test_table_styles_after_padding_so_colours_do_not_skew_columns() -> None:
    out = format_table(["A", "B"], [["x", "y"], ["long", "z"]], styles=[lambda s: f"<{s}>", None])
    assert out.splitlines()[1:] == ["<x   >  y", "<long>  z"]


def test_table_with_no_rows_is_just_the_header() -> None:
    assert format_table(["ID", "JOB"], []) == "ID  JOB"


def test_plain_status_lines_are_timestamped_one_per_change() -> None:
    stream = io.StringIO()
    times = iter(
        [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 9, tzinfo=UTC)]
    )
    reporter = PlainStatusLines(stream, now=lambda: next(times))
    reporter.update(7, "Queued")
    reporter.tick()  # no output between changes: CI logs stay short
    reporter.update(7, "Error", "step 3 failed")
    reporter.close()
    assert stream.getvalue() == (
        "2026-01-02T03:04:05Z run 7: Queued\n2026-01-02T03:04:09Z run 7: Error (step 3 failed)\n"
    )
    assert "\r" not in stream.getvalue()


def test_plain_status_lines_convert_local_times_to_utc() -> None:
    stream = io.StringIO()
    local = datetime(2026, 1, 2, 5, 0, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    PlainStatusLines(stream, now=lambda: local).update(1, "Running")
    assert stream.getvalue().startswith("2026-01-02T05:00:00Z")


def test_live_status_line_rewrites_one_line_and_ends_it_on_close() -> None:
    stream = io.StringIO()
    clock = iter([100.0, 101.0, 165.0, 170.0])
    line = LiveStatusLine(stream, monotonic=lambda: next(clock))
    line.tick()  # nothing drawn before the first status
    line.update(5, "Queued")
    line.tick()
    line.update(5, "Running")
    line.close()
    text = stream.getvalue()
    assert text.count("\n") == 1
    assert text.endswith("\n")
    frames = text.rstrip("\n").split("\r\x1b[2K")[1:]
    assert [f.split("  [")[1] for f in frames] == ["1s]", "1m 05s]", "1m 10s]"]
    assert "Running" in frames[-1]


def test_live_status_line_close_without_output_prints_nothing() -> None:
    stream = io.StringIO()
    LiveStatusLine(stream).close()
    assert stream.getvalue() == ""


def test_is_interactive() -> None:
    assert is_interactive(io.StringIO()) is False

    class Closed(io.StringIO):
        def isatty(self) -> bool:
            raise ValueError("I/O operation on closed file")

    assert is_interactive(Closed()) is False


def test_an_error_is_always_one_line_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    from dbt_runs.cli._common import fail

    fail(ExitCode.API_ERROR, "first\n  second line with tok_123456\n\n", Redactor(["tok_123456"]))
    err = capsys.readouterr().err
    assert err == "dbt-runs: error: first second line with *** [exit 5]\n"


def test_echo_to_a_closed_pipe_neither_raises_nor_prints() -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    echo("lost", file=ClosedPipe())  # a wait goes on: the reader's leaving is not an error
    PlainStatusLines(ClosedPipe()).update(1, "Running")
