"""The command tree itself: help, examples, usage errors, lazy imports (no dbt Cloud needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dbt_runs.cli import _build
from dbt_runs.cli._output import ExitCode

LEAVES = [
    ["runs", "trigger"],
    ["runs", "list"],
    ["runs", "get"],
    ["runs", "wait"],
    ["runs", "cancel"],
    ["runs", "retry"],
    ["runs", "rerun"],
    ["runs", "errors"],
    ["runs", "logs"],
    ["jobs", "list"],
    ["artifacts", "list"],
    ["artifacts", "download"],
]
WAITING = [["runs", "trigger"], ["runs", "wait"], ["runs", "retry"], ["runs", "rerun"]]


def invoke(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    return CliRunner().invoke(_build(), list(args), env=env, catch_exceptions=False)


def test_the_top_level_lists_runs_jobs_and_artifacts() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for group in ("runs", "jobs", "artifacts"):
        assert f"  {group} " in result.output, group


@pytest.mark.parametrize("group", ["runs", "jobs", "artifacts"])
def test_groups_list_their_commands(group: str) -> None:
    result = invoke(group, "--help")
    assert result.exit_code == 0
    for leaf in LEAVES:
        if leaf[0] == group:
            assert f"  {leaf[1]} " in result.output, leaf


@pytest.mark.parametrize("leaf", LEAVES, ids=" ".join)
def test_every_command_has_help_with_an_example_and_the_connection_flags(
    leaf: list[str],
) -> None:
    result = invoke(*leaf, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert f"dbt-runs {' '.join(leaf)}" in result.output
    for flag in ("--base-url", "--host", "--account-id", "--debug"):
        assert flag in result.output
    # The token is taken from the environment only, never from a flag.
    assert "--token" not in result.output


@pytest.mark.parametrize("leaf", WAITING, ids=" ".join)
def test_waiting_commands_document_every_exit_code(leaf: list[str]) -> None:
    result = invoke(*leaf, "--help")
    for code in ExitCode:
        assert f"  {code.value} " in result.output, code
    for flag in ("--timeout", "--poll", "--cancel-on-timeout", "--cancel-on-interrupt", "--json"):
        assert flag in result.output


def test_following_logs_documents_the_exit_codes_and_waiting_flags_of_a_wait() -> None:
    result = invoke("runs", "logs", "--help")
    for code in ExitCode:
        assert f"  {code.value} " in result.output, code
    for flag in ("--follow", "--timeout", "--poll", "--cancel-on-timeout", "--cancel-on-interrupt"):
        assert flag in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "trigger"],  # missing JOB_ID
        ["runs", "trigger", "99999999999999999999"],  # digits are an id: too large
        ["runs", "trigger", "0"],
        ["runs", "trigger", "1", "--timeout", "-5"],
        ["runs", "get", "-3"],
        ["runs", "list", "--status", "bogus"],
        ["runs", "list", "--limit", "0"],
        ["runs", "list", "--json", "--jsonl"],
        ["runs", "nope"],
        ["artifacts", "download", "1"],
        ["artifacts", "download", "1", "run_results.json", "--step", "0"],
        ["artifacts", "download", "abc", "run_results.json"],
        ["artifacts", "download", "--job", "1"],
        ["artifacts", "download", "--job", "1", "manifest.json", "--step", "2"],
        ["artifacts", "download", "1", "manifest.json", "--environment", "1"],
        ["runs", "trigger", "1", "--if-running", "never"],
        ["runs", "trigger", "1", "--project", "1"],
        ["runs", "rerun", "0"],
        ["runs", "errors", "1", "--log-lines", "-1"],
        ["runs", "logs", "1", "--step", "0"],
        ["jobs", "list", "--json", "--jsonl"],
        ["jobs", "list", "--environment", "x"],
    ],
)
def test_usage_errors_exit_2_before_anything_is_sent(args: list[str]) -> None:
    # No DBT_API_KEY and an unroutable base URL: reaching the network would fail differently.
    env = {"DBT_API_KEY": "", "DBT_CLOUD_BASE_URL": "http://192.0.2.1:9"}
    result = CliRunner().invoke(_build(), args, env=env)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "Traceback" not in result.output


def test_download_to_a_directory_name_is_a_usage_error() -> None:
    result = CliRunner().invoke(_build(), ["artifacts", "download", "1", "compiled/"])
    assert result.exit_code == ExitCode.USAGE
    assert "-o FILE" in result.output


def test_the_runs_commands_import_no_server_library() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from dbt_runs.cli import _build\n"
        "cli = _build()\n"
        "for args in (['runs', '--help'], ['runs', 'trigger', '--help'],"
        " ['runs', 'errors', '--help'], ['runs', 'logs', '--help'], ['jobs', 'list', '--help'],"
        " ['artifacts', 'download', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
        "print(','.join(sorted(m for m in ('starlette', 'uvicorn', 'mcp') if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_the_console_script_without_click_prints_an_install_hint(tmp_path: object) -> None:
    # A meta-path blocker stands in for an environment without the `cli` extra.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'click' or name.startswith('click.'):\n"
        "            raise ImportError('no click')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from dbt_runs.cli import main\n"
        "main(['runs', 'list'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 2
    assert "pip install 'dbt-runs[cli]'" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_cli_page_documents_every_command_and_flag() -> None:
    # docs/cli.md is written by hand; this keeps it from falling behind the code.
    page = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    root = _build()
    ctx = click.Context(root)
    missing = []
    for group_name, leaf_name in LEAVES:
        group = root.get_command(ctx, group_name)
        assert isinstance(group, click.Group)
        leaf = group.commands[leaf_name]
        if f"`{group_name} {leaf_name}" not in page:
            missing.append(f"{group_name} {leaf_name}")
        for param in leaf.params:
            for flag in param.opts:
                if flag.startswith("--") and flag != "--help" and f"`{flag}" not in page:
                    missing.append(f"{group_name} {leaf_name} {flag}")
    for code in ExitCode:
        if f"| {code.value} |" not in page:
            missing.append(f"exit code {code.value}")
    assert not missing, missing
