"""The quickstart notebook: stored with its outputs, and they are what it prints today.

The notebook is committed executed, so that GitHub and any notebook viewer show what it does
(a progress bar, tables, a chart) without running it; the docs site does not render
notebooks. The test suite runs it again, top to bottom against the emulator, and compares
each cell's outputs with the stored ones: same kinds of output, same text once ids, times
and durations are set aside, an image where there was one. A change that alters what the
notebook shows fails here until the stored outputs are refreshed:

    DBT_RUNS_UPDATE_NOTEBOOKS=1 pytest tests/docs/test_notebook.py

which executes each notebook and writes it back (outputs only: no timings, no kernel
version, no widget state).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
UPDATE = os.environ.get("DBT_RUNS_UPDATE_NOTEBOOKS") == "1"
# Stored metadata: what a viewer needs to pick a kernel, nothing that varies by machine.
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": KERNEL},
    "language_info": {"name": "python"},
}
# What a fresh environment may print once, unasked (matplotlib's first import).
FIRST_RUN_NOISE = re.compile(r"^Matplotlib is building the font cache")


def test_there_is_a_quickstart_notebook() -> None:
    assert ROOT / "docs" / "notebooks" / "quickstart.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_as_one_clean_run(path: Path) -> None:
    if UPDATE:
        pytest.skip("the notebook is being written again")
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    # Every cell run once, in order, from a fresh kernel.
    assert [cell["execution_count"] for cell in code] == list(range(1, len(code) + 1))
    outputs = [output for cell in code for output in cell["outputs"]]
    assert outputs, "the notebook is stored without its outputs"
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert notebook["metadata"] == METADATA
    assert all(cell["metadata"] == {} for cell in notebook["cells"])  # no timings
    text = json.dumps(outputs)
    for local in ("/tmp/", "/home/", "/root/", "site-packages", str(ROOT)):
        assert local not in text, f"an output shows a local path ({local})"


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


def _normal(text: str) -> str:
    """Text with what changes from run to run set aside: the marker each trigger carries in
    its cause, every number (ids, times, durations, counts) as `#`, and runs of spaces as
    one (columns pad to the numbers)."""
    text = re.sub(r"\[dbt-runs:[0-9a-f]+\]", "[dbt-runs:marker]", text)
    return re.sub(r"[ \t]+", " ", re.sub(r"\d+(?:\.\d+)?", "#", text)).strip()


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _summary(output: dict[str, Any]) -> tuple[Any, ...]:
    """What must stay the same of one output."""
    kind = output["output_type"]
    if kind == "stream":
        return (kind, output["name"], _normal(_text(output["text"])))
    if kind in ("display_data", "execute_result"):
        data = output["data"]
        # An image's bytes change with every duration drawn: that there is one is the point.
        shown = {
            mime: "<image>" if mime.startswith("image/") else _normal(_text(value))
            for mime, value in sorted(data.items())
        }
        return (kind, shown)
    return (kind, output.get("ename"), output.get("evalue"))


def _summaries(notebook: dict[str, Any]) -> list[list[tuple[Any, ...]]]:
    return [
        [
            _summary(output)
            for output in cell["outputs"]
            if not (
                output["output_type"] == "stream"
                and output["name"] == "stderr"
                and FIRST_RUN_NOISE.match(_text(output["text"]))
            )
        ]
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
    ]


def _stored_form(notebook: Any) -> Any:
    """The executed notebook as it is committed: outputs, counts, fixed metadata."""
    notebook.metadata = METADATA
    for cell in notebook.cells:
        cell.metadata = {}
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_shows_what_is_stored(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")  # the `notebook` extra
    _use_this_python_as_the_kernel(tmp_path / "jupyter", monkeypatch)

    notebook = nbformat.read(path, as_version=4)
    stored = json.loads(path.read_text(encoding="utf-8"))
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=60,
        startup_timeout=60,
        record_timing=False,
        resources={"metadata": {"path": str(tmp_path)}},  # the notebook's working directory
    )
    client.execute()
    executed = json.loads(nbformat.writes(_stored_form(notebook)))

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    html = "".join(
        o.get("data", {}).get("text/html", "")
        for o in outputs
        if o.output_type in ("display_data", "execute_result")
    )
    # What the notebook is there to show: the progress bar's last state for the run that
    # succeeded and for the one that failed, a page and a run as tables, the chart.
    assert re.search(r"run \d+ Success, (\d+)/\1 steps", html)
    assert re.search(r"run \d+ Error, \d+/\d+ steps", html)
    assert "<table class='dbt-runs-page'>" in html  # RunPage._repr_html_
    assert "<table class='dbt-runs-run'>" in html  # Run._repr_html_
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert "failed: run" in text
    assert "run_results.json" in text

    if UPDATE:
        path.write_text(nbformat.writes(_stored_form(notebook)) + "\n", encoding="utf-8")
        return
    for index, (now, then) in enumerate(zip(_summaries(executed), _summaries(stored), strict=True)):
        assert now == then, (
            f"code cell {index + 1} of {path.name} shows something else than what is stored; "
            "if that is intended, refresh the stored outputs: "
            "DBT_RUNS_UPDATE_NOTEBOOKS=1 pytest tests/docs/test_notebook.py"
        )
