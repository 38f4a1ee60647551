"""The testing guide's code runs as written: its test files under a fresh pytest (the plugin
loaded through its entry point, as in a user's project), its script as a script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guides" / "testing.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text(encoding="utf-8"))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "PYTEST_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.mark.slow
def test_the_guides_test_files_pass_under_pytest(tmp_path: Path) -> None:
    names = []
    for block in _blocks():
        first = block.splitlines()[0]
        if re.fullmatch(r"# test_\w+\.py", first):
            name = first[2:]
            (tmp_path / name).write_text(block, encoding="utf-8")
            names.append(name)
    assert len(names) >= 3
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", *names],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


@pytest.mark.slow
def test_the_guides_script_runs(tmp_path: Path) -> None:
    scripts = [b for b in _blocks() if "asyncio.run(main())" in b]
    assert len(scripts) == 1
    path = tmp_path / "demo.py"
    path.write_text(scripts[0], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(path)], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"dbt Cloud emulator at http://127\.0\.0\.1:\d+/api/v2", result.stdout)
