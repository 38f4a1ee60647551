"""docs/cli.md's exit-code table against `ExitCode`, `--help`, and real commands.

The table is what a CI pipeline is written against. Each code it lists must be an `ExitCode`
(and each `ExitCode` listed), and each case a row names is run here, against an emulator,
to check it ends with that row's code: a row that says "cancelled by `--cancel-on-timeout`"
when such a wait exits 4 fails here. Only the internal error (70) and an interruption (130)
are provoked by a patched client; `test_entry_point.py` sends real signals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_support import Served
from click.testing import Result

from dbt_runs import AsyncRunsClient
from dbt_runs.cli._output import EXIT_CODES_HELP, ExitCode

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
POLL = ("--poll", "0.02")


def _table() -> dict[int, str]:
    """Code -> the text of its row, from the table under "## Exit codes"."""
    text = PAGE.read_text(encoding="utf-8")
    start = text.index("\n## Exit codes\n")
    section = text[start : text.index("\n## ", start + 1)]
    rows = re.findall(r"^\| *(\d+) *\| *(.+?) *\|$", section, re.MULTILINE)
    table = {int(code): meaning for code, meaning in rows}
    assert len(table) == len(rows), "a code is listed twice"
    return table


TABLE = _table()


def test_the_table_lists_every_exit_code_and_nothing_else() -> None:
    assert sorted(TABLE) == sorted(code.value for code in ExitCode)
    assert list(TABLE) == sorted(TABLE)


def test_the_help_lists_the_same_codes_as_the_table() -> None:
    helped = [int(code) for code in re.findall(r"^ {2}(\d+) ", EXIT_CODES_HELP, re.MULTILINE)]
    assert helped == list(TABLE)


@dataclass(frozen=True)
class Case:
    """One outcome a row of the table names, and how to bring it about."""

    code: ExitCode
    words: str
    """What the row says of this case: only that row may say it."""
    emulator: str
    """The fixture: `served` (time stands still) or `fast` (runs finish in a blink)."""
    run: Callable[[Served], Result]


def _cancelled_by_a_person(served: Served) -> Result:
    run_id = served.emulator.trigger_run(1, cause="to be cancelled")
    served.emulator.cancel_run(run_id)
    return served.invoke("runs", "wait", str(run_id), *POLL)


def _waited_too_long(served: Served, *cancel: str) -> Result:
    run_id = served.emulator.trigger_run(1, cause="stuck")  # the clock stands still
    result = served.invoke("runs", "wait", str(run_id), "--timeout", "0.1", *POLL, *cancel)
    assert served.emulator.run(run_id).status == (30 if cancel else 1)
    return result


def _busy(served: Served) -> Result:
    served.emulator.trigger_run(5, cause="already going")
    return served.invoke("runs", "trigger", "5", "--if-running", "fail")


def _raising(error: BaseException) -> Callable[[Served], Result]:
    def run(served: Served) -> Result:
        async def get_run(*args: object, **kwargs: object) -> None:
            raise error

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(AsyncRunsClient, "get_run", get_run)
            return served.invoke("runs", "get", "1")

    return run


CASES = [
    Case(
        ExitCode.SUCCESS,
        "**Success**",
        "fast",
        lambda s: s.invoke("runs", "trigger", "1", "--wait", *POLL),
    ),
    Case(
        ExitCode.RUN_FAILED,
        "**Error**",
        "fast",
        lambda s: s.invoke("runs", "trigger", "1", "--wait", "--cause", "x [fail]", *POLL),
    ),
    Case(
        ExitCode.USAGE,
        "`--cause` over 255 characters",
        "served",
        lambda s: s.invoke("runs", "trigger", "1", "--cause", "x" * 256),
    ),
    Case(
        ExitCode.USAGE,
        "`DBT_API_KEY` not set",
        "served",
        lambda s: s.invoke("runs", "list", DBT_API_KEY=None),
    ),
    Case(
        ExitCode.USAGE,
        "a job name that no job has",
        "served",
        lambda s: s.invoke("runs", "trigger", "No such job"),
    ),
    Case(ExitCode.RUN_CANCELLED, "by a person", "served", _cancelled_by_a_person),
    Case(
        ExitCode.RUN_CANCELLED,
        "dbt's own job timeout",
        "fast",
        lambda s: s.invoke("runs", "trigger", "5", "--wait", *POLL),  # job 5 outlasts its limit
    ),
    Case(
        ExitCode.RUN_CANCELLED,
        "`--timeout-seconds-override`",
        "fast",
        lambda s: s.invoke(
            "runs", "trigger", "1", "--timeout-seconds-override", "1", "--wait", *POLL
        ),
    ),
    Case(ExitCode.WAIT_TIMEOUT, "`--timeout` ran out", "served", _waited_too_long),
    Case(
        ExitCode.WAIT_TIMEOUT,
        "`--cancel-on-timeout`",
        "served",
        lambda s: _waited_too_long(s, "--cancel-on-timeout"),
    ),
    Case(
        ExitCode.API_ERROR,
        "404 unknown run",
        "served",
        lambda s: s.invoke("runs", "get", "987654321"),
    ),
    Case(
        ExitCode.API_ERROR,
        "401 bad token",
        "served",
        lambda s: s.invoke("runs", "list", DBT_API_KEY="dbtc_not_the_right_one"),
    ),
    Case(ExitCode.RUN_IN_PROGRESS, "`runs trigger --if-running fail`", "served", _busy),
    Case(ExitCode.INTERNAL, "Internal error", "served", _raising(RuntimeError("a bug"))),
    Case(ExitCode.INTERRUPTED, "Interrupted", "served", _raising(KeyboardInterrupt())),
]


def test_every_code_has_a_case_run_here() -> None:
    assert {case.code for case in CASES} == set(ExitCode)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.code.value}: {c.words}")
def test_each_case_the_table_names_exits_with_its_row(
    case: Case, request: pytest.FixtureRequest
) -> None:
    rows = [code for code, meaning in TABLE.items() if case.words in meaning]
    assert rows == [case.code.value], f"{case.words!r} is said by the rows of {rows}"
    served: Served = request.getfixturevalue(case.emulator)
    result = case.run(served)
    assert result.exit_code == case.code, result.stderr
    assert "Traceback" not in result.stderr
