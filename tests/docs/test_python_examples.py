"""Every Python example of the README and of the docs runs as written, against an emulator.

The code is in the Markdown itself, so that GitHub shows it, and mktestdocs finds it there
(`docs_support.py`): what a reader copies is what runs here. Each example runs in its own
Python process, as a user would run it:

- a script with only the environment a user would set (`DBT_API_KEY`, `DBT_CLOUD_BASE_URL`,
  `DBT_CLOUD_ACCOUNT_ID`, and the webhooks guide's `DBT_WEBHOOK_SECRET`), against a fresh
  loopback emulator whose clock runs fast, so that runs finish in a fraction of a second;
- a test file (its first line is `# test_something.py`) under pytest, with the other test
  files of its page, in an empty folder: the emulator's fixtures come from the plugin's entry
  point, as in a user's project.

The examples poll as a user's code would (the README's every 10 s), so they mostly wait:
they are started together, a few at a time, when the module's first test asks for them.

The recipes need Airflow, Dagster or Prefect: `tests/sync/test_recipes.py` runs each of them
from its page against small stand-ins.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from docs_support import ROOT, Block, blocks

from dbt_runs.testing import Emulator, RealClock

TOKEN = "dbtc_docs_example_token_0123456789"
WEBHOOK_SECRET = "docs-example-webhook-secret"
#: Emulated seconds per real second: a job's one-minute run takes about a tenth of a second.
SPEED = 600.0
#: Examples running at once: they mostly sleep between polls.
AT_ONCE = 8
TEST_FILE = re.compile(r"# (test_\w+\.py)")
#: Pages whose examples another test runs, and that test.
RUN_ELSEWHERE = {
    "docs/recipes/airflow.md": "tests/sync/test_recipes.py",
    "docs/recipes/dagster.md": "tests/sync/test_recipes.py",
    "docs/recipes/prefect.md": "tests/sync/test_recipes.py",
}
EXAMPLES = [block for block in blocks("python") if block.page not in RUN_ELSEWHERE]


def _test_file(block: Block) -> str | None:
    match = TEST_FILE.fullmatch(block.code.split("\n", 1)[0])
    return match[1] if match else None


SCRIPTS = [block for block in EXAMPLES if _test_file(block) is None]
TEST_FILES: dict[str, list[Block]] = {}
for _block in EXAMPLES:
    if _test_file(_block):
        TEST_FILES.setdefault(_block.page, []).append(_block)


def _clean_environment() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DBT_", "COV_", "PYTEST_"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Examples live outside the package: make `import dbt_runs` find the checkout too when
    # the package is not installed (it normally is, editable).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,  # an example serving stdio ends when stdin does
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def _script(block: Block, folder: Path) -> subprocess.CompletedProcess[str]:
    (folder / "example.py").write_text(block.code, encoding="utf-8")
    emulator = Emulator(token=TOKEN, runs=50, clock=RealClock(speed=SPEED))
    with emulator.serve_in_thread() as server:
        env = _clean_environment()
        env.update(DBT_API_KEY=TOKEN, DBT_CLOUD_BASE_URL=server.base_url, DBT_CLOUD_ACCOUNT_ID="1")
        env.update(DBT_WEBHOOK_SECRET=WEBHOOK_SECRET)
        # The folder is the current directory: examples that download artifacts write there.
        return _run([sys.executable, "example.py"], folder, env)


def _test_files(page: str, folder: Path) -> subprocess.CompletedProcess[str]:
    names = []
    for block in TEST_FILES[page]:
        name = _test_file(block)
        assert name is not None
        (folder / name).write_text(block.code, encoding="utf-8")
        names.append(name)
    args = [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"]
    return _run([*args, *names], folder, _clean_environment())


@pytest.fixture(scope="module")
def ran(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """Start every selected example at once; each test waits for its own."""
    jobs: dict[str, Callable[[Path], subprocess.CompletedProcess[str]]] = {}
    for item in request.session.items:
        params = getattr(item, "callspec", None)
        if item.module is not request.module or params is None:
            continue
        if "block" in params.params:
            block: Block = params.params["block"]
            jobs[block.id] = lambda folder, block=block: _script(block, folder)
        elif "page" in params.params:
            page: str = params.params["page"]
            jobs[page] = lambda folder, page=page: _test_files(page, folder)
    with ThreadPoolExecutor(max_workers=AT_ONCE, thread_name_prefix="docs-example") as pool:
        yield {
            key: pool.submit(job, tmp_path_factory.mktemp("example")) for key, job in jobs.items()
        }


def test_the_key_pages_have_python_examples() -> None:
    pages = {block.page for block in EXAMPLES}
    assert {"README.md", "docs/index.md", "docs/quickstart.md", "docs/guides/waiting.md"} <= pages
    # The fleet guide's blocks ran in a test of their own before every page's did.
    fleet = [block.code for block in EXAMPLES if block.page == "docs/guides/many-runs.md"]
    assert len(fleet) >= 6
    assert any("wait_for_runs" in code for code in fleet)
    assert any("as_completed" in code for code in fleet)
    assert {"README.md", "docs/guides/testing.md"} <= set(TEST_FILES)


def test_no_python_example_is_left_out() -> None:
    # A block may say it is not run (docs_support.NOT_RUN); none does today: keep it so.
    assert [block.id for block in EXAMPLES if block.not_run] == []


@pytest.mark.parametrize(("page", "test"), sorted(RUN_ELSEWHERE.items()))
def test_the_pages_run_elsewhere_are_run_there(page: str, test: str) -> None:
    assert Path(page).name in (ROOT / test).read_text(encoding="utf-8")
    assert blocks("python", pages=[ROOT / page]), f"{page} has no Python example any more"


@pytest.mark.slow
@pytest.mark.parametrize("block", SCRIPTS, ids=lambda block: block.id)
def test_script_runs_against_the_emulator(
    block: Block, ran: dict[str, Future[subprocess.CompletedProcess[str]]]
) -> None:
    result = ran[block.id].result()
    assert result.returncode == 0, f"{block.id} failed:\n{result.stdout}\n{result.stderr}"
    assert TOKEN not in result.stdout + result.stderr
    assert WEBHOOK_SECRET not in result.stdout + result.stderr
    # dbt leaves `status_message` null when a dbt command failed: say why another way.
    assert not re.search(r"failed: None\b", result.stdout), result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(TEST_FILES))
def test_test_files_pass_under_pytest(
    page: str, ran: dict[str, Future[subprocess.CompletedProcess[str]]]
) -> None:
    result = ran[page].result()
    assert result.returncode == 0, f"{page}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
    passed = re.search(r"\b(\d+) passed\b", result.stdout)
    assert passed, result.stdout
    assert int(passed[1]) >= len(TEST_FILES[page])
