"""Start-up: `import dbt_runs` and `dbt-runs runs --help` load only what they use.

What they leave out is what a cold start pays most for (httpx and, through it, any CLI
libraries it finds; tenacity; generating the converters). Timings are the benchmarks' job
(row 12); these tests guard the imports that make them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx", "tenacity", "dbt_runs._client", "dbt_runs._http")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


@pytest.mark.slow
def test_import_dbt_runs_loads_no_client_module() -> None:
    loaded = _loaded_after("import dbt_runs")
    assert not loaded & {*HEAVY, "cattrs", "dbt_runs.models"}


@pytest.mark.slow
def test_runs_help_loads_neither_httpx_nor_the_client() -> None:
    code = (
        "import contextlib, io\n"
        "from dbt_runs.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['runs', '--help'])"
    )
    assert not _loaded_after(code) & set(HEAVY)


def test_names_still_resolve_on_first_use() -> None:
    import dbt_runs

    assert dbt_runs.AsyncRunsClient.__module__ == "dbt_runs._client"
    assert dbt_runs.models.Run is dbt_runs.Run  # a submodule, as before the lazy package
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = dbt_runs.Nope  # type: ignore[attr-defined]
