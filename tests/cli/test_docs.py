"""docs/cli.md's examples that `tests/docs` does not run: the failure walkthrough, for real,
against an emulator, and the `jobs` command lines (parsed)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from cli_support import TOKEN, Served, console_script

from dbt_runs.cli import _build

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _section(title: str) -> str:
    start = PAGE.index(f"\n## {title}\n")
    end = PAGE.find("\n## ", start + 1)
    return PAGE[start:end]


@pytest.mark.slow
def test_the_failure_walkthrough_runs_as_written(fast: Served) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("needs bash")
    script = BLOCK.findall(_section("When a run fails"))[-1]
    assert "Nightly snapshots" in script
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update({k: v for k, v in fast.env().items() if v is not None})
    # The page's `dbt-runs` is the installed console script.
    env["PATH"] = f"{Path(console_script()).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [bash, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert TOKEN not in result.stdout + result.stderr
    # Each line ran: no usage or API error, the logs, the errors and the rerun's failure.
    assert "dbt-runs: error:" not in result.stderr, result.stderr
    assert re.search(r"Done\. PASS=\d+ WARN=\d+ ERROR=1 ", result.stdout)  # the followed log
    assert "\n  model.jaffle_shop.orders  error\n" in result.stdout  # `runs errors`
    assert re.search(r"^Retrying run \d+ as run \d+: ", result.stderr, re.MULTILINE)
    assert result.stderr.rstrip().endswith("failed [exit 1]")  # the rerun fails too


def test_the_jobs_examples_parse() -> None:
    lines = [
        match.group(0)
        for block in BLOCK.findall(PAGE)
        for match in re.finditer(r"dbt-runs\s+jobs\s+[^|;&>)\n]*", block)
    ]
    assert lines
    root = _build()
    ctx = click.Context(root, info_name="dbt-runs")
    for line in lines:
        words = shlex.split(line, comments=True)
        group = root.get_command(ctx, words[1])
        assert isinstance(group, click.Group), line
        leaf = group.get_command(ctx, words[2])
        assert leaf is not None, line
        leaf.make_context(words[2], words[3:], parent=ctx)
