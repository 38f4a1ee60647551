"""The installed `dbt-runs` console script in real subprocesses: exit codes a CI job sees.

The emulator runs on 127.0.0.1 with a fast real clock, so each waited run takes well under a
second; every subprocess has a timeout so that nothing can hang the suite.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess

import pytest
from cli_support import TOKEN, Served, console_script

from dbt_runs.testing import Emulator, RealClock

pytestmark = pytest.mark.slow

POLL = ("--poll", "0.02")


def test_a_successful_run_exits_0(fast: Served) -> None:
    result = fast.run("runs", "trigger", "1", "--wait", *POLL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith("Success")


def test_a_failed_run_exits_1(fast: Served) -> None:
    result = fast.run("runs", "trigger", "1", "--cause", "deploy [fail]", "--wait", *POLL)
    assert result.returncode == 1, result.stderr
    assert "failed [exit 1]" in result.stderr


def test_a_cancelled_run_exits_3(fast: Served) -> None:
    # Job 5 runs past its own timeout, so dbt (the emulator) cancels it.
    result = fast.run("runs", "trigger", "5", "--wait", *POLL)
    assert result.returncode == 3, result.stderr
    assert "was cancelled" in result.stderr
    assert "timed out" in result.stderr  # dbt's own message says why


def test_a_wait_that_runs_out_exits_4_and_cancels_when_asked(served: Served) -> None:
    run_id = served.emulator.trigger_run(1, cause="stuck")  # the clock stands still
    result = served.run(
        "runs", "wait", str(run_id), "--timeout", "0.3", "--cancel-on-timeout", *POLL
    )
    assert result.returncode == 4, result.stderr
    assert "did not finish within 0.3 s" in result.stderr
    assert served.emulator.run(run_id).status == 30


def test_an_api_error_exits_5_with_one_line(served: Served) -> None:
    result = served.run("runs", "get", "424242")
    assert result.returncode == 5
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("dbt-runs: error: ")
    assert result.stderr.rstrip().endswith("[exit 5]")


def test_a_bad_token_exits_5_and_no_token_is_printed(served: Served) -> None:
    wrong = "dbtc_WRONG_subprocess_token_777"
    result = served.run("--debug", "runs", "list", DBT_API_KEY=wrong)
    assert result.returncode == 5
    assert "Invalid token" in result.stderr
    assert wrong not in result.stdout + result.stderr


def test_a_usage_error_exits_2(served: Served) -> None:
    result = served.run("runs", "trigger", "not-a-number")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_python_dash_m_is_the_same_command(served: Served) -> None:
    env = {k: v for k, v in served.env().items() if v is not None}
    result = subprocess.run(
        [os.path.join(os.path.dirname(console_script()), "python"), "-m", "dbt_runs", "runs",
         "list", "--limit", "1", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def _run_on_a_terminal(served: Served, *args: str) -> tuple[int, str, str]:
    """Run the command with stderr on a pseudo-terminal (stdout stays a pipe)."""
    pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX-only")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update({k: v for k, v in served.env().items() if v is not None})
    env["TERM"] = "xterm"
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [console_script(), *args], env=env, stdout=subprocess.PIPE, stderr=secondary
        )
        os.close(secondary)
        secondary = -1
        chunks = []
        while True:
            try:
                data = os.read(primary, 4096)
            except OSError as exc:  # EIO: the child closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            chunks.append(data)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        os.close(primary)
        if secondary != -1:
            os.close(secondary)
    return proc.returncode, stdout.decode(), b"".join(chunks).decode(errors="replace")


def test_on_a_terminal_the_status_is_one_live_line(fast: Served) -> None:
    code, stdout, terminal = _run_on_a_terminal(fast, "runs", "trigger", "1", "--wait", *POLL)
    assert code == 0, terminal
    # The line is redrawn in place (carriage return + erase line), not appended.
    assert "\r\x1b[2K" in terminal
    frames = [f for f in re.split(r"\r\x1b\[2K", terminal) if "run " in f]
    assert any("Success" in f for f in frames)
    assert not re.search(r"^\d{4}-\d\d-\d\dT", terminal, re.MULTILINE)
    assert TOKEN not in stdout + terminal


def test_on_a_terminal_a_download_shows_a_progress_bar(served: Served, tmp_path: object) -> None:
    run_id = next(r.id for r in served.emulator.runs(job_id=1, status=10))
    out = os.path.join(str(tmp_path), "manifest.json")
    code, _, terminal = _run_on_a_terminal(
        served, "artifacts", "download", str(run_id), "manifest.json", "-o", out
    )
    assert code == 0, terminal
    assert "Downloading" in terminal
    assert "Saved" in terminal
    assert os.path.getsize(out) > 0


def _interrupt_a_wait(served: Served, run_id: int, sig: int, *flags: str) -> tuple[int, str]:
    """Start `runs wait`, send `sig` once it is waiting, return its exit code and stderr."""
    ended = served.interrupt("runs", "wait", str(run_id), *POLL, *flags, sig=sig)
    assert f"run {run_id}: Queued" in ended.first[0]  # the first status line: it is waiting
    return ended.code, ended.rest


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_wait_exits_130_and_leaves_the_run_alone(served: Served, sig: int) -> None:
    run_id = served.emulator.trigger_run(1, cause="long")  # the clock stands still
    code, stderr = _interrupt_a_wait(served, run_id, sig)
    assert code == 130
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert lines[0].startswith(f"run {run_id} keeps going on dbt Cloud: http")
    assert lines[-1] == "dbt-runs: error: interrupted [exit 130]"
    assert served.emulator.run(run_id).status == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cancel_on_interrupt_cancels_the_run_in_dbt(served: Served, sig: int) -> None:
    # A cancelled CI job must not leave a dbt run (and its warehouse bill) behind.
    run_id = served.emulator.trigger_run(1, cause="long")
    code, stderr = _interrupt_a_wait(served, run_id, sig, "--cancel-on-interrupt")
    assert code == 130
    assert "Traceback" not in stderr
    assert f"cancelled run {run_id}" in stderr
    assert stderr.rstrip().endswith("[exit 130]")
    assert served.emulator.run(run_id).status == 30


def test_the_runs_commands_work_without_the_server_extra(served: Served) -> None:
    # The server libraries are made unimportable, as in `pip install "dbt-runs[cli]"`.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('starlette', 'uvicorn', 'mcp'):\n"
        "            raise ImportError(f'{name} is not installed')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from dbt_runs.cli import main\n"
        "main(['runs', 'list', '--limit', '2', '--json'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update({k: v for k, v in served.env().items() if v is not None})
    python = os.path.join(os.path.dirname(console_script()), "python")
    result = subprocess.run(
        [python, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 2


def test_a_lost_trigger_response_never_starts_a_second_run() -> None:
    # dbt creates the run, then the gateway answers 502: the command must find that run,
    # not trigger again, and report it as a normal trigger. The SDK finds it by creation
    # time, so this emulator keeps real time (a sped-up clock runs ahead of the caller's).
    emulator = Emulator(token=TOKEN, runs=3, clock=RealClock(speed=1))
    emulator.faults.ambiguous_trigger_rate = 1.0
    with emulator.serve_in_thread() as server:
        served = Served(emulator, server.base_url)
        result = served.run("runs", "trigger", "1", "--cause", "deploy 42", "-q")
    assert result.returncode == 0, result.stderr
    # The cause carries the trigger's marker (`deploy 42 [dbt-runs:...]`), which is how the
    # SDK tells its run from anyone else's.
    created = [r for r in emulator.runs(job_id=1) if r.cause.startswith("deploy 42 [dbt-runs:")]
    assert [r.id for r in created] == [int(result.stdout)]


def test_flaky_gateways_are_retried_for_reads(served: Served) -> None:
    served.emulator.faults.error_rates = {503: 0.5}
    result = served.run("runs", "list", "--limit", "5", "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 5
