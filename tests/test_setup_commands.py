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
