"""The quickstart notebook: committed without outputs, and it runs from top to bottom."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
KERNEL = "python3"


def test_there_is_a_quickstart_notebook() -> None:
    assert ROOT / "docs" / "notebooks" / "quickstart.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    # Outputs hold timestamps, ids and local paths: noise in every diff, and stale the day
    # the code changes. The test suite executes the notebook instead.
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell.get("outputs") == [], f"cell {index} has outputs"
        assert cell.get("execution_count") is None, f"cell {index} has an execution count"
    assert "widgets" not in notebook.get("metadata", {})


def _use_this_python_as_the_kernel(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `python3` mean this interpreter, whatever kernels the machine has installed.

    A fresh nox venv may lack a kernelspec, and a user-level `python3` kernel may point at
    another Python without dbt-runs. `JUPYTER_PATH` comes first in Jupyter's search path, so a
    kernelspec written there wins, and nothing is written into the environment itself.
    """
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (dbt-runs tests)",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("JUPYTER_PATH", str(root))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    _use_this_python_as_the_kernel(tmp_path / "jupyter", monkeypatch)

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=60,
        startup_timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},  # the notebook's working directory
    )
    client.execute()

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    html = "".join(
        o.get("data", {}).get("text/html", "")
        for o in outputs
        if o.output_type in ("execute_result", "display_data")
    )
    # Visible progress (Queued and Starting last a few hundredths of a real second at this
    # speed, so only the longer phases are certain to be seen), then a page as a table.
    for status in ("Running", "Success", "Error"):
        assert status in text, status
    assert "<table class='dbt-runs-page'>" in html  # RunPage._repr_html_
    assert "<table class='dbt-runs-run'>" in html  # Run._repr_html_
    assert "failed:" in text
    assert "run_results.json" in text
