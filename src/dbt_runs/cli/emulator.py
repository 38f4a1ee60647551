"""`dbt-runs emulator`: a local dbt Cloud (the v2 runs API) on your machine, via uvicorn."""

from __future__ import annotations

import sys
from typing import Any

import click

from dbt_runs.cli._start import StartError, listen

__all__ = ["emulator"]


def _error_rate(value: str) -> tuple[int, float]:
    status, sep, rate = value.partition("=")
    try:
        code, probability = int(status), float(rate)
    except ValueError:
        code, probability = 0, -1.0
    if not sep or not 400 <= code <= 599 or not 0 <= probability <= 1:
        raise click.BadParameter(
            f"{value!r}: use STATUS=PROBABILITY with a status 400-599 and a probability 0-1, "
            "for example 503=0.1"
        )
    return code, probability


def _rate_limit(value: str) -> tuple[int, float]:
    count, _, seconds = value.partition("/")
    try:
        requests, per = int(count), float(seconds or 60)
    except ValueError:
        requests, per = 0, 0.0
    if requests < 1 or per <= 0:
        raise click.BadParameter(
            f"{value!r}: use REQUESTS or REQUESTS/SECONDS, for example 5000/60"
        )
    return requests, per


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Then point a client at it, for example: DBT_CLOUD_BASE_URL=http://127.0.0.1:8000/"
    "api/v2 DBT_CLOUD_ACCOUNT_ID=1 DBT_API_KEY=anything dbt-runs runs list",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0: any free port.",
)
@click.option(
    "--token",
    default=None,
    envvar="DBT_RUNS_EMULATOR_TOKEN",
    help="Accept only this token (also DBT_RUNS_EMULATOR_TOKEN). Default: any non-empty token.",
)
@click.option(
    "--account-id", default=1, show_default=True, type=click.IntRange(1), help="The account."
)
@click.option(
    "--runs", default=10_000, show_default=True, type=click.IntRange(0), help="Past runs to seed."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the generated data.")
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help=(
        "How many times shorter runs are (60: a 1-minute run takes a second); "
        "timestamps stay on real time."
    ),
)
@click.option(
    "--latency-ms", default=0.0, type=click.FloatRange(0), help="Added to every response."
)
@click.option("--jitter-ms", default=0.0, type=click.FloatRange(0), help="Up to this much more.")
@click.option(
    "--error-rate",
    "error_rates",
    multiple=True,
    metavar="STATUS=P",
    help="Answer this fraction of requests with STATUS (repeatable), e.g. --error-rate 503=0.1.",
)
@click.option("--reset-rate", default=0.0, type=click.FloatRange(0, 1), help="Drop connections.")
@click.option(
    "--truncate-rate", default=0.0, type=click.FloatRange(0, 1), help="Cut bodies halfway."
)
@click.option(
    "--malformed-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Answer 200 with a cut (invalid) JSON body.",
)
@click.option(
    "--slow-body-seconds",
    default=0.0,
    type=click.FloatRange(0),
    help="Spread each body over this many seconds.",
)
@click.option(
    "--ambiguous-trigger-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Create the run, then answer the trigger with a 502.",
)
@click.option(
    "--rate-limit",
    default=None,
    metavar="N[/SECONDS]",
    help="429 after N requests per SECONDS (default 60), then a cooldown (dbt: 5000/60).",
)
@click.option(
    "--rate-limit-cooldown",
    default=300.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds of 429s (with Retry-After) once the limit is hit.",
)
@click.option(
    "--artifact-size-mb",
    default=None,
    type=click.FloatRange(0),
    help="Pad manifest.json to this size (streamed; memory stays flat).",
)
def emulator(
    host: str,
    port: int,
    token: str | None,
    account_id: int,
    runs: int,
    seed: int,
    speed: float,
    latency_ms: float,
    jitter_ms: float,
    error_rates: tuple[str, ...],
    reset_rate: float,
    truncate_rate: float,
    malformed_rate: float,
    slow_body_seconds: float,
    ambiguous_trigger_rate: float,
    rate_limit: str | None,
    rate_limit_cooldown: float,
    artifact_size_mb: float | None,
) -> None:
    """Run a local dbt Cloud emulator: the v2 runs API, seeded with jobs and past runs.

    \b
    Examples:
      dbt-runs emulator                              # http://127.0.0.1:8000/api/v2
      dbt-runs emulator --speed 60 --runs 500        # runs finish 60x faster than real time
      dbt-runs emulator --latency-ms 25 --error-rate 503=0.05 --rate-limit 5000/60
    """
    try:
        import uvicorn

        from dbt_runs.testing import Emulator, Faults, RateLimit, RealClock
    except ImportError:
        raise StartError(
            "dbt-runs emulator: missing the server libraries; install the server extra: "
            'pip install "dbt-runs[server]"'
        ) from None
    if token is not None and not token.strip():
        raise click.BadParameter("must not be empty", param_hint="--token")
    rates = dict(_error_rate(value) for value in error_rates)
    limit = None
    if rate_limit is not None:
        requests, per = _rate_limit(rate_limit)
        limit = RateLimit(requests=requests, per_seconds=per, cooldown_seconds=rate_limit_cooldown)
    faults = Faults(
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        error_rates=rates,
        reset_rate=reset_rate,
        truncate_rate=truncate_rate,
        malformed_rate=malformed_rate,
        slow_body_seconds=slow_body_seconds,
        ambiguous_trigger_rate=ambiguous_trigger_rate,
        rate_limit=limit,
        seed=seed,
    )
    size = None if artifact_size_mb is None else int(artifact_size_mb * 1024 * 1024)
    emu = Emulator(
        account_id=account_id,
        token=token,
        runs=runs,
        seed=seed,
        clock=RealClock(speed=speed),
        faults=faults,
        artifact_size=size,
    )
    sock = listen(host, port, command="emulator", what="", flag="--port")
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    base_url = f"http://{shown}:{bound_port}/api/v2"
    token_line = (
        "the token given with --token (only that one is accepted)"
        if token is not None
        else "any non-empty token (none was set with --token)"
    )
    _echo(f"dbt Cloud emulator listening on {base_url}")
    _echo(f"  account {account_id}, jobs 1-8, {runs} past runs, {speed:g}x real time")
    _echo(f"  token: {token_line}")
    _echo(f"  export DBT_CLOUD_BASE_URL={base_url} DBT_CLOUD_ACCOUNT_ID={account_id}")
    if token is None:
        _echo("  export DBT_API_KEY=emulator")
    if host not in {"127.0.0.1", "localhost", "::1"}:
        _echo(f"  warning: listening on {host}, reachable beyond this machine", err=True)
    # The lifespan starts the webhook deliveries with the server, before any request.
    config = uvicorn.Config(
        emu.app, log_level="warning", lifespan="on", http="h11", access_log=False
    )
    server: Any = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _echo(message: str, *, err: bool = False) -> None:
    click.echo(message, err=err)
    (sys.stderr if err else sys.stdout).flush()
