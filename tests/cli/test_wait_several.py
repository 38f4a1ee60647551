"""`dbt-runs runs wait RUN RUN ...`: several runs at once, each printed as it finishes, and the
worst outcome as the exit code (5, then 1, then 3, then 4, then 0)."""

from __future__ import annotations

import json

from cli_support import Served

from dbt_runs.cli._output import ExitCode


def finished(served: Served, status: int) -> int:
    return served.emulator.runs(status=status)[0].id


def test_several_finished_runs_exit_with_the_worst(served: Served) -> None:
    ok, failed = finished(served, 10), finished(served, 20)
    cancelled = served.emulator.trigger_run(1, cause="to cancel")
    served.emulator.cancel_run(cancelled)
    served.emulator.clear_requests()

    result = served.invoke("runs", "wait", str(ok), str(cancelled), str(failed))

    assert result.exit_code == ExitCode.RUN_FAILED, result.stderr
    shown = {int(line.split()[1]) for line in result.stdout.splitlines() if line.startswith("run ")}
    assert shown == {ok, cancelled, failed}
    assert f"run {failed} failed [exit 1]" in result.stderr
    assert f"run {cancelled} was cancelled" in result.stderr
    # The three runs were read in one request.
    assert [r.path for r in served.emulator.requests] == ["/api/v2/accounts/1/runs/"]

    without_failure = served.invoke("runs", "wait", str(ok), str(cancelled))
    assert without_failure.exit_code == ExitCode.RUN_CANCELLED


def test_json_prints_one_finished_run_a_line(served: Served) -> None:
    ids = [run.id for run in served.emulator.runs(status=10)[:3]]
    result = served.invoke("runs", "wait", *map(str, ids), "--json")
    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    runs = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(run["id"] for run in runs) == sorted(ids)
    assert all(run["trigger"] is not None for run in runs)


def test_a_run_still_going_at_the_timeout_exits_4_and_can_be_cancelled(served: Served) -> None:
    # The emulator's clock stands still: the run can never finish.
    stuck = served.emulator.trigger_run(1, cause="stuck")
    ok = finished(served, 10)
    result = served.invoke(
        "runs", "wait", str(ok), str(stuck),
        "--timeout", "0.2", "--poll", "0.05", "--cancel-on-timeout",
    )  # fmt: skip
    assert result.exit_code == ExitCode.WAIT_TIMEOUT, result.stderr
    assert f"run {stuck} did not finish within 0.2 s" in result.stderr
    assert served.emulator.run(stuck).status == 30


def test_a_failure_outranks_a_timeout(served: Served) -> None:
    stuck = served.emulator.trigger_run(1, cause="stuck")
    failed = finished(served, 20)
    result = served.invoke("runs", "wait", str(stuck), str(failed), "--timeout", "0.2")
    assert result.exit_code == ExitCode.RUN_FAILED, result.stderr


def test_a_run_that_cannot_be_read_outranks_everything(served: Served) -> None:
    served.emulator.faults.fail_next(400, path="/runs/")
    result = served.invoke("runs", "wait", str(finished(served, 20)), str(finished(served, 10)))
    assert result.exit_code == ExitCode.API_ERROR, result.stderr
    assert "[exit 5]" in result.stderr


def test_runs_triggered_together_are_waited_for_together(fast: Served) -> None:
    ids = [fast.emulator.trigger_run(4, cause=f"CI {i}") for i in range(3)]  # job 4: CI
    result = fast.invoke("runs", "wait", *map(str, ids), "--poll", "0.02")
    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    assert result.stderr.startswith("Waiting for 3 runs")
    assert sum(line.startswith("run ") for line in result.stdout.splitlines()) == 3
