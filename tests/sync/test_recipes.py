"""The recipes (docs/recipes/) run as written, against the emulator.

The Python recipes run in this process with the stand-ins of `tests/sync/fakes` first on
`sys.path` as `airflow`, `dagster` and `prefect`: each recipe is read from its page's code
block, exactly what a user pastes. The GitHub Actions recipe's workflow is parsed and its
`run:` steps executed with bash, the `dbt-runs` command against the emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dbt_runs import RunFailedError
from dbt_runs.testing import Emulator, EmulatorServer, RealClock

from .conftest import TOKEN

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "docs" / "recipes"
#: Each recipe's file name (as its first line says) and the page that shows it.
SOURCES = {
    "airflow_dag.py": "airflow.md",
    "dagster_asset.py": "dagster.md",
    "prefect_flow.py": "prefect.md",
    "github_actions.yml": "github-actions.md",
}
FAKES = Path(__file__).resolve().parent / "fakes"
ORCHESTRATORS = ("airflow", "dagster", "prefect")
SUCCESS, ERROR = 10, 20

pytestmark = pytest.mark.slow


@pytest.fixture
def emulator() -> Emulator:
    # Real time, runs 600 times shorter: a run takes a fraction of a second.
    return Emulator(runs=20, token=TOKEN, clock=RealClock(speed=600))


@pytest.fixture
def environment(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the recipes read their configuration from, as a worker's would."""
    monkeypatch.delenv("DBT_CLOUD_HOST", raising=False)
    monkeypatch.setenv("DBT_API_KEY", TOKEN)
    monkeypatch.setenv("DBT_CLOUD_BASE_URL", server.base_url)
    monkeypatch.setenv("DBT_CLOUD_ACCOUNT_ID", "1")


@pytest.fixture
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recipes poll every 30 s: their clients' sleeps last 10 ms at most here."""
    real_sleep = asyncio.sleep

    async def quick(delay: float, result: Any = None) -> Any:
        return await real_sleep(min(delay, 0.01), result)

    monkeypatch.setattr(asyncio, "sleep", quick)


@pytest.fixture
def orchestrators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(FAKES))
    yield
    for name in list(sys.modules):
        if name.partition(".")[0] in ORCHESTRATORS:
            del sys.modules[name]


def recipe_source(name: str) -> str:
    """The recipe as its page shows it: the page's one Python or YAML block."""
    text = (PAGES / SOURCES[name]).read_text(encoding="utf-8")
    (block,) = re.findall(r"^```(?:python|yaml)\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    return block


def run_recipe(name: str) -> dict[str, Any]:
    """Run the recipe as a script (`python recipe.py`); its module's globals afterwards."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(recipe_source(name), str(PAGES / SOURCES[name]), "exec"), namespace)
    return namespace


@pytest.mark.usefixtures("environment", "quick_polls", "orchestrators")
class TestPythonRecipes:
    def test_the_airflow_task_runs_the_job(
        self, emulator: Emulator, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO)
        recipe = run_recipe("airflow_dag.py")
        dag = recipe["nightly"]
        assert dag.kwargs["catchup"] is False
        run_id = dag.results["run_dbt_cloud_job"]  # the task's XCom
        assert emulator.run(run_id).status == SUCCESS
        assert emulator.run(run_id).cause.startswith("Airflow: dbt_cloud_nightly")
        logged = caplog.text
        assert f"Triggered dbt Cloud run {run_id}" in logged
        assert f"dbt Cloud run {run_id}: Success" in logged
        assert "dbt build" in logged  # dbt's own output, streamed into the task's log

    def test_the_airflow_task_fails_for_good_with_dbts_reason(
        self, emulator: Emulator, caplog: pytest.LogCaptureFixture
    ) -> None:
        emulator.set_job_outcome(1, "error")
        with pytest.raises(Exception, match=r"dbt Cloud run \d+ failed") as info:
            run_recipe("airflow_dag.py")
        assert type(info.value).__name__ == "AirflowFailException"
        assert isinstance(info.value.__cause__, RunFailedError)
        failed = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert failed
        assert all(r.getMessage().startswith(("model.", "test.", "seed.")) for r in failed)

    def test_a_retried_airflow_task_picks_up_its_run(self, emulator: Emulator) -> None:
        first_try = emulator.trigger_run(1, cause="Airflow: dbt_cloud_nightly")
        before = emulator.run_count
        recipe = run_recipe("airflow_dag.py")
        assert recipe["nightly"].results["run_dbt_cloud_job"] == first_try
        assert emulator.run_count == before

    def test_the_dagster_asset_materializes(self, emulator: Emulator) -> None:
        recipe = run_recipe("dagster_asset.py")
        dagster = sys.modules["dagster"]
        (result,) = dagster.MATERIALIZED  # type: ignore[attr-defined]
        assert result.success
        metadata = result.results["dbt_cloud_nightly"].metadata
        assert metadata["nodes"] > 0
        run_id = int(metadata["dbt Cloud run"].value.rstrip("/").rsplit("/", 1)[-1])
        assert emulator.run(run_id).status == SUCCESS
        assert emulator.run(run_id).cause.startswith("Dagster run ")
        assert recipe["defs"].assets == [recipe["dbt_cloud_nightly"]]

    def test_the_dagster_asset_fails_with_the_failed_nodes(self, emulator: Emulator) -> None:
        emulator.set_job_outcome(1, "error")
        with pytest.raises(Exception, match=r"dbt Cloud run \d+ failed") as info:
            run_recipe("dagster_asset.py")
        assert type(info.value).__name__ == "Failure"
        failed = info.value.metadata["failed nodes"].value  # type: ignore[attr-defined]
        assert failed
        assert all(node in str(info.value) for node in failed)

    def test_the_prefect_flow_runs_jobs_side_by_side(self, emulator: Emulator) -> None:
        before = emulator.run_count
        run_recipe("prefect_flow.py")
        runs = emulator.runs()[before:]
        assert sorted(run.job_id for run in runs) == [1, 2]
        assert all(run.status == SUCCESS for run in runs)
        assert all(run.cause.startswith("Prefect: nightly") for run in runs)
        # Submitted together: the second run was triggered before the first finished.
        first, second = sorted(runs, key=lambda run: run.created_at)
        assert first.finished_at is not None
        assert second.created_at < first.finished_at

    def test_the_prefect_flow_fails_when_a_job_fails(self, emulator: Emulator) -> None:
        emulator.set_job_outcome(2, "error")
        before = emulator.run_count
        with pytest.raises(RunFailedError):
            run_recipe("prefect_flow.py")
        statuses = {run.job_id: run.status for run in emulator.runs()[before:]}
        assert statuses == {1: SUCCESS, 2: ERROR}


# -- GitHub Actions --------------------------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """The GitHub expressions the recipe uses: lookups, `||`, `&&` and `always()`."""
    if "||" in expression:
        values = [evaluate(part, context) for part in expression.split("||")]
        return next((value for value in values if value), values[-1])
    if "&&" in expression:
        values = [evaluate(part, context) for part in expression.split("&&")]
        return next((value for value in values if not value), values[-1])
    expression = expression.strip()
    if expression == "always()":
        return True
    value: Any = context
    for key in expression.split("."):
        if not isinstance(value, dict) or key not in value:
            raise KeyError(f"the test gives no value for {expression!r}")
        value = value[key]
    return value


def substitute(text: str, context: dict[str, Any]) -> str:
    return EXPRESSION.sub(lambda m: str(evaluate(m.group(1), context)), text)


class Workflow:
    """Runs the recipe's one job as a GitHub runner would, minus `uses:` steps and installs."""

    def __init__(self, server: EmulatorServer, workspace: Path) -> None:
        self.workspace = workspace
        self.context: dict[str, Any] = {
            "secrets": {"DBT_API_KEY": TOKEN},
            # A host that resolves nowhere: the runner's DBT_CLOUD_BASE_URL (the emulator)
            # takes precedence, as it does for any dbt-runs command.
            "vars": {
                "DBT_CLOUD_HOST": "dbt-cloud.invalid",
                "DBT_CLOUD_ACCOUNT_ID": "1",
                "DBT_CLOUD_JOB_ID": "1",
            },
            "github": {
                "workflow": "dbt Cloud",
                "run_number": 7,
                "head_ref": "feature/orders",
                "ref_name": "main",
            },
            "steps": {},
        }
        runner = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "PYTEST_"))}
        runner["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), runner["PATH"]])
        runner["DBT_CLOUD_BASE_URL"] = server.base_url
        self.runner = runner
        self.ran: list[tuple[str, int]] = []
        self.skipped: list[str] = []

    def run(self, workflow: dict[str, Any]) -> None:
        (job,) = workflow["jobs"].values()
        env = {key: substitute(str(value), self.context) for key, value in job["env"].items()}
        failed = False
        for step in job["steps"]:
            label = step.get("name") or step.get("uses") or step["run"]
            condition = step.get("if")
            wanted = evaluate(condition, self.context) if condition else not failed
            if not wanted or "uses" in step:
                self.skipped.append(label)
                continue
            script = substitute(step["run"], self.context)
            if script.startswith("pip install"):
                self.skipped.append(label)  # dbt-runs is installed here already
                continue
            outputs = self.workspace / f".output-{len(self.ran)}"
            outputs.touch()
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=self.workspace,
                env={**self.runner, **env, "GITHUB_OUTPUT": str(outputs)},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert TOKEN not in result.stdout + result.stderr
            self.ran.append((label, result.returncode))
            failed = failed or result.returncode != 0
            if "id" in step:
                lines = outputs.read_text().splitlines()
                self.context["steps"][step["id"]] = {
                    "outputs": dict(x.split("=", 1) for x in lines)
                }


@pytest.fixture
def workflow() -> dict[str, Any]:
    return yaml.safe_load(recipe_source("github_actions.yml"))


@pytest.fixture
def fast_emulator() -> Emulator:
    # `runs wait` polls every 15 s: at this speed the run is over before its first look.
    return Emulator(runs=20, token=TOKEN, clock=RealClock(speed=100_000))


def test_the_github_actions_job(
    workflow: dict[str, Any], fast_emulator: Emulator, tmp_path: Path
) -> None:
    with fast_emulator.serve_in_thread() as server:
        runner = Workflow(server, tmp_path)
        runner.run(workflow)
    assert runner.ran == [
        ("Trigger the dbt Cloud job", 0),
        ("Wait for it", 0),
        ("Keep its run_results.json", 0),
    ]
    assert runner.skipped == [
        "actions/setup-python@v5",
        'pip install "dbt-runs[cli] @ git+https://<git host>/<owner>/dbt-runs.git"',
        "actions/upload-artifact@v4",
    ]
    run_id = int(runner.context["steps"]["trigger"]["outputs"]["run_id"])
    run = fast_emulator.run(run_id)
    assert run.status == SUCCESS
    assert run.cause.startswith("GitHub: dbt Cloud #7")
    assert json.loads((tmp_path / "run_results.json").read_text())["results"]


def test_the_github_actions_job_fails_and_keeps_the_results(
    workflow: dict[str, Any], fast_emulator: Emulator, tmp_path: Path
) -> None:
    fast_emulator.set_job_outcome(1, "error")
    with fast_emulator.serve_in_thread() as server:
        runner = Workflow(server, tmp_path)
        runner.run(workflow)
    assert runner.ran == [
        ("Trigger the dbt Cloud job", 0),
        ("Wait for it", 1),  # the CLI's exit code for a failed run
        ("Keep its run_results.json", 0),  # `if: always()`
    ]
    assert json.loads((tmp_path / "run_results.json").read_text())["results"]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_recipe_page_shows_one_whole_recipe(name: str) -> None:
    source = recipe_source(name)
    assert "dbt_runs" in source or "dbt-runs runs" in source
    assert len(source.splitlines()) > 20, f"{SOURCES[name]} shows a fragment of {name}"
