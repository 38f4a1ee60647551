"""`runs rerun`, `runs trigger --if-running`, and what a refused run-creating request says."""

from __future__ import annotations

import json
import re

from cli_support import Served, error_line

from dbt_runs.cli._output import ExitCode

POLL = ("--poll", "0.02")
URL = r"http://\S+/runs/\d+/"

# -- rerun -----------------------------------------------------------------------------------


def test_rerun_retries_a_failed_latest_run_and_otherwise_triggers(fast: Served) -> None:
    failed = fast.invoke("runs", "trigger", "Nightly snapshots", "-q")
    assert fast.invoke("runs", "wait", failed.stdout.strip(), *POLL).exit_code == 1
    result = fast.invoke("runs", "rerun", "3")
    assert result.exit_code == 0, result.stderr
    match = re.fullmatch(rf"Retrying run (\d+) as run (\d+) \(job 3\): {URL}\n", result.stdout)
    assert match, result.stdout
    assert int(match.group(1)) == int(failed.stdout)

    assert fast.invoke("runs", "trigger", "1", "--wait", *POLL).exit_code == 0
    result = fast.invoke("runs", "rerun", "Daily build", "--project", "1")
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(rf"Triggered run \d+ \(job 1\): {URL}\n", result.stdout), result.stdout


def test_rerun_wait_exits_by_the_runs_outcome_and_names_its_failing_nodes(fast: Served) -> None:
    result = fast.invoke("runs", "rerun", "Nightly snapshots", "--wait", *POLL)
    assert result.exit_code == ExitCode.RUN_FAILED, result.stderr
    assert "  model.jaffle_shop.orders (error): " in result.stderr
    assert result.stderr.rstrip().endswith("failed [exit 1]")


def test_rerun_quiet_and_json(served: Served) -> None:
    quiet = served.invoke("runs", "rerun", "1", "-q")
    assert quiet.exit_code == 0, quiet.stderr
    as_json = served.invoke("runs", "rerun", "4", "--json")
    assert json.loads(as_json.stdout)["id"] == int(quiet.stdout) + 1


# -- dbt says no -----------------------------------------------------------------------------


def test_a_refused_retry_says_what_dbt_refused_and_why(served: Served) -> None:
    done = served.emulator.runs(status=10)[0].id
    result = served.invoke("runs", "retry", str(done))
    assert result.exit_code == ExitCode.API_ERROR
    line, _ = error_line(result.stderr)
    assert line.startswith(f"dbt-runs: error: dbt Cloud refused to retry run {done}: ")
    assert "This run cannot be retried (RETRY_NOT_FAILED_RUN)." in line


def test_a_refused_rerun_says_what_dbt_refused_and_exits_5(served: Served) -> None:
    served.emulator.faults.fail_next(400, path="/rerun/")
    before = served.emulator.run_count
    result = served.invoke("runs", "rerun", "1", "--wait")
    assert result.exit_code == ExitCode.API_ERROR
    line, _ = error_line(result.stderr)
    assert line.startswith("dbt-runs: error: dbt Cloud refused to rerun job 1: ")
    assert "(HTTP 400)" in line
    assert served.emulator.run_count == before


# -- trigger --if-running --------------------------------------------------------------------


def test_if_running_reuse_prints_the_run_already_going_and_triggers_nothing(
    served: Served,
) -> None:
    going = served.emulator.trigger_run(1, cause="someone else's")  # queued: the clock stands
    before = served.emulator.run_count
    result = served.invoke(
        "runs", "trigger", "Daily build", "--environment", "1", "--if-running", "reuse"
    )
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(rf"Reusing run {going} \(job 1, Queued\): {URL}\n", result.stdout)
    quiet = served.invoke("runs", "trigger", "1", "--if-running", "reuse", "-q")
    assert int(quiet.stdout) == going
    assert served.emulator.run_count == before


def test_if_running_reuse_then_waits_for_that_run(fast: Served) -> None:
    going = fast.emulator.trigger_run(1, cause="someone else's")
    before = fast.emulator.run_count
    result = fast.invoke("runs", "trigger", "1", "--if-running", "reuse", "--wait", *POLL)
    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    assert re.match(rf"Reusing run {going} \(job 1, \w+\): http", result.stderr)
    assert result.stdout.startswith(f"run {going}  Success")
    assert fast.emulator.run_count == before


def test_if_running_fail_exits_6_naming_the_run(served: Served) -> None:
    going = served.emulator.trigger_run(1, cause="someone else's")
    before = served.emulator.run_count
    result = served.invoke("runs", "trigger", "1", "--if-running", "fail", "--wait")
    assert result.exit_code == ExitCode.RUN_IN_PROGRESS == 6
    line, code = error_line(result.stderr)
    assert code == 6
    assert f"job 1 already has run {going} (Queued): nothing was triggered" in line
    assert result.stdout == ""
    assert served.emulator.run_count == before


def test_if_running_triggers_when_nothing_is_going(served: Served) -> None:
    before = served.emulator.run_count
    for choice in ("fail", "reuse", "queue"):
        result = served.invoke("runs", "trigger", "2", "--if-running", choice)
        assert result.exit_code == 0, (choice, result.stderr)
        # After the first, job 2 has a run queued: reuse finds it, queue queues behind it.
        assert result.stdout.startswith("Reusing" if choice == "reuse" else "Triggered")
    assert served.emulator.run_count == before + 2


def test_if_running_takes_only_the_fields_choices(served: Served) -> None:
    result = served.invoke("runs", "trigger", "1", "--if-running", "later")
    assert result.exit_code == ExitCode.USAGE
    assert "must be one of queue, reuse, fail" in result.stderr
