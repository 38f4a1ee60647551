"""docs/cli.md's examples that `tests/docs` does not check: the `jobs` command lines."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

from dbt_runs.cli import _build

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


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
