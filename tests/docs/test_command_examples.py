"""Every `dbt-runs runs|jobs|artifacts|webhooks|serve|emulator ...` line of the README and the
docs parses with the real CLI.

A renamed flag or a tightened argument type then fails here, at once and naming the flag,
instead of in a reader's pipeline. Shell and CI placeholders (`$RUN_ID`, `${{ ... }}`,
`<RUN_ID>`) stand for an id. This covers the GitHub Actions workflows too, which
`test_shell_examples.py` cannot run, and the blocks it does not run (those in front of a real
dbt Cloud account); it runs every other shell block.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from docs_support import PAGES, ROOT

from dbt_runs.cli import _build

BLOCK = re.compile(r"^```(bash|console|yaml|sh|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)
COMMAND = re.compile(
    r"dbt-runs\s+(runs|jobs|artifacts|webhooks|serve|emulator)(?=\s|$)[^|;&<>)\n]*"
)
PLACEHOLDERS = [
    (re.compile(r"\$\{\{[^}]*\}\}"), "1"),  # GitHub Actions expressions
    (re.compile(r"<[A-Z_]+>"), "1"),  # <RUN_ID>
    (re.compile(r"\$\{?[A-Z_]+\}?"), "1"),  # $RUN_ID, ${RUN_ID}
]


def _examples() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for _, body in BLOCK.findall(text):
            body = body.replace("\\\n", " ")  # continued lines
            for pattern, value in PLACEHOLDERS:
                body = pattern.sub(value, body)
            for match in COMMAND.finditer(body):
                found.append((str(page.relative_to(ROOT)), match.group(0).strip()))
    return found


EXAMPLES = _examples()


def test_the_docs_have_command_examples() -> None:
    pages = {page for page, _ in EXAMPLES}
    assert {"README.md", "docs/cli.md", "docs/quickstart.md"} <= pages


@pytest.mark.parametrize(
    ("page", "line"), EXAMPLES, ids=[f"{p}:{i}" for i, (p, _) in enumerate(EXAMPLES)]
)
def test_example_parses(page: str, line: str) -> None:
    words = shlex.split(line, comments=True)
    assert words[0] == "dbt-runs"
    root = _build()
    ctx = click.Context(root, info_name="dbt-runs")
    command = root.get_command(ctx, words[1])
    assert command is not None, line
    name, args = words[1], words[2:]
    if isinstance(command, click.Group):  # `dbt-runs runs trigger ...`
        name, args = args[0], args[1:]
        command = command.get_command(ctx, name)
        assert command is not None, f"{page}: unknown command in {line!r}"
    try:
        command.make_context(name, args, parent=ctx)
    except click.ClickException as exc:
        pytest.fail(f"{page}: {line!r} does not parse: {exc.format_message()}")


def _yaml_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in PAGES:
        for language, body in BLOCK.findall(page.read_text(encoding="utf-8")):
            # GitHub Actions workflows (other YAML, e.g. client configs, is not checked here).
            if language == "yaml" and re.search(r"^jobs:", body, re.MULTILINE):
                blocks.append((str(page.relative_to(ROOT)), body))
    return blocks


@pytest.mark.parametrize(("page", "body"), _yaml_blocks())
def test_ci_examples_are_valid_workflows(page: str, body: str) -> None:
    yaml = pytest.importorskip("yaml")
    document = yaml.safe_load(body)
    for name, job in document["jobs"].items():
        assert job["steps"], f"{page}: job {name} has no steps"
        assert job["env"]["DBT_API_KEY"] == "${{ secrets.DBT_API_KEY }}", "the token is a secret"


@pytest.mark.parametrize(
    ("shell", "script"),
    [
        ("bash", "complete -o nosort -F _dbt_runs_completion dbt-runs"),
        ("zsh", "#compdef dbt-runs"),
        ("fish", "function _dbt_runs_completion"),
    ],
)
def test_the_completion_lines_print_a_completion_script(shell: str, script: str) -> None:
    # docs/cli.md's lines name click's variable for the command: _<NAME>_COMPLETE, with the
    # dashes of `dbt-runs` as underscores. The bash line runs in test_shell_examples.py.
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert f"_DBT_RUNS_COMPLETE={shell}_source dbt-runs" in page
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt-runs")],
        env={**os.environ, "_DBT_RUNS_COMPLETE": f"{shell}_source"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert script in done.stdout


def test_bash_completion_completes_a_command() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt-runs")],
        env={
            **os.environ,
            "_DBT_RUNS_COMPLETE": "bash_complete",
            "COMP_WORDS": "dbt-runs runs trig",
            "COMP_CWORD": "2",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["plain,trigger"]
