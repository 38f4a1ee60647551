"""`dbt-runs artifacts ...`: list a run's artifacts and download them, streamed to disk.

Like `runs`, these commands need only click and the core SDK (never the server extra).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

import anyio
import click

from dbt_runs.cli._common import CONTEXT, Settings, connection_options, execute
from dbt_runs.cli._output import EXIT_CODES_HELP, ExitCode, dump_json, format_bytes, is_interactive

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from dbt_runs import AsyncRunsClient

__all__ = ["artifacts"]


@click.group(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
def artifacts() -> None:
    """List and download a run's artifacts (manifest.json, run_results.json, ...).

    \b
    Examples:
      dbt-runs artifacts list 123
      dbt-runs artifacts download 123 run_results.json --step 4 -o results.json
    """


@artifacts.command("list", context_settings=CONTEXT)
@click.argument("run_id", type=click.IntRange(min=1))
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


@artifacts.command(context_settings=CONTEXT)
@click.argument("run_id", type=click.IntRange(min=1))
@click.argument("path")
@click.option(
    "--step",
    type=click.IntRange(min=1),
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
    run_id: int, path: str, step: int | None, output: str | None, settings: Settings
) -> None:
    """Download the artifact PATH of RUN_ID, streaming it to disk.

    The file appears only once it is complete, so a failed download never leaves a
    truncated file behind. A progress bar shows on a terminal.

    \b
    Examples:
      dbt-runs artifacts download 123 manifest.json
      dbt-runs artifacts download 123 run_results.json --step 4 -o - | jq .results
    """
    name = "" if path.endswith("/") else PurePosixPath(path).name
    destination = output if output is not None else name
    if output is not None and output != "-" and (output.endswith(os.sep) or Path(output).is_dir()):
        destination = os.path.join(output, name) if name else ""
    if not destination:
        raise click.BadParameter("cannot name a file after it; give -o FILE.", param_hint="PATH")

    async def work(client: AsyncRunsClient) -> ExitCode:
        async with client.stream_run_artifact(run_id, path, step=step) as stream:
            total = stream.content_length
            if destination == "-":
                written = await _copy(stream, sys.stdout.buffer, total, show=False)
            else:
                written = await _save(stream, Path(destination), total)
        if destination != "-":
            where = f" (step {step})" if step is not None else ""
            click.echo(
                f"Saved {destination} ({format_bytes(written)}) from run {run_id}{where}", err=True
            )
        return ExitCode.SUCCESS

    execute(settings, work)


async def _save(stream: Any, dest: Path, total: int | None) -> int:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            written = await _copy(stream, handle, total, show=is_interactive(sys.stderr))
        await anyio.Path(tmp).replace(dest)
    except BaseException:
        await anyio.Path(tmp).unlink(missing_ok=True)
        raise
    return written


async def _copy(stream: Any, handle: IO[bytes], total: int | None, *, show: bool) -> int:
    written = 0
    if not show:
        async for chunk in stream:
            handle.write(chunk)
            written += len(chunk)
        return written
    bar: ProgressBar[int]
    with click.progressbar(
        length=total,
        label="Downloading",
        file=sys.stderr,
        show_eta=total is not None,
        show_percent=total is not None,
    ) as bar:
        async for chunk in stream:
            handle.write(chunk)
            written += len(chunk)
            bar.update(len(chunk))
    return written
