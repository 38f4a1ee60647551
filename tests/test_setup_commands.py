"""The README's first block is the contract with a new user and with CI: keep them in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL)
    assert block is not None, "README.md must open with a bash block of set-up commands"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_the_readme_opens_with_two_setup_commands() -> None:
    serve, tests = _setup_commands()
    assert "dbt-runs serve --emulator" in serve
    assert "nox -s tests" in tests


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    _, tests = _setup_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci_lines


def _fake_python(tmp_path: Path, *, fail: str) -> tuple[Path, Path]:
    """A `python` that records each call and fails the one whose arguments contain `fail`."""
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python"
    fake.write_text(
        f'#!/bin/sh\necho "$*" >> "{log}"\ncase "$*" in *"{fail}"*) exit 3;; esac\nexit 0\n'
    )
    fake.chmod(0o755)
    return bin_dir, log


def _run_ci(bin_dir: Path) -> int:
    import os
    import subprocess

    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    script = ROOT / ".ci" / "run"
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, check=False)
    return done.returncode


def test_ci_fails_when_the_install_half_of_the_test_command_fails(tmp_path: Path) -> None:
    # bash's `set -e` does not stop on the left side of `&&`: CI must still stop here.
    bin_dir, log = _fake_python(tmp_path, fail="pip install")
    assert _run_ci(bin_dir) != 0
    calls = log.read_text().splitlines()
    assert calls == ["-m pip install nox[uv]"], calls  # neither the tests nor lint ran


def test_ci_fails_when_the_tests_fail(tmp_path: Path) -> None:
    bin_dir, log = _fake_python(tmp_path, fail="-s tests")
    assert _run_ci(bin_dir) != 0
    assert not any("lint" in call for call in log.read_text().splitlines())


def test_nox_refuses_to_skip_a_session_whose_python_is_missing() -> None:
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert "nox.options.error_on_missing_interpreters = True" in noxfile
