"""A job given by its id or by its name, wherever a command takes a job.

Digits are an id (`42`); anything else is a name (`"Daily build"`), looked up with
`AsyncRunsClient.find_job` once the command runs. A name that is no job's, or several jobs',
ends the command with exit 2 and the SDK's message, which lists the candidates;
`--project` and `--environment` tell same-named jobs apart.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

import attrs
import click

from dbt_runs import _fields
from dbt_runs._fields import Field, FieldError
from dbt_runs.cli._common import field_option, option_group

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient

__all__ = ["JobLookup", "JobRef", "lookup_options"]

# A sign and digits are an id, to be checked as one (`0` and 20 digits are refused as ids,
# not looked up as names).
_ID_TEXT: Final = re.compile(r"\s*-?[0-9]+\s*")


class JobRef(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3 only
    """A job id (digits, with the rules of `field`) or a job's name (anything else)."""

    name = "job"

    def __init__(self, field: Field[int]) -> None:
        self.field = field

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str) or not _ID_TEXT.fullmatch(value):
            return value
        try:
            return self.field.from_text([value.strip()])
        except FieldError as exc:
            self.fail(str(exc), param, ctx)


@attrs.frozen
class JobLookup:
    """Where a job name is looked up: `--project` and `--environment` (None: anywhere)."""

    project_id: int | list[int] | None = None
    environment_id: int | None = None

    def check(self, job: int | str | None, *, filters: bool = False) -> None:
        """Refuse, before anything is sent, flags that cannot mean what they seem to.

        A name is looked up in one project at most. Where the two flags serve only to look
        a name up (`filters=False`), they are refused with a job id, rather than let
        `runs trigger 42 --environment 2` seem to choose where the run goes.
        """
        if isinstance(job, str):
            if isinstance(self.project_id, list) and len(self.project_id) > 1:
                raise click.UsageError(
                    "a job name is looked up in one project: give --project once, or give "
                    "the job's id.",
                    click.get_current_context(silent=True),
                )
        elif not filters and (self.project_id, self.environment_id) != (None, None):
            raise click.UsageError(
                "--project and --environment tell jobs of the same name apart: give them with "
                "a job name only.",
                click.get_current_context(silent=True),
            )

    async def job_id(self, client: AsyncRunsClient, job: int | str) -> int:
        """The id of `job`: itself for an id, else the id of the one job with that name."""
        if isinstance(job, int):
            return job
        project = self.project_id
        if isinstance(project, list):  # one project, since `check` refused several
            project = project[0]
        found = await client.find_job(job, project_id=project, environment_id=self.environment_id)
        assert found.id is not None, "dbt always sends a job's id"
        return found.id


lookup_options = option_group(
    "lookup",
    [
        field_option(
            _fields.PROJECT_ID,
            metavar="ID",
            help="With a job name: look it up in this project only.",
        ),
        field_option(
            _fields.ENVIRONMENT_ID, help="With a job name: look it up in this environment only."
        ),
    ],
    JobLookup,
)
"""`--project` and `--environment`, to tell jobs of the same name apart: the command
receives a `JobLookup` as `lookup`."""
