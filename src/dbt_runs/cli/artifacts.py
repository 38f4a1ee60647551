"""`dbt-runs artifacts ...`: list a run's artifacts and download them, streamed to disk, or
download one of a job's latest successful run.

Like `runs`, these commands need only click and the core SDK (never the server extra).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Final

import anyio
import click

from dbt_runs import _fields
from dbt_runs._artifacts import ArtifactStream, download_target, write_stream
from dbt_runs._fields import FieldError
from dbt_runs.cli._common import CONTEXT, Settings, connection_options, execute
from dbt_runs.cli._job_ref import JobLookup, JobRef, lookup_options
from dbt_runs.cli._output import EXIT_CODES_HELP, ExitCode, dump_json, format_bytes, is_interactive

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from dbt_runs import AsyncRunsClient

__all__ = ["artifacts"]

_ID: Final = click.IntRange(min=1)


@click.group(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
def artifacts() -> None:
    """List and download a run's artifacts (manifest.json, run_results.json, ...), or a job's.

    \b
    Examples:
      dbt-runs artifacts list 123
      dbt-runs artifacts download 123 run_results.json --step 4 -o results.json
      dbt-runs artifacts download --job 42 manifest.json
    """


@artifacts.command("list", context_settings=CONTEXT)
@click.argument("run_id", type=_ID)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of paths.")
@connection_options
def list_artifacts(run_id: int, as_json: bool, settings: Settings) -> None:
    """List the artifact paths of RUN_ID (of its last step, as dbt lists them).

    \b
    Examples:
      dbt-runs artifacts list 123 | grep -v '^compiled/'
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        paths = await client.list_run_artifacts(run_id)
        if as_json:
            click.echo(dump_json(list(paths)))
        else:
            for path in paths:
                click.echo(path)
        return ExitCode.SUCCESS

    execute(settings, work)


def _run_and_path(where: tuple[str, ...], job: int | str | None) -> tuple[int | None, str]:
    """`RUN_ID PATH`, or `PATH` alone with `--job`."""
    ctx = click.get_current_context()
    if job is not None:
        if len(where) != 1:
            raise click.UsageError("with --job, give only PATH (the job names the run).", ctx)
        return None, where[0]
    if len(where) != 2:
        missing = "PATH" if len(where) == 1 else "RUN_ID PATH"
        raise click.UsageError(f"Missing argument '{missing}' (or give --job JOB and PATH).", ctx)
    try:
        return _fields.RUN_ID.from_text([where[0]]), where[1]
    except FieldError as exc:
        raise click.BadParameter(str(exc), ctx, param_hint="'RUN_ID'") from None


@artifacts.command(context_settings=CONTEXT)
@click.argument("where", nargs=-1, metavar="[RUN_ID] PATH")
@click.option(
    "--job",
    type=JobRef(_fields.JOB_ID),
    metavar="JOB",
    help="Instead of RUN_ID: the job (its id or name) whose latest successful run's artifact "
    "to download, from that run's last step.",
)
@lookup_options
@click.option(
    "--step",
    type=_ID,
    metavar="N",
    help="The step whose artifact to fetch (1-based; dbt's default is the last step).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True, path_type=str),
    help="The file to write, a directory to write it into, or '-' for stdout.  "
    "[default: the file name of PATH, here]",
)
@connection_options
def download(
    where: tuple[str, ...],
    job: int | str | None,
    lookup: JobLookup,
    step: int | None,
    output: str | None,
    settings: Settings,
) -> None:
    """Download the artifact PATH of RUN_ID, streaming it to disk (or of a job's latest
    successful run, with --job).

    The file appears only once it is complete, so a failed download never leaves a
    truncated file behind. A progress bar shows on a terminal.

    With --job, dbt serves the file of the last step of the job's latest *successful* run. For
    another step, or another run, give the run: `dbt-runs runs list --job JOB` lists them,
    and --step N picks the step.

    \b
    Examples:
      dbt-runs artifacts download 123 manifest.json
      dbt-runs artifacts download 123 run_results.json --step 4 -o - | jq .results
      dbt-runs artifacts download --job "Daily build" --project 1 manifest.json -o prod.json
    """
    run_id, path = _run_and_path(where, job)
    lookup.check(job)
    if job is not None and step is not None:
        raise click.UsageError(
            "--step reads a run's artifact; with --job dbt serves the last step's file of the "
            "job's latest successful run. For another step, give the run: "
            "dbt-runs artifacts download RUN_ID PATH --step N",
            click.get_current_context(),
        )
    name = "" if path.endswith("/") else PurePosixPath(path).name
    destination = output if output is not None else name
    if output is not None and output != "-" and (output.endswith(os.sep) or _is_dir(output)):
        destination = os.path.join(output, name) if name else ""
    if not destination:
        raise click.BadParameter("cannot name a file after it; give -o FILE.", param_hint="PATH")

    async def work(client: AsyncRunsClient) -> ExitCode:
        if run_id is not None:
            opened = client.stream_run_artifact(run_id, path, step=step)
            source = f"run {run_id}" + (f" (step {step})" if step is not None else "")
        else:
            assert job is not None
            job_id = await lookup.job_id(client, job)
            opened = client.stream_job_artifact(job_id, path)
            source = f"the latest successful run of job {job_id}"
        async with opened as stream:
            total = stream.content_length
            if destination == "-":
                written = await _copy(stream, sys.stdout.buffer, total, show=False)
            else:
                written = await _save(stream, Path(destination), total)
        if destination != "-":
            click.echo(f"Saved {destination} ({format_bytes(written)}) from {source}", err=True)
        return ExitCode.SUCCESS

    execute(settings, work)


def _is_dir(name: str) -> bool:
    try:
        return Path(name).is_dir()
    except OSError:  # a name too long, say: the download says so in its own words
        return False


async def _save(stream: ArtifactStream, dest: Path, total: int | None) -> int:
    """Write the artifact as the SDK's `download_run_artifact` does (complete or not at all,
    with the umask applied), with a progress bar on a terminal."""
    await anyio.Path(dest.parent).mkdir(parents=True, exist_ok=True)
    target = await anyio.to_thread.run_sync(download_target, dest, stream.path)
    if not is_interactive(sys.stderr):
        return await write_stream(stream, target)
    bar: ProgressBar[int]
    with _bar(total) as bar:
        return await write_stream(stream, target, on_chunk=bar.update)


async def _copy(stream: Any, handle: IO[bytes], total: int | None, *, show: bool) -> int:
    written = 0
    if not show:
        async for chunk in stream:
            handle.write(chunk)
            written += len(chunk)
        return written
    bar: ProgressBar[int]
    with _bar(total) as bar:
        async for chunk in stream:
            handle.write(chunk)
            written += len(chunk)
            bar.update(len(chunk))
    return written


def _bar(total: int | None) -> ProgressBar[int]:
    return click.progressbar(
        length=total,
        label="Downloading",
        file=sys.stderr,
        show_eta=total is not None,
        show_percent=total is not None,
    )
