"""Every code snippet of the docs runs, as a user would run it, against a loopback emulator.

The docs include `docs/snippets/*.py` with pymdownx.snippets (`--8<-- "docs/snippets/x.py"`),
so the code a reader copies is exactly the code executed here: the docs cannot rot.
Each snippet runs in its own Python process with only the environment a user would set
(`DBT_API_KEY`, `DBT_CLOUD_BASE_URL`, `DBT_CLOUD_ACCOUNT_ID`), against a fresh emulator whose
clock runs fast so that runs finish in a second or two.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbt_runs.testing import Emulator, RealClock

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SNIPPETS = sorted((DOCS / "snippets").glob("*.py"))
TOKEN = "dbtc_docs_snippet_token_0123456789"
#: Emulated seconds per real second: a job's one-minute run takes about a tenth of a second.
SPEED = 600.0
INCLUDE = re.compile(r"""--8<--\s+["']([^"']+)["']""")


@pytest.fixture
def emulator_env() -> Iterator[dict[str, str]]:
    emulator = Emulator(token=TOKEN, runs=50, clock=RealClock(speed=SPEED))
    with emulator.serve_in_thread() as server:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DBT_", "COV_", "PYTEST_"))
        }
        env.update(
            DBT_API_KEY=TOKEN,
            DBT_CLOUD_BASE_URL=server.base_url,
            DBT_CLOUD_ACCOUNT_ID="1",
            PYTHONDONTWRITEBYTECODE="1",
            # Snippets live outside the package: make `import dbt_runs` find the checkout too
            # when the package is not installed (it normally is, editable).
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p),
        )
        yield env


def test_the_quickstart_snippet_exists() -> None:
    assert DOCS / "snippets" / "quickstart.py" in SNIPPETS


@pytest.mark.slow
@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda p: p.name)
def test_snippet_runs_against_the_emulator(
    snippet: Path, emulator_env: dict[str, str], tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, str(snippet)],
        env=emulator_env,
        cwd=tmp_path,  # snippets that download artifacts write here
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, f"{snippet.name} failed:\n{result.stdout}\n{result.stderr}"
    assert TOKEN not in result.stdout + result.stderr


def _includes() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for page in DOCS.rglob("*.md"):
        for target in INCLUDE.findall(page.read_text(encoding="utf-8")):
            found.setdefault(target, []).append(str(page.relative_to(ROOT)))
    return found


def test_every_snippet_is_shown_on_some_page() -> None:
    # A snippet no page includes is tested code that no reader sees: likely a forgotten one.
    shown = _includes()
    orphans = [p.name for p in SNIPPETS if f"docs/snippets/{p.name}" not in shown]
    assert not orphans, f"snippets no docs page includes: {orphans}"


def test_the_readme_example_is_the_tested_snippet() -> None:
    # GitHub cannot include files, so the README carries a copy: it must stay identical.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = (DOCS / "snippets" / "readme.py").read_text(encoding="utf-8")
    assert f"```python\n{snippet}```" in readme


@pytest.mark.slow
def test_the_readme_pytest_example_passes(tmp_path: Path) -> None:
    # The README's emulator example is a test suite of its own: run it as a user would.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Testing with the emulator") :]
    start = section.index("```python\n") + len("```python\n")
    example = section[start : section.index("```\n", start)]
    (tmp_path / "test_readme_example.py").write_text(example, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "PYTEST_"))},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
