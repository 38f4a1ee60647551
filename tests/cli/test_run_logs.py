"""`runs logs`: a run's step logs at once, or followed until the run ends."""

from __future__ import annotations

import re

import pytest
from cli_support import Served

from dbt_runs._logs import LogLines
from dbt_runs.cli._logs import LINES_LOST, LogPrinter
from dbt_runs.cli._output import ExitCode

POLL = ("--poll", "0.02")
HEADER = re.compile(r"^== step (\d+): (.+?)(?: \((\w+), (\S+)\))? ==$")


def step_logs(served: Served, run_id: int) -> dict[int, list[str]]:
    """Each step's log lines as dbt sends them with the run."""
    run = served.emulator.run_json(run_id, include_related=["run_steps"])
    return {step["index"]: (step["logs"] or "").splitlines() for step in run["run_steps"]}


def sections(stdout: str) -> dict[int, list[str]]:
    """The printed lines under each header line."""
    found: dict[int, list[str]] = {}
    current: list[str] = []
    for line in stdout.splitlines():
        header = HEADER.match(line)
        if header:
            current = found.setdefault(int(header.group(1)), [])
        else:
            current.append(line)
    return found


def test_logs_prints_every_steps_lines_under_a_header(served: Served) -> None:
    run_id = served.emulator.runs(job_id=3, status=20)[0].id
    result = served.invoke("runs", "logs", str(run_id))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert sections(result.stdout) == step_logs(served, run_id)
    headers = [HEADER.match(line) for line in result.stdout.splitlines() if line.startswith("==")]
    assert [(h.group(2), h.group(3)) for h in headers if h] == [
        (step.name, {10: "Success", 20: "Error"}[step.status])
        for step in served.emulator.steps(run_id)
    ]


def test_logs_of_one_step_are_its_lines_alone(served: Served) -> None:
    run_id = served.emulator.runs(job_id=3, status=20)[0].id
    result = served.invoke("runs", "logs", str(run_id), "--step", "5")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == step_logs(served, run_id)[5]

    missing = served.invoke("runs", "logs", str(run_id), "--step", "9")
    assert missing.exit_code == ExitCode.USAGE
    assert f"run {run_id} has no step 9 (steps 1 to 5) [exit 2]" in missing.stderr


def test_logs_of_a_run_without_steps_yet_say_so_on_stderr(served: Served) -> None:
    queued = served.emulator.trigger_run(1, cause="queued")  # the clock stands still
    result = served.invoke("runs", "logs", str(queued))
    assert result.exit_code == 0
    assert (result.stdout, result.stderr) == ("", f"run {queued} has no steps yet (Queued)\n")
    step = served.invoke("runs", "logs", str(queued), "--step", "1")
    assert step.exit_code == ExitCode.USAGE
    assert "has no step 1 (no steps yet)" in step.stderr


def test_follow_prints_the_lines_as_they_come_and_exits_0_on_success(fast: Served) -> None:
    run_id = fast.emulator.trigger_run(1, cause="followed")
    result = fast.invoke("runs", "logs", str(run_id), "--follow", *POLL)
    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    # Every line of every step, once each and in order: dbt's logs only grow.
    assert sections(result.stdout) == step_logs(fast, run_id)
    # Lines go to stdout, the status to stderr.
    statuses = [line.split(": ")[-1] for line in result.stderr.splitlines()]
    assert statuses[-1] == "Success"
    assert not set(result.stderr.splitlines()) & set(result.stdout.splitlines())


def test_follow_of_a_failing_run_exits_1_and_says_where_to_read_why(fast: Served) -> None:
    run_id = fast.emulator.trigger_run(1, cause="x [fail]")
    result = fast.invoke("runs", "logs", str(run_id), "--follow", "--step", "4", *POLL)
    assert result.exit_code == ExitCode.RUN_FAILED, result.stderr
    assert result.stdout.splitlines() == step_logs(fast, run_id)[4]  # no header: one step
    assert result.stderr.endswith(
        f"why: dbt-runs runs errors {run_id}\ndbt-runs: run {run_id} failed [exit 1]\n"
    )


def test_follow_takes_the_waiting_flags_and_exits_like_a_wait(served: Served, fast: Served) -> None:
    stuck = served.emulator.trigger_run(1, cause="stuck")  # the clock stands still
    result = served.invoke(
        "runs", "logs", str(stuck), "--follow", "--timeout", "0.2", "--poll", "0.05",
        "--cancel-on-timeout",
    )  # fmt: skip
    assert result.exit_code == ExitCode.WAIT_TIMEOUT
    assert served.emulator.run(stuck).status == 30

    timed_out = fast.emulator.trigger_run(5, cause="slower than its timeout")
    result = fast.invoke("runs", "logs", str(timed_out), "--follow", *POLL)
    assert result.exit_code == ExitCode.RUN_CANCELLED


@pytest.mark.parametrize("step", [None, 4])
def test_the_printer_heads_each_step_and_marks_lost_lines(
    step: int | None, capsys: pytest.CaptureFixture[str]
) -> None:
    printer = LogPrinter(step)
    printer(LogLines(1, 3, "Invoke dbt with `dbt deps`", ("deps 1",)))
    printer(LogLines(1, 4, "Invoke dbt with `dbt build`", ("build 1", "build 2")))
    printer(LogLines(1, 4, "Invoke dbt with `dbt build`", ("build 900",), gap=True))
    expected = [
        "== step 3: Invoke dbt with `dbt deps` ==",
        "deps 1",
        "== step 4: Invoke dbt with `dbt build` ==",
        "build 1",
        "build 2",
        LINES_LOST,
        "build 900",
    ]
    if step is not None:
        expected = expected[3:]
    assert capsys.readouterr().out.splitlines() == expected
