"""A reader that stops reading (`dbt-runs ... | head -1`): the command stops quietly.

Real subprocesses and real pipes: the behaviour under test is the operating system's EPIPE.
A listing exits 0 (so `set -o pipefail` CI steps pass); a wait still exits with the run's
outcome. See "Pipes" in docs/cli.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from cli_support import TOKEN, Served, console_script

from dbt_runs.testing import Emulator, ManualClock

pytestmark = pytest.mark.slow

#: Enough runs that each listing is several times a pipe's buffer (64 KiB on Linux) plus
#: what the reader buffers: the command is still writing when the reader goes away.
RUNS = 3000
POLL = ("--poll", "0.02")
LISTINGS = {
    "jsonl": ["runs", "list", "--all", "--jsonl"],
    "json": ["runs", "list", "--all", "--json"],
    "table": ["runs", "list", "--all"],
}


@pytest.fixture(scope="module")
def crowded() -> Iterator[Served]:
    """An emulator with many runs, shared by the tests of this module (they only read)."""
    emulator = Emulator(token=TOKEN, runs=RUNS, clock=ManualClock())
    with emulator.serve_in_thread() as server:
        yield Served(emulator, server.base_url)


def _env(served: Served) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update({k: v for k, v in served.env().items() if v is not None})
    return env


def _start(served: Served, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [console_script(), *args], env=_env(served), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Wait for the command; its exit code and stderr (the pipes it still has are closed)."""
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    text = (stderr or b"").decode()
    assert TOKEN not in text
    return proc.returncode, text


def _assert_quiet(stderr: str) -> None:
    assert "internal error" not in stderr
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
    assert "Exception ignored" not in stderr  # a failed flush at interpreter exit


def _unread(served: Served, *args: str, stderr_too: bool = False) -> tuple[int, str]:
    """Run the command with its stdout (and stderr) closed at once, as `| true` does.

    The exit code, and what stderr said if it was kept (nothing noisy: checked here).
    """
    proc = _start(served, *args)
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    if stderr_too:
        proc.stderr.close()
    code, stderr = _finish(proc)
    _assert_quiet(stderr)
    return code, stderr


@pytest.mark.parametrize("kind", list(LISTINGS))
def test_a_listing_read_by_head_stops_quietly_with_0(crowded: Served, kind: str) -> None:
    proc = _start(crowded, *LISTINGS[kind])
    assert proc.stdout is not None
    first = proc.stdout.readline()  # what `head -1` does: one line, then go away
    proc.stdout.close()
    code, stderr = _finish(proc)
    _assert_quiet(stderr)
    assert code == 0, stderr
    # The reader did get the start of the listing.
    if kind == "jsonl":
        assert json.loads(first)["id"] > 0
    else:
        assert first.split()[0] == {"json": b"[", "table": b"ID"}[kind]


def test_a_pipefail_ci_step_with_head_passes(crowded: Served) -> None:
    # The report: `set -o pipefail` made `dbt-runs runs list --all --jsonl | head -1` fail.
    bash, head = shutil.which("bash"), shutil.which("head")
    if bash is None or head is None:
        pytest.skip("needs bash and head")
    script = f"set -o pipefail; '{console_script()}' {' '.join(LISTINGS['jsonl'])} | {head} -1"
    result = subprocess.run(
        [bash, "-c", script],
        env=_env(crowded),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    _assert_quiet(result.stderr)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] > 0


@pytest.mark.parametrize("kind", list(LISTINGS))
def test_a_listing_whose_reader_is_gone_before_it_writes_exits_0(
    crowded: Served, kind: str
) -> None:
    # `dbt-runs ... | true`: not a byte can be written. Unlike `head -1`, this fails for one
    # large write too: CPython may drop the tail of a write the reader left halfway silently.
    code, stderr = _unread(crowded, *LISTINGS[kind])
    assert code == 0, stderr


def test_a_download_to_a_closed_pipe_exits_0(crowded: Served) -> None:
    run_id = next(r.id for r in crowded.emulator.runs(job_id=1, status=10))
    code, stderr = _unread(
        crowded, "artifacts", "download", str(run_id), "manifest.json", "-o", "-"
    )
    assert code == 0, stderr


def test_a_wait_whose_stdout_is_gone_still_exits_by_the_run(fast: Served) -> None:
    # A closed pipe must never turn a failed run into a success (or a crash).
    code, stderr = _unread(fast, "runs", "trigger", "1", "--cause", "x [fail]", "--wait", *POLL)
    assert code == 1, stderr
    assert "failed [exit 1]" in stderr


def test_a_wait_with_no_reader_at_all_still_exits_by_the_run(fast: Served) -> None:
    # `dbt-runs ... --wait 2>&1 | true`: the progress lines cannot be written either. Job 5
    # runs past its own timeout, so dbt cancels it: exit 3, which no pipe error could produce.
    code, _ = _unread(fast, "runs", "trigger", "5", "--wait", *POLL, stderr_too=True)
    assert code == 3


def test_an_error_with_no_reader_still_exits_by_its_code(crowded: Served) -> None:
    # The error line cannot be written, but the code still says what went wrong (404: 5).
    code, _ = _unread(crowded, "runs", "get", "424242", stderr_too=True)
    assert code == 5


def test_logs_to_a_closed_pipe_exit_0(crowded: Served) -> None:
    run_id = crowded.emulator.runs(job_id=3, status=20)[0].id
    code, stderr = _unread(crowded, "runs", "logs", str(run_id))
    assert code == 0, stderr


def test_followed_logs_to_a_closed_pipe_still_exit_by_the_run(fast: Served) -> None:
    # `runs logs --follow` is a wait: its exit code is the run's outcome, reader or not.
    run_id = fast.emulator.trigger_run(1, cause="x [fail]")
    code, stderr = _unread(fast, "runs", "logs", str(run_id), "--follow", *POLL)
    assert code == 1, stderr
    assert stderr.endswith(f"dbt-runs: run {run_id} failed [exit 1]\n")
