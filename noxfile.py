"""Development sessions: `nox -s tests lint typecheck docs` (and `package`,
`install_examples`, `bench`).

Every session installs what it needs from this repository's own files (pyproject.toml's
extras and dependency groups), so a fresh machine with Python 3.11 or later and pip is
enough. `tests` runs on the Python that runs nox (the README's `python -m nox -s tests`
tests the `python` you have; CI runs it from a 3.11 and a 3.13 venv); the other sessions
pin the oldest supported Python, 3.11.
"""

from __future__ import annotations

import email.parser
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
# A session whose Python is missing must fail CI, not be skipped with exit status 0, nor
# fetched from the network (nox's default, "auto", downloads a missing interpreter).
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON = "3.11"


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


# The tests run on the Python that runs nox, in a venv named after its version (tests-3.13):
# nox reuses a session's venv without checking its interpreter, so one venv for every
# Python would quietly keep testing the first.
RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


@nox.session(python=[RUNNING])
def tests(session: nox.Session) -> None:
    """Run the test suite (unit, emulator, adapters, CLI, docs snippets, notebook, MCP over the
    TypeScript SDK) on the Python running nox."""
    session.install("-e", ".[server,cli,notebook]", *_group("test"))
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


#: Where `nox -s docs` builds the site (the README names it), and where `-- serve` previews it:
#: not 8000, the emulator's documented port.
SITE_DIR = "site"
PREVIEW_ADDRESS = "127.0.0.1:8001"


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ with `mkdocs build --strict`; `-- serve`
    previews it instead, rebuilt on every change, at http://127.0.0.1:8001."""
    session.install("-e", ".[server,cli]", *_group("docs"))
    env = {"NO_MKDOCS_2_WARNING": "1"}
    if session.posargs[:1] == ["serve"]:
        address = ["--dev-addr", PREVIEW_ADDRESS, *session.posargs[1:]]
        session.run("mkdocs", "serve", "--strict", *address, env=env)
    elif session.posargs:
        session.error(f"nox -s docs takes no argument but `serve`, not {session.posargs}")
    else:
        session.run("mkdocs", "build", "--strict", "--site-dir", SITE_DIR, env=env)
        session.log(f"the site is in {SITE_DIR}/: open {SITE_DIR}/index.html")


@nox.session(python=PYTHON)
def install_examples(session: nox.Session) -> None:
    """Run every install block of the README and the docs as written, each in a fresh venv
    (tests/docs/test_install_examples.py): the blocks the docs tests skip."""
    session.install(*_group("test"))
    session.run(
        "pytest",
        "-q",
        "tests/docs/test_install_examples.py",
        *session.posargs,
        env={"DBT_RUNS_INSTALL_EXAMPLES": "1"},
    )


@nox.session(python=PYTHON)
def package(session: nox.Session) -> None:
    """Build the sdist and the wheel as a release would, check them, install the wheel in a
    fresh venv and use it there: one step short of publishing."""
    session.install(*_group("package"))
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # The sdist first, then the wheel built from it: a file the sdist lacks fails here.
    session.run("python", "-m", "build", "--installer", "uv", "--outdir", str(dist), ".")
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    session.run("twine", "check", "--strict", str(sdist), str(wheel))
    session.run("check-wheel-contents", str(wheel))
    # The project's files: committed or new, never what git ignores (builds, node_modules).
    listed = session.run(
        "git", "ls-files", "--cached", "--others", "--exclude-standard", silent=True, external=True
    )
    assert isinstance(listed, str)
    try:
        _check_wheel(wheel, set(listed.splitlines()))
        _check_sdist(sdist, set(listed.splitlines()))
    except AssertionError as exc:
        session.error(f"the distributions are not what a release needs: {exc}")

    # A venv of its own, outside the checkout: nothing but the wheel and its dependencies.
    venv = tmp / "smoke-venv"
    shutil.rmtree(venv, ignore_errors=True)
    python = str(venv / "bin" / "python")
    session.run("uv", "venv", "--quiet", "--python", str(Path(session.bin) / "python"), str(venv))
    requirement = f"dbt-runs[server,cli] @ {wheel.resolve().as_uri()}"
    session.run("uv", "pip", "install", "--quiet", "--python", python, requirement)
    (tmp / "smoke.py").write_text(_SMOKE, encoding="utf-8")
    with session.chdir(tmp):
        session.run(python, "smoke.py", external=True)
        for args in (["--version"], ["--help"], ["runs", "trigger", "--help"]):
            session.run(str(venv / "bin" / "dbt-runs"), *args, external=True, silent=True)


# Run by the installed wheel, from outside the checkout.
_SMOKE = """
import asyncio, importlib.metadata as md, importlib.resources as res
import dbt_runs
assert "site-packages" in dbt_runs.__file__, dbt_runs.__file__
assert dbt_runs.__version__ == md.version("dbt-runs"), dbt_runs.__version__
assert res.files("dbt_runs").joinpath("py.typed").is_file()
spec = res.files("dbt_runs").joinpath("_spec/cloud-administrative-runs.yaml").read_text("utf-8")
assert "list-runs" in spec
plugins = {e.value for e in md.entry_points(group="pytest11")}
assert "dbt_runs.testing.pytest_plugin" in plugins, plugins
from dbt_runs.testing import Emulator, RealClock

async def main():
    async with Emulator(runs=3, clock=RealClock(speed=600)).client() as client:
        run = await client.trigger_run(1, cause="wheel smoke test")
        run = await client.wait_for_run(run, poll_interval=0.05, timeout=60)
    assert str(run.status) == "Success", run
    print("dbt-runs", dbt_runs.__version__, "from the wheel: run", run.id, run.status)

asyncio.run(main())
"""


def _check_wheel(wheel: Path, files: set[str]) -> None:
    """The wheel holds the package's files exactly (its typing marker and its spec YAML
    included, no tests, nothing git ignores), and the metadata pip and PyPI read."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (info,) = {name.split("/")[0] for name in names if ".dist-info/" in name}
        metadata = email.parser.HeaderParser().parsestr(
            archive.read(f"{info}/METADATA").decode("utf-8")
        )
        entry_points = archive.read(f"{info}/entry_points.txt").decode("utf-8")
    package = {name.removeprefix("src/") for name in files if name.startswith("src/dbt_runs/")}
    shipped = {name for name in names if not name.startswith(f"{info}/")}
    assert {"dbt_runs/py.typed", "dbt_runs/_spec/cloud-administrative-runs.yaml"} <= shipped
    assert shipped == package, (
        f"wheel: not the project's: {sorted(shipped - package)}; "
        f"missing: {sorted(package - shipped)}"
    )
    assert f"{info}/licenses/LICENSE" in names
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["License-Expression"] == "Apache-2.0"
    extras = set(metadata.get_all("Provides-Extra") or [])
    # The extras pyproject.toml declares, each one (a build that drops one fails here).
    assert extras == set(PYPROJECT["project"]["optional-dependencies"]), extras
    assert "dbt-runs = dbt_runs.cli:main" in entry_points
    assert "dbt_runs = dbt_runs.testing.pytest_plugin" in entry_points


def _check_sdist(sdist: Path, files: set[str]) -> None:
    """The sdist holds the project's files only (no node_modules, no build output), and what
    building and testing from it needs."""
    with tarfile.open(sdist) as archive:
        root, *_ = archive.getnames()[0].split("/")
        shipped = {m.name.removeprefix(f"{root}/") for m in archive.getmembers() if m.isfile()}
    extra = shipped - files - {"PKG-INFO"}
    assert not extra, f"sdist: not the project's (ignored by git): {sorted(extra)[:10]}"
    needed = {"pyproject.toml", "README.md", "LICENSE", "noxfile.py", "tests/conftest.py"}
    needed |= {name for name in files if name.startswith("src/dbt_runs/")}
    assert needed <= shipped, f"sdist: missing {sorted(needed - shipped)[:10]}"


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the benchmarks side by side into benchmarks/results/ (`-- --smoke`: tiny run)."""
    # With the speedups extra (orjson), as a user who cares about speed installs it; the
    # rows' notes say which JSON decoder dbt-runs used.
    session.install("-e", ".[server,cli,speedups]", *_group("bench"))
    session.run("python", "-m", "benchmarks", *session.posargs)
