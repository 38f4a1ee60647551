"""The public surface of `dbt_runs`: what it exports and what it does not import."""

from __future__ import annotations

import subprocess
import sys

import dbt_runs


def test_all_is_sorted_and_complete() -> None:
    assert list(dbt_runs.__all__) == sorted(dbt_runs.__all__)
    for name in dbt_runs.__all__:
        assert hasattr(dbt_runs, name), name


def test_version_is_a_string() -> None:
    assert isinstance(dbt_runs.__version__, str)
    assert dbt_runs.__version__.count(".") >= 2


def test_import_pulls_in_no_server_library() -> None:
    # click is left out on purpose: httpx imports its optional CLI (and so click) whenever
    # click is installed, as it is in the dev venv; nox's core_only session checks a clean
    # install, where click is absent.
    code = (
        "import sys, dbt_runs; "
        "print(','.join(sorted(m for m in ('starlette', 'uvicorn', 'mcp', 'sse_starlette') "
        "if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == ""


def test_every_error_is_exported_from_the_package() -> None:
    from dbt_runs import errors

    for name in errors.__all__:
        assert name in dbt_runs.__all__, name
        assert getattr(dbt_runs, name) is getattr(errors, name)
        assert issubclass(getattr(errors, name), errors.DbtRunsError)


def test_public_names_have_docstrings() -> None:
    for name in dbt_runs.__all__:
        value = getattr(dbt_runs, name)
        if callable(value) and not name.startswith("_"):
            assert (value.__doc__ or "").strip(), name


def test_import_works_without_the_notebooks_libraries() -> None:
    # The notebook's progress bar (IPython's display) and chart (matplotlib, the `notebook`
    # extra) are optional: with them uninstallable, `import dbt_runs` and a run's notebook
    # rendering still work, and importing dbt_runs pulls in neither.
    code = (
        "import sys\n"
        "for name in ('IPython', 'matplotlib', 'tqdm', 'ipywidgets'):\n"
        "    sys.modules[name] = None  # import fails, as when not installed\n"
        "import dbt_runs\n"
        "run = dbt_runs.Run(id=1, status=dbt_runs.RunStatus.SUCCESS)\n"
        "assert 'Success' in run._repr_html_(), run._repr_html_()\n"
        "print(str(run.status))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "Success"
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, dbt_runs; print('IPython' in sys.modules or "
            "'matplotlib' in sys.modules or 'tqdm' in sys.modules)",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert loaded.stdout.strip() == "False"
