"""Run one measured child process: its wall time, and the kernel's rusage peak as a bound.

`os.wait4` returns the resource usage of exactly that child (not the cumulative
`RUSAGE_CHILDREN` maximum over every child reaped so far). On Linux, though, that `ru_maxrss`
also folds in the image the child replaced at exec, i.e. the forked copy of the harness, so
it is only an upper bound: the drivers report their own `VmHWM` (see
`drivers/_common.peak_rss_mib`), which the rows use for memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcResult:
    """What one child process cost.

    Attributes:
        wall_s: Wall-clock seconds from spawn to exit (interpreter start-up included).
        peak_rss_mb: The kernel's rusage peak for the child, in MiB: an upper bound (it
            includes the forked parent image on Linux).
        returncode: The child's exit status (negative: killed by that signal).
        stderr_tail: The last lines the child wrote to stderr, for error notes.
    """

    wall_s: float
    peak_rss_mb: float
    returncode: int
    stderr_tail: str

    @property
    def ok(self) -> bool:
        """Whether the child exited with status 0."""
        return self.returncode == 0


def run_measured(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    stdout_path: Path | None = None,
    timeout_s: float = 600.0,
    cwd: Path | None = None,
) -> ProcResult:
    """Spawn `argv`, wait for it, and return its wall time and peak RSS.

    Args:
        argv: The command line.
        env: Extra environment variables, laid over a minimal copy of ours.
        stdout_path: Where the child's stdout goes (a file, so a 10,000-run JSON dump costs the
            child a file write, not a pipe the harness must drain while timing); None discards it.
        timeout_s: Kill the child after this many seconds (a hung peer must not hang the run).
        cwd: Working directory for the child.

    Returns:
        The measured cost.
    """
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "VIRTUAL_ENV"))}
    child_env["PYTHONDONTWRITEBYTECODE"] = "1"
    child_env.update(env or {})
    fd, name = tempfile.mkstemp(prefix="bench-stderr-", suffix=".txt")
    os.close(fd)
    stderr_path = Path(name)
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        with open(stderr_path, "wb") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=out, stderr=err, env=child_env, cwd=cwd)
            # A blocking wait4 returns the moment the child exits; the timer only guards a hang.
            killer = threading.Timer(timeout_s, proc.kill)
            killer.start()
            try:
                _, status, rusage = os.wait4(proc.pid, 0)
            finally:
                killer.cancel()
            wall = time.perf_counter() - start
            # Popen must not try to reap the pid we already reaped.
            proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout_path:
            out.close()  # type: ignore[union-attr]
    tail = "\n".join(stderr_path.read_text(errors="replace").splitlines()[-15:])
    stderr_path.unlink(missing_ok=True)
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    peak_mib = rusage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return ProcResult(
        wall_s=wall,
        peak_rss_mb=peak_mib,
        returncode=proc.returncode,
        stderr_tail=tail,
    )
