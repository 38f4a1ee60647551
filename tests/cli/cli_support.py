"""Helpers for the command tests: the environment a user would set, and ways to run `dbt-runs`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dbt_runs.cli import _build
from dbt_runs.testing import Emulator

#: Recognisable on purpose: tests grep every byte the command prints for it.
TOKEN = "dbtc_cli_SECRET_5f3a9c1e7d"
#: The one line an error ends a command with.
ERROR_LINE = re.compile(r"^dbt-runs: error: .+ \[exit (\d+)\]$")
#: Emulated seconds per real second for tests that wait: a 60 s run takes about 0.1 s.
FAST = 600.0


@dataclass(frozen=True)
class Interrupted:
    """A command interrupted by a signal: its exit code, the stderr lines read before the
    signal, and the rest of its stderr."""

    code: int
    first: list[str]
    rest: str


@dataclass
class Served:
    """An emulator listening on 127.0.0.1, and the environment a user would set for it."""

    emulator: Emulator
    base_url: str

    def env(self, **overrides: str | None) -> dict[str, str | None]:
        env: dict[str, str | None] = {
            "DBT_API_KEY": TOKEN,
            "DBT_CLOUD_BASE_URL": self.base_url,
            "DBT_CLOUD_HOST": None,
            "DBT_CLOUD_ACCOUNT_ID": str(self.emulator.account_id),
            "DBT_RUNS_DEBUG": None,
            "NO_COLOR": None,
        }
        env.update(overrides)
        return env

    def invoke(self, *args: str, **env: str | None) -> Result:
        """Run `dbt-runs ARGS` in-process (click's runner: stdout and stderr kept apart)."""
        result = CliRunner().invoke(_build(), list(args), env=self.env(**env))
        assert TOKEN not in result.stdout + result.stderr
        return result

    def interrupt(self, *args: str, sig: int, lines: int = 1, **env: str | None) -> Interrupted:
        """Start `dbt-runs ARGS`, read `lines` lines of its stderr (it is waiting by then),
        send `sig`, and return how it ended."""
        full = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
        full.update({k: v for k, v in self.env(**env).items() if v is not None})
        proc = subprocess.Popen(
            [console_script(), *args],
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            first = [proc.stderr.readline() for _ in range(lines)]
            proc.send_signal(sig)
            _, rest = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        return Interrupted(proc.returncode, first, rest)

    def run(
        self, *args: str, timeout: float = 60, **env: str | None
    ) -> subprocess.CompletedProcess[str]:
        """Run the installed `dbt-runs` console script in a subprocess."""
        full = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
        full.update({k: v for k, v in self.env(**env).items() if v is not None})
        result = subprocess.run(
            [console_script(), *args],
            env=full,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert TOKEN not in result.stdout + result.stderr
        return result


def console_script() -> str:
    """The `dbt-runs` executable installed next to this interpreter (the real entry point)."""
    found = shutil.which("dbt-runs", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("the dbt-runs console script is not installed in this environment")
    return found


def error_line(stderr: str) -> tuple[str, int]:
    """The one error line and its exit code (asserting there is exactly one, no traceback)."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("dbt-runs: error:")]
    assert len(lines) == 1, stderr
    match = ERROR_LINE.match(lines[0])
    assert match, lines[0]
    return lines[0], int(match.group(1))
