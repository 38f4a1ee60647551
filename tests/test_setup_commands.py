"""The README's first block is the contract with a new user and with CI: keep them in step."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL)
    assert block is not None, "README.md must open with a bash block of set-up commands"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_the_readme_opens_with_two_setup_commands() -> None:
    serve, tests = _setup_commands()
    assert "dbt-runs serve --emulator" in serve
    assert "nox -s tests" in tests


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    _, tests = _setup_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in [line.strip() for line in ci_lines]  # indented in a function, else as is


def _fake_pythons(
    tmp_path: Path, *, fail: str, pythons: tuple[str, ...] = ("3.11", "3.13")
) -> Path:
    """`python3.X` commands that record each call (with `PYTEST_ADDOPTS`) and fail the one
    whose arguments contain `fail`; `-m venv DIR` makes DIR/bin/python, the same recorder."""
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = tmp_path / "fake-python"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*${{PYTEST_ADDOPTS:+ [PYTEST_ADDOPTS=$PYTEST_ADDOPTS]}}" >> "{log}"\n'
        'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && ln -s "'
        f'{fake}" "$3/bin/python"; exit 0; fi\n'
        f'case "$*" in *"{fail}"*) exit 3;; esac\n'
        "exit 0\n"
    )
    fake.chmod(0o755)
    for version in pythons:
        (bin_dir / f"python{version}").symlink_to(fake)
    return log


def _run_ci(tmp_path: Path) -> int:
    import os
    import subprocess

    # Only the fakes and the system's tools: no pyenv, no real Python, nothing installed; and
    # not the PYTEST_ADDOPTS of a CI leg that runs this very test.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYENV_VERSION")}
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    script = ROOT / ".ci" / "run"
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, check=False)
    return done.returncode


def _calls(log: Path) -> list[str]:
    # The venv paths are temporary: keep the command, not the directory.
    return [re.sub(r"-m venv \S*/", "-m venv ", call) for call in log.read_text().splitlines()]


def test_ci_runs_the_readme_in_a_fresh_venv_on_311_then_313_then_the_rest(tmp_path: Path) -> None:
    log = _fake_pythons(tmp_path, fail="no such call")
    assert _run_ci(tmp_path) == 0
    calls = _calls(log)
    assert calls[:6] == [
        "-m venv python3.11",
        "-m pip install nox[uv]",
        "-m nox -s tests",
        "-m venv python3.13 [PYTEST_ADDOPTS=-x]",
        # 3.11 ran the suite in full: 3.13 stops at its first failure.
        "-m pip install nox[uv] [PYTEST_ADDOPTS=-x]",
        "-m nox -s tests [PYTEST_ADDOPTS=-x]",
    ], calls
    assert "-m nox -s lint typecheck docs core_only cli_only package install_examples" in calls[6:]


def test_ci_fails_when_the_install_half_of_the_test_command_fails(tmp_path: Path) -> None:
    # bash's `set -e` does not stop on the left side of `&&`: CI must still stop here.
    log = _fake_pythons(tmp_path, fail="pip install")
    assert _run_ci(tmp_path) != 0
    calls = _calls(log)
    assert calls == ["-m venv python3.11", "-m pip install nox[uv]"], calls  # nothing else ran


def test_ci_fails_when_the_tests_fail(tmp_path: Path) -> None:
    log = _fake_pythons(tmp_path, fail="-s tests")
    assert _run_ci(tmp_path) != 0
    assert not any("lint" in call or "3.13" in call for call in _calls(log))


def test_ci_fails_when_python_313_is_missing(tmp_path: Path) -> None:
    log = _fake_pythons(tmp_path, fail="no such call", pythons=("3.11",))
    assert _run_ci(tmp_path) != 0
    assert not any("lint" in call for call in _calls(log))


def test_nox_refuses_to_skip_a_session_whose_python_is_missing() -> None:
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert "nox.options.error_on_missing_interpreters = True" in noxfile


def test_the_docs_session_builds_where_the_readme_says_and_previews_as_it_says() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    site = re.search(r'^SITE_DIR = "([^"]+)"$', noxfile, re.MULTILINE)
    preview = re.search(r'^PREVIEW_ADDRESS = "([^"]+)"$', noxfile, re.MULTILINE)
    assert site, "noxfile.py: the docs session's SITE_DIR"
    assert preview, "noxfile.py: the docs session's PREVIEW_ADDRESS"
    assert '"build", "--strict", "--site-dir", SITE_DIR' in noxfile
    assert '"serve", "--strict", *address' in noxfile
    said = " ".join(readme.split())  # the README wraps its lines
    assert f"`python -m nox -s docs` builds it as a site into `{site[1]}/`" in said
    assert f"`python -m nox -s docs -- serve` (http://{preview[1]}" in said
    assert f"{site[1]}/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_the_readme_names_what_the_test_command_needs_beyond_python() -> None:
    # The tests session runs `npm ci` for the MCP tests: a machine without Node.js fails it.
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert '"npm", "ci"' in noxfile
    engines = json.loads((ROOT / "tests/mcp/ts/package.json").read_text(encoding="utf-8"))
    major = re.fullmatch(r">=(\d+)", engines["engines"]["node"])
    assert major, engines["engines"]
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    setup = readme[: readme.index("## What it is")]
    assert f"**Node.js with npm** ({major[1]} or later)" in setup
