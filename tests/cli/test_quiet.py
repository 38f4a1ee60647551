"""`--quiet`: only the run id on stdout, with `--wait` too; refused with `--json`."""

from __future__ import annotations

import pytest
from cli_support import Served

from dbt_runs.cli._output import ExitCode

POLL = ["--poll", "0.02"]


def test_quiet_wait_prints_the_id_and_no_progress_for_a_run_that_succeeds(fast: Served) -> None:
    result = fast.invoke("runs", "trigger", "1", "--quiet", "--wait", *POLL)
    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    run_id = int(result.stdout)  # the id, and nothing else
    assert result.stdout == f"{run_id}\n"
    assert result.stderr == ""  # no "Triggered run", no status lines
    assert fast.emulator.run(run_id).status == 10


def test_quiet_wait_still_says_why_a_run_failed(fast: Served) -> None:
    result = fast.invoke("runs", "trigger", "1", "-q", "--wait", "--cause", "x [fail]", *POLL)
    assert result.exit_code == ExitCode.RUN_FAILED
    run_id = int(result.stdout)
    # The failure's account (what a CI log needs), but no progress lines.
    assert "step " in result.stderr
    assert f"more: dbt-runs runs errors {run_id}" in result.stderr
    assert result.stderr.endswith(f"dbt-runs: run {run_id} failed [exit 1]\n")
    assert "Queued" not in result.stderr
    assert "Running" not in result.stderr


def test_quiet_wait_that_runs_out_says_so_in_one_line(served: Served) -> None:
    # The emulator's clock stands still: the run cannot finish.
    result = served.invoke(
        "runs", "trigger", "1", "-q", "--wait", "--timeout", "0.1", "--poll", "0.05",
        "--cancel-on-timeout",
    )  # fmt: skip
    assert result.exit_code == ExitCode.WAIT_TIMEOUT
    run_id = int(result.stdout)
    assert result.stderr.splitlines() == [
        f"dbt-runs: run {run_id} did not finish within 0.1 s (last status: Cancelled); "
        "it was cancelled [exit 4]"
    ]


def test_quiet_rerun_wait_prints_only_the_new_run(fast: Served) -> None:
    result = fast.invoke("runs", "rerun", "1", "-q", "--wait", *POLL)
    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    assert fast.emulator.run(int(result.stdout)) is not None
    assert result.stderr == ""


@pytest.mark.parametrize("command", [["trigger", "1"], ["retry", "100001"], ["rerun", "1"]])
@pytest.mark.parametrize("wait", [[], ["--wait"]], ids=["", "wait"])
def test_quiet_and_json_together_are_refused_before_anything_is_sent(
    served: Served, command: list[str], wait: list[str]
) -> None:
    before = len(served.emulator.runs())
    result = served.invoke("runs", *command, "--quiet", "--json", *wait)
    assert result.exit_code == ExitCode.USAGE
    assert "--quiet and --json cannot be used together" in result.stderr
    assert len(served.emulator.runs()) == before
