"""Development sessions: `nox -s tests lint typecheck docs` (and `bench` for the benchmarks).

Every session installs what it needs from this repository's own files (pyproject.toml's
extras and dependency groups), so a fresh machine with Python 3.11 and pip is enough.
"""

from __future__ import annotations

import os

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
# A session whose Python is missing must fail CI, not be skipped with exit status 0.
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON = "3.11"


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (unit, emulator, adapters, CLI, docs snippets, notebook, MCP over the
    TypeScript SDK)."""
    session.install("-e", ".[server,cli]", *_group("test"))
    # The MCP tests also call the server with the official TypeScript SDK (tests/mcp/ts),
    # pinned by its lock file; a missing node or npm fails the session.
    session.run("npm", "ci", "--prefix", "tests/mcp/ts", "--no-audit", "--no-fund", external=True)
    session.run("pytest", *(session.posargs or ["-q"]))


@nox.session(python=PYTHON)
def core_only(session: nox.Session) -> None:
    """Install without extras and check that `import dbt_runs` pulls in no server library."""
    session.install(".")
    session.run(
        "python",
        "-c",
        "import sys, dbt_runs; "
        "bad = sorted(m for m in ('starlette', 'uvicorn', 'mcp', 'click') if m in sys.modules); "
        "assert not bad, bad; print('dbt_runs', dbt_runs.__version__, 'imports no server deps')",
    )


@nox.session(python=PYTHON)
def cli_only(session: nox.Session) -> None:
    """Install with the `cli` extra alone: the runs/artifacts commands work without the server."""
    session.install(".[cli]")
    session.run("dbt-runs", "runs", "--help", silent=True)
    session.run("dbt-runs", "artifacts", "download", "--help", silent=True)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/."""
    session.install("-e", ".[server,cli]", *_group("typecheck"))
    session.run("mypy", "--strict", "src/dbt_runs")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site with `mkdocs build --strict`."""
    session.install("-e", ".[server,cli]", *_group("docs"))
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        os.path.join(session.create_tmp(), "site"),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the benchmarks side by side into benchmarks/results/ (`-- --smoke`: tiny run)."""
    session.install("-e", ".[server,cli]", *_group("bench"))
    session.run("python", "-m", "benchmarks", *session.posargs)
