"""Every Python block of docs/guides/many-runs.md runs, as a user would run it, against a
loopback emulator: the way `test_snippets.py` runs the snippet files (its fixture), block by
block, each in its own process with only the environment a user would set."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_snippets import DOCS, TOKEN, emulator_env

GUIDE = DOCS / "guides" / "many-runs.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
BLOCKS = BLOCK.findall(GUIDE.read_text(encoding="utf-8"))

__all__ = ["emulator_env"]  # the fixture, imported to be used here


def test_the_guide_has_its_examples() -> None:
    # Guards the reading above: were it to find nothing, the test below would pass.
    assert len(BLOCKS) >= 6
    assert any("wait_for_runs" in block for block in BLOCKS)
    assert any("as_completed" in block for block in BLOCKS)


@pytest.mark.slow
@pytest.mark.parametrize("number", range(len(BLOCKS)), ids=lambda n: f"block-{n + 1}")
def test_block_runs_against_the_emulator(
    number: int, emulator_env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / f"many_runs_{number + 1}.py"
    script.write_text(BLOCKS[number], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        env=emulator_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, f"block {number + 1} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"block {number + 1} printed nothing"
    assert TOKEN not in result.stdout + result.stderr
