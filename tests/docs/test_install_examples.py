"""Every install block of the README and of the docs runs as written, in a fresh venv.

These are the blocks with a `python -m pip install` line, which `test_shell_examples.py`
leaves to this module. Each one runs here with `bash -euo pipefail` in a
venv of its own (made by `python -m venv`, so its `python -m pip` is pip, as for a reader),
in a copy of this checkout (its committed and new files, not what git ignores), as the pages
say to run them. A Git URL with placeholders (`git+https://<git host>/<owner>/dbt-runs.git`)
is this repository's own (`git+file://localhost/...`: its HEAD). `dbt-runs serve --emulator`
after an install is started on free ports and must answer the REST adapter's run listing,
then stop on Ctrl-C with status 0. Then the installed distribution is imported from outside the
checkout, and the `dbt-runs` command, when an extra brings it, answers `--version`.

Two commands of those blocks run elsewhere, and are named so here: the README's test command
(`python -m nox -s tests`, which `.ci/run` runs verbatim in fresh venvs) and the benchmarks
(`python -m nox -s bench`, minutes long; CI runs its smoke run). Any other command in an
install block fails this test, so a new kind of line is not skipped unseen.

They reach the package index, which the test suite otherwise never does, so they run only
with `DBT_RUNS_INSTALL_EXAMPLES=1`: `nox -s install_examples` sets it, and `.ci/run` runs that
session.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

import pytest
from docs_support import ROOT, SHELL, Block, blocks

INSTALLS = [block for block in blocks(*SHELL) if block.installs and not block.not_run]
ENABLED = os.environ.get("DBT_RUNS_INSTALL_EXAMPLES") == "1"
GIT_URL = "git+https://<git host>/<owner>/dbt-runs.git"
PIP_INSTALL = re.compile(r"^python -m pip install (?P<requirements>.+)$")
#: Commands of install blocks that other CI steps run, and which.
ELSEWHERE = {
    "python -m nox -s tests": ".ci/run runs the README's test command verbatim",
    "python -m nox -s bench -- --smoke": ".ci/run runs it",
    "python -m nox -s bench": "the benchmarks take minutes: CI runs `nox -s bench -- --smoke`",
}
SERVE = "dbt-runs serve --emulator"
STARTUP_SECONDS = 60


def _commands(code: str) -> list[str]:
    """The block's commands, one per `&&` part of each line, without comments."""
    joined = code.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        text = shlex.join(words)
        commands += [part.strip() for part in text.split(" '&&' ")]
    return commands


def _installs_dbt_runs(command: str) -> bool:
    """Whether a pip command installs dbt-runs (from the checkout or a Git URL)."""
    requirements = shlex.split(command)[4:]
    return any(r == "." or r.startswith((".[", "dbt-runs")) for r in requirements)


def _kind(command: str) -> str:
    if PIP_INSTALL.match(command):
        return "install"
    if command == SERVE:
        return "serve"
    for prefix, why in ELSEWHERE.items():
        if command.startswith(prefix):
            return f"elsewhere: {why}"
    return "unknown"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout as a reader has it: committed and new files, nothing ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    copy = tmp_path_factory.mktemp("checkout")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def _environment(env_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DBT_", "COV_", "PYTEST_", "VIRTUAL_ENV", "NOX_", "UV_"))
    }
    env["VIRTUAL_ENV"] = str(env_dir)
    env["PATH"] = os.pathsep.join([str(env_dir / "bin"), env.get("PATH", "")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _serve(env: dict[str, str], folder: Path) -> None:
    """`dbt-runs serve --emulator`, on free ports: it answers, then stops on Ctrl-C."""
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["dbt-runs", "serve", "--emulator", "--rest-port", "0", "--mcp-port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env=env,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (found := re.search(r"REST adapter at (http://\S+/v1)", log_path.read_text())):
            assert process.poll() is None, f"`{SERVE}` ended:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"`{SERVE}` did not start:\n{log_path.read_text()}"
            time.sleep(0.1)
        while True:
            try:
                with urllib.request.urlopen(f"{found[1]}/accounts/1/runs?limit=1", timeout=10) as r:
                    answer = json.load(r)  # urlopen raises on a status other than 2xx
                break
            except urllib.error.URLError as exc:
                if isinstance(exc, urllib.error.HTTPError) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert answer["data"][0]["id"] >= 100001, answer
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_every_install_block_runs_only_commands_this_test_knows() -> None:
    assert {block.page for block in INSTALLS} >= {"README.md", "docs/quickstart.md"}
    for block in INSTALLS:
        for command in _commands(block.code):
            assert _kind(command) != "unknown", f"{block.id}: no rule for `{command}`"


@pytest.mark.slow
@pytest.mark.skipif(
    not ENABLED,
    reason="installs from the package index: `nox -s install_examples` runs it (CI does)",
)
@pytest.mark.timeout(900)  # pip resolves and installs from the index: minutes, not seconds
@pytest.mark.parametrize("block", INSTALLS, ids=lambda block: block.id)
def test_install_block_runs_in_a_fresh_venv(
    block: Block, checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    env = _environment(env_dir)
    elsewhere = []
    installed = []
    for command in _commands(block.code):
        kind = _kind(command)
        if kind.startswith("elsewhere"):
            elsewhere.append(f"`{command}`: {kind.removeprefix('elsewhere: ')}")
            continue
        if kind == "serve":
            _serve(env, tmp_path)
            continue
        assert kind == "install", f"{block.id}: no rule for `{command}`"
        # With a host: pip 23 (Python 3.11's own) refuses `git+file:///...` as a requirement.
        command = command.replace(GIT_URL, f"git+file://localhost{ROOT.as_posix()}")
        installed.append(command)
        done = _run(
            ["bash", "--noprofile", "--norc", "-c", f"set -euo pipefail\n{command}"], checkout, env
        )
        assert done.returncode == 0, f"{block.id}: `{command}` failed:\n{done.stderr[-4000:]}"
    if any(_installs_dbt_runs(command) for command in installed):  # it works from elsewhere
        where = "import dbt_runs; print(dbt_runs.__file__, dbt_runs.__version__)"
        imported = _run([str(env_dir / "bin" / "python"), "-c", where], tmp_path, env)
        assert imported.returncode == 0, imported.stderr
        assert "site-packages" in imported.stdout, imported.stdout
        if any(extra in command for command in installed for extra in ("cli", "server")):
            version = _run([str(env_dir / "bin" / "dbt-runs"), "--version"], tmp_path, env)
            assert version.returncode == 0, version.stderr
    with capsys.disabled():
        for note in elsewhere:
            sys.stdout.write(f"\n{block.id}: not run here: {note}\n")
