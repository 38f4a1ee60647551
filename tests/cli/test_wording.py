"""Errors speak the command line's language: flags, arguments and environment variables,
never the SDK's Python keywords (`account_id=...`); an unreachable API names its URL."""

from __future__ import annotations

import re
import socket

import pytest
from cli_support import Served, error_line
from click.testing import Result

from dbt_runs.cli._common import command_line_wording
from dbt_runs.cli._output import ExitCode

# What an SDK message says that a command-line user cannot type.
PYTHON_WORDS = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b|\b[a-z_]+=\.\.\.")


def _unquoted(line: str) -> str:
    # The refused value is repeated in quotes as it was given: it is not wording.
    return re.sub(r"(?<!\w)'[^']*'", "''", line)


def usage_line(result: Result) -> str:
    """The command's one error line, checked to be a usage error in the command's words."""
    line, code = error_line(result.stderr)
    assert code == result.exit_code == ExitCode.USAGE, result.stderr
    assert not PYTHON_WORDS.search(_unquoted(line)), line
    return line


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (
            ["runs", "list"],
            {"DBT_CLOUD_ACCOUNT_ID": None},
            "no account id: pass --account-id or set DBT_CLOUD_ACCOUNT_ID",
        ),
        (
            ["runs", "list"],
            {"DBT_API_KEY": None},
            "no dbt Cloud API token: set the DBT_API_KEY environment variable",
        ),
        (
            ["runs", "list"],
            {"DBT_CLOUD_BASE_URL": "ftp://dbt.example"},
            "DBT_CLOUD_BASE_URL must be an http(s) URL",
        ),
        (["runs", "list", "--base-url", "ftp://dbt.example"], {}, "--base-url must be an http(s)"),
        (
            ["runs", "list"],
            {"DBT_CLOUD_BASE_URL": None, "DBT_CLOUD_HOST": "https://emea.dbt.com"},
            "DBT_CLOUD_HOST must be a bare host name such as 'emea.dbt.com' "
            "(use DBT_CLOUD_BASE_URL for a full URL), got 'https://emea.dbt.com'",
        ),
        (
            ["runs", "list", "--host", "https://emea.dbt.com"],
            {},
            "--host must be a bare host name such as 'emea.dbt.com' (use --base-url for a full",
        ),
        (
            ["runs", "list"],
            {"DBT_CLOUD_BASE_URL": "https://cloud.getdbt.com/api/v3"},
            "use a DBT_CLOUD_BASE_URL ending in /api/v2",
        ),
        (
            [
                "runs",
                "list",
                "--created-after",
                "2026-02-01T00:00:00Z",
                "--created-before",
                "2026-01-01T00:00:00Z",
            ],
            {},
            "--created-after must not be later than --created-before",
        ),
        (["runs", "trigger", " "], {}, "JOB must not be empty or blank"),
        (["runs", "rerun", " "], {}, "JOB must not be empty or blank"),
        (["runs", "list", "--job", " "], {}, "--job must not be empty or blank"),
        (
            ["artifacts", "download", "--job", " ", "manifest.json"],
            {},
            "--job must not be empty or blank",
        ),
        (
            ["artifacts", "download", "1", "target/../secrets"],
            {},
            "PATH must not have empty, '.' or '..' segments",
        ),
    ],
)
def test_a_refused_setting_or_argument_is_named_as_the_user_gives_it(
    served: Served, args: list[str], env: dict[str, str | None], said: str
) -> None:
    line = usage_line(served.invoke(*args, **env))
    assert said in line


def test_base_url_and_host_together_are_refused_before_anything_is_built(served: Served) -> None:
    result = served.invoke("runs", "list", "--base-url", served.base_url, "--host", "a.dbt.com")
    assert result.exit_code == ExitCode.USAGE
    assert "--base-url and --host cannot be used together" in result.stderr


@pytest.mark.parametrize("flag", ["--timeout", "--poll", "--request-timeout"])
@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_seconds_must_be_a_positive_finite_number(served: Served, flag: str, value: str) -> None:
    # NaN passed click's range check and ended the command with an internal error (70).
    result = served.invoke("runs", "wait", "1", flag, value)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert f"Invalid value for '{flag}'" in result.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow  # the client retries a refused connection, with its real back-off
@pytest.mark.parametrize(
    ("how", "source"),
    [
        ("flag", "--base-url"),
        ("environment", "DBT_CLOUD_BASE_URL"),
    ],
)
def test_an_unreachable_api_names_the_url_and_where_it_came_from(
    served: Served, how: str, source: str
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/v2"
    if how == "flag":
        result = served.invoke("runs", "get", "1", "--base-url", url)
    else:
        result = served.invoke("runs", "get", "1", DBT_CLOUD_BASE_URL=url)
    line, code = error_line(result.stderr)
    assert code == result.exit_code == ExitCode.API_ERROR
    assert line.startswith("dbt-runs: error: could not connect to dbt Cloud")
    assert f"(API at {url}, from {source})" in line


@pytest.mark.slow
def test_an_unreachable_host_names_the_url_it_made_of_it(served: Served) -> None:
    host = f"127.0.0.1:{_closed_port()}"
    result = served.invoke("runs", "get", "1", DBT_CLOUD_BASE_URL=None, DBT_CLOUD_HOST=host)
    line, code = error_line(result.stderr)
    assert code == ExitCode.API_ERROR
    assert f"(API at https://{host}/api/v2, from DBT_CLOUD_HOST)" in line


@pytest.mark.parametrize(
    ("message", "said"),
    [
        # A keyword with no flag (the token) leaves its alternative alone.
        ("no token: pass token=... or set DBT_API_KEY", "no token: set DBT_API_KEY"),
        # Quoted values are the user's own text, even when they look like keywords.
        ("cause must not be 'base_url'", "--cause must not be 'base_url'"),
        # An apostrophe is not a quote: what follows it is still translated.
        ("the job's base_url is wrong", "the job's --base-url is wrong"),
        # Plain words are translated only where a message names its argument: first.
        ("host must be a bare host name", "--host must be a bare host name"),
        # Unknown keywords stay as they are.
        ("retry_policy must be set", "retry_policy must be set"),
    ],
)
def test_the_translation_rules(message: str, said: str) -> None:
    names = {"token": None, "base_url": "--base-url", "host": "--host", "cause": "--cause"}
    assert command_line_wording(message, names) == said
