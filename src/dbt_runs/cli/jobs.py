"""`dbt-runs jobs ...`: the account's jobs, to find a job's id (or check its name).

Like `runs`, this needs only click and the core SDK (never the server extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import click

from dbt_runs import _fields
from dbt_runs.cli._common import (
    CONTEXT,
    Settings,
    connection_options,
    execute,
    field_option,
    given,
    listing_options,
    option_group,
)
from dbt_runs.cli._output import EXIT_CODES_HELP, ExitCode, ListFormat, jobs_table, print_listing

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient

__all__ = ["jobs"]

# `--project`, `--environment`, `--name-contains`: from their one declaration, as everywhere.
_JOB_FILTERS: Final = [field_option(field) for field in _fields.JOB_FILTERS]


@click.group(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
def jobs() -> None:
    """List the account's jobs: their ids, names, projects, environments and schedules.

    Every command that takes a job takes its id or its name; `jobs list` shows both.

    \b
    Examples:
      dbt-runs jobs list
      dbt-runs jobs list --name-contains nightly --json
    """


@jobs.command("list", context_settings=CONTEXT)
@option_group("filters", _JOB_FILTERS, given)
@listing_options("job")
@connection_options
def list_jobs(filters: dict[str, Any], fmt: ListFormat, settings: Settings) -> None:
    """List jobs, as a table (or JSON): id, name, project, environment, type, schedule.

    \b
    Examples:
      dbt-runs jobs list --environment 1
      dbt-runs jobs list --name-contains "daily" --jsonl
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        await print_listing(
            client.list_jobs(**filters), fmt, table=jobs_table, nothing="No jobs match."
        )
        return ExitCode.SUCCESS

    execute(settings, work)
