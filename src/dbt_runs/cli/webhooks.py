"""`dbt-runs webhooks ...`: check a delivery of dbt Cloud's webhooks, or watch them arrive.

- `verify`: reads a delivery's body from stdin and checks its signature (the `Authorization`
  header's value, given with `--signature`) with the secret in an environment variable,
  never on the command line (which shell history and process lists keep).
- `listen`: serves the receiver (`POST /v1/webhooks/dbt`) and prints each event it accepts;
  with `--emulator`, against a local dbt Cloud emulator subscribed to it, no account needed.

`verify` needs only click; `listen` needs the server extra.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Final

import click

from dbt_runs.cli._common import CONTEXT, EMULATOR_SPEED, Decorator
from dbt_runs.cli._output import Redactor, dump_json, echo

if TYPE_CHECKING:
    import socket

    from dbt_runs.webhooks import EventHub, RunEvent

__all__ = ["webhooks"]

_SECRET_ENV: Final = "DBT_WEBHOOK_SECRET"
_VERIFIED, _REFUSED, _USAGE, _NOT_AN_EVENT = 0, 1, 2, 3
_EXIT_CODES: Final = (
    "\b\nExit codes (verify):\n"
    "  0    the delivery is signed with the secret and is a run event (printed)\n"
    "  1    refused: no signature, a garbled one, or one that does not match the body\n"
    "  2    usage error: no secret in the environment variable, a bad flag\n"
    "  3    signed, but not a run event dbt documents (a field missing or malformed)"
)


def event_json(event: RunEvent) -> dict[str, Any]:
    """An event's typed fields as JSON (ids as numbers, times in ISO 8601), in one object."""
    fields: dict[str, Any] = {
        "event_type": event.event_type,
        "event_id": event.event_id,
        "webhook_id": event.webhook_id,
        "webhook_name": event.webhook_name,
        "timestamp": event.timestamp,
        "account_id": event.account_id,
        "job_id": event.job_id,
        "job_name": event.job_name,
        "run_id": event.run_id,
        "environment_id": event.environment_id,
        "environment_name": event.environment_name,
        "project_id": event.project_id,
        "project_name": event.project_name,
        "dbt_version": event.dbt_version,
        "status": int(event.status) if event.status is not None else None,
        "status_humanized": event.status_humanized,
        "status_message": event.status_message,
        "reason": event.reason,
        "started_at": event.started_at,
        "finished_at": event.finished_at,
        "errored_at": event.errored_at,
        "artifacts_ready": event.artifacts_ready,
    }
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in fields.items()}


def event_line(event: RunEvent) -> str:
    """One readable line: `job.run.completed  run 70001  job 1 "Daily build"  Success ...`."""
    job = f'job {event.job_id} "{event.job_name}"' if event.job_name else f"job {event.job_id}"
    status = event.status_humanized or (event.status.humanized if event.status else "-")
    when = event.finished_at or event.errored_at or event.started_at
    parts = [event.event_type, f"run {event.run_id}", job, status]
    if when is not None:
        parts.append(when.isoformat())
    parts.append(event.event_id)
    return "  ".join(parts)


def _secret_from(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise click.UsageError(
            f"no secret in ${variable}: set it to the subscription's hmac_secret "
            f"(or name another variable with --secret-env)"
        )
    return value


def _secret_env_option(help: str) -> Decorator:
    return click.option(
        "--secret-env",
        default=_SECRET_ENV,
        show_default=True,
        metavar="VAR",
        help=help,
    )


@click.group(context_settings=CONTEXT, epilog=_EXIT_CODES)
def webhooks() -> None:
    """Check dbt Cloud's webhook deliveries, or watch them arrive.

    dbt signs each delivery with the hex HMAC-SHA256 of its body, keyed with the
    subscription's secret (hmac_secret), in the Authorization header.

    \b
    Examples:
      dbt-runs webhooks verify --signature "$SIG" < body.json
      dbt-runs webhooks listen --emulator        # a local dbt Cloud delivers to it
      DBT_WEBHOOK_SECRET=... dbt-runs webhooks listen --port 8081 --json
    """


@webhooks.command("verify", context_settings=CONTEXT, epilog=_EXIT_CODES)
@click.option(
    "--signature",
    required=True,
    metavar="HEX",
    help="The delivery's Authorization header: the hex digest dbt sent.",
)
@_secret_env_option("The environment variable holding the secret (never a flag).")
@click.option("--json", "as_json", is_flag=True, help="Print the event as one JSON object.")
def verify(signature: str, secret_env: str, as_json: bool) -> None:
    """Read a delivery's body from stdin, check dbt's signature, and print the event.

    The body must be the bytes exactly as delivered: an editor's or `echo`'s final newline,
    or JSON re-formatted by a tool, no longer matches.

    \b
    Examples:
      DBT_WEBHOOK_SECRET=... dbt-runs webhooks verify --signature 4f2a...9c < body.json
      dbt-runs webhooks verify --secret-env MY_SECRET --signature "$SIG" --json < body.json
    """
    from dbt_runs.errors import ConfigurationError, WebhookPayloadError, WebhookSignatureError
    from dbt_runs.webhooks import parse_event

    secret = _secret_from(secret_env)
    redact = Redactor([secret])
    body = sys.stdin.buffer.read()
    try:
        event = parse_event(body, authorization=signature, secret=secret)
    except WebhookSignatureError as exc:
        hint = ""
        if body.endswith(b"\n") and "does not match" in str(exc):
            hint = " (the body ends with a newline: was one added after it was received?)"
        echo(redact(f"dbt-runs: refused: {exc}{hint} [exit {_REFUSED}]"), err=True)
        sys.exit(_REFUSED)
    except WebhookPayloadError as exc:
        message = f"signed, but not a run event: {exc} [exit {_NOT_AN_EVENT}]"
        echo(redact(f"dbt-runs: {message}"), err=True)
        sys.exit(_NOT_AN_EVENT)
    except ConfigurationError as exc:  # pragma: no cover - _secret_from refuses blanks first
        raise click.UsageError(str(exc)) from None
    echo(dump_json(event_json(event)) if as_json else event_line(event))


@webhooks.command("listen", context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8081,
    show_default=True,
    help="Port to listen on (0: any free port; the URL is printed).",
)
@_secret_env_option("The environment variable holding the secret (not with --emulator).")
@click.option(
    "--emulator",
    is_flag=True,
    help="Also serve a local dbt Cloud emulator, subscribed to this listener: trigger runs on "
    "it (its URL and token are printed) and watch their events arrive.",
)
@click.option(
    "--emulator-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="With --emulator: the emulator's port on 127.0.0.1 (0: any free port; the URL is "
    "printed).",
)
@EMULATOR_SPEED
@click.option("--json", "as_json", is_flag=True, help="Print each event as one JSON line.")
def listen(
    host: str,
    port: int,
    secret_env: str,
    emulator: bool,
    emulator_port: int,
    emulator_speed: float,
    as_json: bool,
) -> None:
    """Serve POST /v1/webhooks/dbt and print each event it accepts, one line each.

    Deliveries are checked as `dbt-runs serve` checks them: a bad signature gets 401, a
    retried delivery is acknowledged and printed once. Events go to stdout, everything else
    to stderr. Stop with Ctrl-C.

    \b
    Examples:
      dbt-runs webhooks listen --emulator --emulator-port 8000
      DBT_WEBHOOK_SECRET=... dbt-runs webhooks listen --host 0.0.0.0 --port 8081 --json
    """
    if emulator_port and not emulator:
        raise click.UsageError("--emulator-port needs --emulator")
    secret = None if emulator else _secret_from(secret_env)
    for module in ("starlette", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            raise click.UsageError(
                f"listen needs {module}: pip install 'dbt-runs[server]'"
            ) from None
    import anyio

    from dbt_runs.cli._start import listen as start_listening

    # Bound before anything starts: a busy port stops it as it stops `serve` (exit 2).
    sock = start_listening(
        host, port, command="webhooks listen", what="the webhook receiver", flag="--port"
    )
    emulated = None
    try:
        if emulator:
            emulated = start_listening(
                "127.0.0.1",
                emulator_port,
                command="webhooks listen",
                what="the emulator",
                flag="--emulator-port",
            )
        anyio.run(_listen, sock, secret, emulated, emulator_speed, as_json)
    except KeyboardInterrupt:  # pragma: no cover - Ctrl-C before uvicorn took over
        pass
    finally:
        sock.close()
        if emulated is not None:
            emulated.close()


def _note(message: str) -> None:
    echo(f"dbt-runs webhooks: {message}", err=True)


async def _print_events(hub: EventHub, as_json: bool) -> None:
    with hub.subscribe() as events:
        async for event in events:
            echo(dump_json(event_json(event), indent=None) if as_json else event_line(event))
            sys.stdout.flush()


async def _listen(
    sock: socket.socket,
    secret: str | None,
    emulator_sock: socket.socket | None,
    emulator_speed: float,
    as_json: bool,
) -> None:
    import contextlib

    import anyio
    import uvicorn

    from dbt_runs._net import socket_url
    from dbt_runs.expose.webhooks import WEBHOOK_PATH, create_webhook_app
    from dbt_runs.webhooks import EventHub

    hub = EventHub()
    # With --emulator the secret comes from the emulator's answer, once the URL is known.
    app = create_webhook_app(hub, secret=secret or "set when the emulator subscribes")
    url = socket_url(sock) + WEBHOOK_PATH
    async with contextlib.AsyncExitStack() as stack:
        if emulator_sock is not None:
            from dbt_runs.testing import Emulator, RealClock
            from dbt_runs.testing._server import serve

            emulator = Emulator(token="emulator", clock=RealClock(speed=emulator_speed))
            server = await stack.enter_async_context(serve(emulator.app, sock=emulator_sock))
            reachable = url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")
            subscription = emulator.webhooks.subscribe(reachable, name="dbt-runs webhooks listen")
            assert subscription.secret is not None
            app.state.receiver.set_secret(subscription.secret)
            _note(
                f"emulator at {server.base_url}, subscription {subscription.id} "
                f"({emulator_speed:g}x real time); trigger runs on it with:"
            )
            _note(
                f"  DBT_CLOUD_BASE_URL={server.base_url} DBT_CLOUD_ACCOUNT_ID=1 "
                "DBT_API_KEY=emulator dbt-runs runs trigger 1"
            )
        _note(f"listening at {url}; events go to stdout, Ctrl-C stops")
        config = uvicorn.Config(app, log_level="warning", lifespan="off", server_header=False)
        listener = uvicorn.Server(config)
        async with anyio.create_task_group() as group:
            group.start_soon(_print_events, hub, as_json)
            await listener.serve(sockets=[sock])
            group.cancel_scope.cancel()
    _note("stopped")
