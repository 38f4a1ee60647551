"""`--webhook-port`: a wait that also listens for dbt Cloud's webhooks.

`runs trigger --wait` (and `retry --wait`, `rerun --wait`, `runs wait`) polls by default.
With `--webhook-port`, the command serves the webhook receiver (`POST /v1/webhooks/dbt`, the
same as `dbt-runs serve`'s) for as long as it runs, before the run is started, and hands its
`EventHub` to `wait_for_run(events=...)`: the wait ends as soon as the run's
`job.run.completed` arrives, and polls every `DEFAULT_SAFETY_POLL` seconds meanwhile (or
`--poll`). The secret comes from `DBT_WEBHOOK_SECRET`; dbt Cloud (or the emulator) must have
a subscription whose `client_url` reaches the receiver.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs
import click

from dbt_runs.cli._common import CommandError
from dbt_runs.cli._output import ExitCode, echo

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient
    from dbt_runs.webhooks import EventHub

__all__ = ["RECEIVE_OPTIONS", "Receiver", "events_of", "serving"]

_START_SECONDS: Final = 10.0

RECEIVE_OPTIONS: Final = [
    click.option(
        "--webhook-port",
        type=click.IntRange(0, 65535),
        metavar="PORT",
        help="While waiting (with --wait, where the command has it), also serve a webhook "
        "receiver (POST /v1/webhooks/dbt) on this port and end the wait when dbt Cloud's "
        "job.run.completed for the run arrives; the secret "
        "comes from DBT_WEBHOOK_SECRET, and polls go on every 120 s (--poll) in case a "
        "delivery is lost. dbt Cloud must reach it: see the webhooks guide.",
    ),
    click.option(
        "--webhook-host",
        default="127.0.0.1",
        show_default=True,
        metavar="HOST",
        help="The address the --webhook-port receiver binds.",
    ),
]


@attrs.define
class Receiver:
    """The receiver a waiting command serves, and the hub it publishes to once started."""

    host: str
    port: int
    secret: str
    quiet: bool = False
    hub: EventHub | None = None

    @classmethod
    def from_flags(cls, port: int | None, host: str, *, wait: bool, quiet: bool) -> Receiver | None:
        """The receiver asked for, checked before anything is sent (a usage error if not)."""
        from dbt_runs.webhooks import WEBHOOK_SECRET_ENV, secret_from_env

        if port is None:
            return None
        if not wait:
            raise click.UsageError("--webhook-port serves a receiver for --wait: add --wait.")
        try:
            import starlette  # noqa: F401
            import uvicorn  # noqa: F401
        except ImportError:
            raise click.UsageError(
                "--webhook-port needs the server extra: pip install 'dbt-runs[server]'"
            ) from None
        secret = secret_from_env()
        if secret is None:
            raise click.UsageError(
                f"--webhook-port needs dbt's secret in ${WEBHOOK_SECRET_ENV}: the hmac_secret "
                "shown when the webhook subscription was created."
            )
        return cls(host, port, secret, quiet)

    @classmethod
    def for_waiting(cls, webhook_port: int | None, webhook_host: str) -> Receiver | None:
        """The receiver of a command that always waits (`runs wait`)."""
        return cls.from_flags(webhook_port, webhook_host, wait=True, quiet=False)

    def around(
        self, work: Callable[[AsyncRunsClient], Awaitable[ExitCode]]
    ) -> Callable[[AsyncRunsClient], Awaitable[ExitCode]]:
        """`work`, with the receiver serving from before it starts to after it ends."""

        async def served(client: AsyncRunsClient) -> ExitCode:
            async with self._serving():
                return await work(client)

        return served

    @contextlib.asynccontextmanager
    async def _serving(self) -> AsyncIterator[None]:
        import uvicorn

        from dbt_runs._net import listen_socket, socket_url
        from dbt_runs.expose.webhooks import WEBHOOK_PATH, create_webhook_app
        from dbt_runs.webhooks import EventHub

        hub = EventHub()
        app = create_webhook_app(hub, secret=self.secret)
        try:
            sock = listen_socket(self.host, self.port)
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise CommandError(
                ExitCode.USAGE, f"cannot listen on {self.host}:{self.port}: {reason}"
            ) from None

        class Server(uvicorn.Server):
            # The command's own Ctrl-C and SIGTERM handling stays in charge.
            @contextlib.contextmanager
            def capture_signals(self) -> Any:
                yield

        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=2
        )
        server = Server(config)
        with sock:
            async with anyio.create_task_group() as group:
                group.start_soon(server.serve, [sock])
                try:
                    with anyio.fail_after(_START_SECONDS):
                        while not server.started:  # noqa: ASYNC110 (uvicorn has no event)
                            await anyio.sleep(0.01)
                    if not self.quiet:
                        url = socket_url(sock) + WEBHOOK_PATH
                        echo(f"Receiving dbt Cloud's webhooks at {url}", err=True)
                    self.hub = hub
                    yield
                finally:
                    self.hub = None
                    server.should_exit = True


def serving(
    receiver: Receiver | None, work: Callable[[AsyncRunsClient], Awaitable[ExitCode]]
) -> Callable[[AsyncRunsClient], Awaitable[ExitCode]]:
    """`work`, with the `--webhook-port` receiver serving around it (from before the run is
    started or first read, so that no event of it comes before the receiver is up), or `work`
    itself when the command has no receiver."""
    return work if receiver is None else receiver.around(work)


def events_of(receiver: Receiver | None) -> EventHub | None:
    """The hub a serving receiver publishes to, for `wait_for_run(events=...)` (None: polls
    only)."""
    return None if receiver is None else receiver.hub
