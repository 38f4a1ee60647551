"""`dbt-runs serve`: the REST adapter and the MCP server in one process.

Both servers share one event loop and one `AsyncRunsClient` (one connection pool, one retry
policy, one place holding the dbt token). With `--emulator`, an in-process dbt Cloud emulator
listens on an ephemeral loopback port and the client points at it, so the whole stack runs
without a dbt Cloud account.

With `DBT_WEBHOOK_SECRET` set, dbt Cloud's webhook deliveries are taken too: at
`POST /v1/webhooks/dbt` on the REST adapter, or on a listener of their own (`--webhook-port`,
`--only webhooks`) that can face the internet while the rest stays on loopback.

This is the only place that wires the emulator to the adapters: the adapters never import it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import click

from dbt_runs._net import socket_url
from dbt_runs.cli._common import EMULATOR_SPEED, ENVIRONMENT_NAMES, command_line_wording
from dbt_runs.cli._logging import LEVELS, configure_logging, records_from
from dbt_runs.cli._start import StartError, listen
from dbt_runs.expose._security import (
    DEFAULT_BODY_TIMEOUT,
    SERVER_TOKEN_ENV,
    BodyTimeoutMiddleware,
    UnsafeBindError,
    allowed_hosts_for,
    check_bind,
    server_token_from_env,
)

if TYPE_CHECKING:
    import asyncio

    from dbt_runs import AsyncRunsClient
    from dbt_runs.webhooks import EventHub

__all__ = ["serve"]

logger = logging.getLogger("dbt_runs.cli.serve")

DEFAULT_HEADER_TIMEOUT = 5.0
"""Seconds a connection may take to send a request's headers (see `--header-timeout`)."""

DEFAULT_MAX_CONNECTIONS = 100
"""Open connections each server serves at once; a request on one more gets 503."""

DEFAULT_WEBHOOK_PORT = 8081
"""The webhook receiver's own port under `--only webhooks` (see `--webhook-port`)."""

_NO_TOKEN = (
    "dbt-runs serve: set DBT_API_KEY to a dbt Cloud API token (and DBT_CLOUD_HOST or "
    "DBT_CLOUD_BASE_URL for your region, DBT_CLOUD_ACCOUNT_ID for your account), "
    "or pass --emulator to serve a local emulator instead"
)


class ServeError(StartError):
    """A problem that stops `serve` with one line on stderr and exit status 2 (no traceback),
    as `dbt-runs emulator` stops."""


@dataclass(frozen=True)
class Settings:
    """What `dbt-runs serve` was asked to do, validated.

    Attributes:
        host: The address both HTTP servers bind.
        rest_port: The REST adapter's port (0: any free port).
        mcp_port: The MCP server's port (0: any free port).
        rest: Whether to serve the REST adapter.
        mcp: Whether to serve the MCP server.
        stdio: Serve MCP over stdin/stdout instead of HTTP.
        emulator: Serve an in-process emulator and point the client at it.
        emulator_speed: How many times shorter the emulated runs are (timestamps stay real).
        read_only: Serve nothing that changes a run.
        server_token: The inbound bearer token (`DBT_RUNS_SERVER_TOKEN`), or None.
        log_level: The log level of dbt-runs and uvicorn (libraries log warnings, or
            everything at `debug`).
        header_timeout: Seconds a connection has to send a request's headers, counted from
            when it opened or the previous answer ended; then it is closed.
        body_timeout: Seconds a request body has to arrive after its headers; then 408.
        max_connections: Open connections each HTTP server serves at once; a request on one
            more gets 503.
        webhook_secret: `DBT_WEBHOOK_SECRET`: with it, dbt Cloud's webhook deliveries are
            taken at `POST /v1/webhooks/dbt`.
        webhook_port: Take them on a listener of their own, on this port (0: any free
            port), instead of on the REST adapter's.
        webhook_host: That listener's address (None: `host`).
    """

    host: str
    rest_port: int
    mcp_port: int
    rest: bool
    mcp: bool
    stdio: bool
    emulator: bool
    emulator_speed: float
    read_only: bool
    server_token: str | None
    log_level: str
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    webhook_secret: str | None = None
    webhook_port: int | None = None
    webhook_host: str | None = None


def _echo(message: str) -> None:
    # stderr: stdout belongs to MCP when it speaks over stdio, and holds no result here anyway.
    click.echo(f"dbt-runs serve: {message}", err=True)


def _seconds_option(flag: str, default: float, help: str) -> Callable[[Any], Any]:
    return click.option(
        flag,
        type=click.FloatRange(min=0, min_open=True),
        default=default,
        show_default=True,
        metavar="SECONDS",
        help=help,
    )


@click.command(
    "serve",
    epilog=(
        "\b\nExamples:\n"
        "  dbt-runs serve --emulator                 # no dbt account needed\n"
        "  dbt-runs serve --only rest --read-only    # a read-only REST adapter on :8080\n"
        "  dbt-runs serve --only mcp --stdio         # MCP over stdio for a desktop client\n"
        "  DBT_WEBHOOK_SECRET=... dbt-runs serve --webhook-port 8081 --webhook-host 0.0.0.0\n"
        "  DBT_RUNS_SERVER_TOKEN=... dbt-runs serve --host 0.0.0.0"
    ),
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help=f"Address to bind; a non-loopback one needs {SERVER_TOKEN_ENV} "
    "(or --allow-unauthenticated).",
)
@click.option(
    "--rest-port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="REST adapter port (0: any free port; the chosen URL is printed).",
)
@click.option(
    "--mcp-port",
    type=click.IntRange(0, 65535),
    default=9090,
    show_default=True,
    help="MCP server port (0: any free port; the chosen URL is printed).",
)
@click.option(
    "--only",
    type=click.Choice(["rest", "mcp", "webhooks"]),
    default=None,
    help="Serve only the REST adapter, only the MCP server, or only the webhook receiver "
    f"(on --webhook-port, default {DEFAULT_WEBHOOK_PORT}; needs DBT_WEBHOOK_SECRET) "
    "(default: REST and MCP).",
)
@click.option(
    "--webhook-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Take dbt Cloud's webhook deliveries (DBT_WEBHOOK_SECRET) on a listener of their own "
    "on this port, instead of at POST /v1/webhooks/dbt on the REST adapter.",
)
@click.option(
    "--webhook-host",
    default=None,
    help="The webhook listener's address (default: --host). It needs no token: dbt's "
    "signature authenticates each delivery.",
)
@click.option("--stdio", is_flag=True, help="With --only mcp: speak MCP over stdin/stdout.")
@click.option(
    "--emulator",
    is_flag=True,
    help="Serve a local dbt Cloud emulator (on an ephemeral loopback port) instead of dbt "
    "Cloud; no DBT_API_KEY needed.",
)
@EMULATOR_SPEED
@click.option(
    "--read-only", is_flag=True, help="Serve nothing that changes a run (no trigger, no cancel)."
)
@click.option(
    "--allow-unauthenticated",
    is_flag=True,
    help=f"Allow a non-loopback --host without {SERVER_TOKEN_ENV} (anyone who can reach it "
    "can drive your runs).",
)
@click.option(
    "--log-level",
    type=click.Choice(LEVELS),
    default="info",
    show_default=True,
    help="Log level of dbt-runs and uvicorn; other libraries log warnings (everything at "
    "debug). Tokens are blanked out of every line.",
)
@_seconds_option(
    "--header-timeout",
    DEFAULT_HEADER_TIMEOUT,
    "Close a connection whose request headers are not complete this long after it opened "
    "(or after the previous answer on it).",
)
@_seconds_option(
    "--body-timeout",
    DEFAULT_BODY_TIMEOUT,
    "Answer 408 and close the connection when a request body has not arrived this long "
    "after its headers.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_CONNECTIONS,
    show_default=True,
    help="Open connections each server serves at once; a request on one more gets 503.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    rest_port: int,
    mcp_port: int,
    only: Literal["rest", "mcp", "webhooks"] | None,
    webhook_port: int | None,
    webhook_host: str | None,
    stdio: bool,
    emulator: bool,
    emulator_speed: float,
    read_only: bool,
    allow_unauthenticated: bool,
    log_level: str,
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
) -> None:
    """Serve the REST adapter (port 8080) and the MCP server (port 9090) in front of dbt Cloud.

    Upstream configuration comes from the same environment variables as the SDK:
    DBT_API_KEY, DBT_CLOUD_BASE_URL or DBT_CLOUD_HOST, DBT_CLOUD_ACCOUNT_ID. Callers of these
    servers never see the dbt token; set DBT_RUNS_SERVER_TOKEN to make them send their own.
    With DBT_WEBHOOK_SECRET, dbt Cloud's webhook deliveries are taken as well.
    """
    if stdio and only != "mcp":
        raise click.UsageError("--stdio speaks MCP only: use it with --only mcp")
    from dbt_runs.webhooks import WEBHOOK_SECRET_ENV, secret_from_env

    webhook_secret = secret_from_env()
    separate = only == "webhooks" or webhook_port is not None or webhook_host is not None
    if separate and webhook_secret is None:
        raise ServeError(
            f"dbt-runs serve: the webhook receiver needs {WEBHOOK_SECRET_ENV}, the hmac_secret "
            "dbt Cloud showed when the webhook subscription was created"
        )
    if separate and webhook_port is None:
        webhook_port = DEFAULT_WEBHOOK_PORT
    debug = bool(ctx.meta.get("dbt_runs.debug")) or os.environ.get("DBT_RUNS_DEBUG") == "1"
    token = server_token_from_env()
    settings = Settings(
        host=host,
        rest_port=rest_port,
        mcp_port=mcp_port,
        rest=only in (None, "rest"),
        mcp=only in (None, "mcp"),
        stdio=stdio,
        emulator=emulator,
        emulator_speed=emulator_speed,
        read_only=read_only,
        server_token=token,
        log_level="debug" if debug else log_level,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        max_connections=max_connections,
        webhook_secret=webhook_secret,
        webhook_port=webhook_port,
        webhook_host=webhook_host,
    )
    upstream = settings.rest or settings.mcp
    if not stdio and upstream:
        # The webhook listener needs no token: dbt's signature authenticates each delivery.
        try:
            check_bind(host, server_token=token, allow_unauthenticated=allow_unauthenticated)
        except UnsafeBindError as exc:
            raise ServeError(f"dbt-runs serve: {exc}") from None
    if upstream and not emulator and not os.environ.get("DBT_API_KEY", "").strip():
        raise ServeError(_NO_TOKEN)
    _check_extras(settings)
    run(settings)


def _check_extras(settings: Settings) -> None:
    missing = []
    for module, needed in (
        ("starlette", True),
        ("uvicorn", not settings.stdio),
        ("mcp", settings.mcp),
    ):
        if needed:
            try:
                __import__(module)
            except ImportError:
                missing.append(module)
    if missing:
        raise ServeError(
            f"dbt-runs serve: missing {', '.join(missing)}; install the server extra: "
            "pip install 'dbt-runs[server]'"
        )


class Running:
    """Handed to `on_ready` once every server listens.

    Attributes:
        urls: Where each part listens: `rest` (base URL), `mcp` (endpoint URL), `emulator`,
            `webhooks` (the delivery URL, when dbt's webhooks are taken).
        hub: The `EventHub` accepted webhook events are published to (None without them).
    """

    def __init__(
        self, urls: dict[str, str], servers: list[Any], hub: EventHub | None = None
    ) -> None:
        self.urls = urls
        self.hub = hub
        self._servers = servers

    def stop(self) -> None:
        """Ask every server to shut down gracefully (what SIGINT and SIGTERM do)."""
        for server in self._servers:
            server.should_exit = True


def run(settings: Settings) -> None:
    """Run the servers until SIGINT or SIGTERM (the command's body).

    Raises:
        ServeError: A port cannot be bound, the upstream is not configured, or a server
            failed to start.
    """
    import anyio

    try:
        serving = functools.partial(serve_async, settings, handle_signals=True, configure_logs=True)
        anyio.run(serving, backend="asyncio")
    except KeyboardInterrupt:  # pragma: no cover - a second Ctrl-C during shutdown
        pass
    except BaseExceptionGroup as group:
        raise _unwrap(group) from None


def _unwrap(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one-line error hidden in a task group's exception group, if that is all it holds."""
    errors, others = group.split(ServeError)
    if errors is not None and others is None:
        return _leaves(errors)[0]
    exits, others = group.split(SystemExit)
    if exits is not None and others is None:
        # uvicorn ends a failed startup with sys.exit() after logging why.
        return ServeError("dbt-runs serve: a server failed to start (see the log above)")
    return group


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        leaves.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return leaves


async def serve_async(
    settings: Settings,
    on_ready: Callable[[Running], None] | None = None,
    handle_signals: bool = False,
    configure_logs: bool = False,
) -> None:
    """Serve until stopped: by `Running.stop()`, or by SIGINT/SIGTERM with `handle_signals`.

    Args:
        settings: What to serve.
        on_ready: Called once every server listens (and before serving stdio).
        handle_signals: Install SIGINT/SIGTERM handlers (main thread only).
        configure_logs: Install the process's logging configuration (stderr, tokens
            blanked out; see `dbt_runs.cli._logging`), as the command does.
    """
    from dbt_runs.errors import ConfigurationError

    async with contextlib.AsyncExitStack() as stack:
        # Bind before anything starts, so that a busy port fails fast and alone.
        sockets: dict[str, socket.socket] = {}
        if not settings.stdio:
            for name, label, host, port, wanted in (
                ("rest", "REST adapter", settings.host, settings.rest_port, settings.rest),
                ("mcp", "MCP server", settings.host, settings.mcp_port, settings.mcp),
                (
                    "webhooks",
                    "webhook receiver",
                    settings.webhook_host or settings.host,
                    settings.webhook_port or 0,
                    settings.webhook_port is not None,
                ),
            ):
                if wanted:
                    sockets[name] = _bind(host, port, label)
                    stack.callback(sockets[name].close)
        urls: dict[str, str] = {}
        client: AsyncRunsClient | None = None
        dbt_token: str | None = None
        if settings.rest or settings.mcp:
            try:
                client, dbt_token = await stack.enter_async_context(_upstream(settings, urls))
            except ConfigurationError as exc:
                wording = command_line_wording(str(exc), ENVIRONMENT_NAMES)
                raise ServeError(f"dbt-runs serve: {wording}") from None
        if configure_logs:
            # After the upstream: the emulator's uvicorn.Config() has configured logging by
            # now, and nothing built from here on does.
            configure_logging(
                settings.log_level, [dbt_token, settings.server_token, settings.webhook_secret]
            )
        if settings.stdio:
            from dbt_runs.expose import mcp as mcp_module

            _echo("MCP server on stdio" + (" (read-only)" if settings.read_only else ""))
            if on_ready is not None:
                on_ready(Running(urls, []))
            assert client is not None
            await mcp_module.run_stdio(client, read_only=settings.read_only)
            return
        hub = None
        if settings.webhook_secret is not None:
            from dbt_runs.webhooks import EventHub

            hub = EventHub()
        listeners = _http_servers(settings, client, urls, sockets, hub)
        if settings.read_only:
            _echo("read-only: nothing that changes a run is served")
        if settings.server_token is None and (settings.rest or settings.mcp):
            _echo(f"no {SERVER_TOKEN_ENV} set: callers need no token")
        if on_ready is not None:
            on_ready(Running(urls, [listener.server for listener in listeners], hub))
        await _run_until_stopped(listeners, handle_signals=handle_signals)


@contextlib.asynccontextmanager
async def _upstream(
    settings: Settings, urls: dict[str, str]
) -> AsyncIterator[tuple[AsyncRunsClient, str]]:
    """The shared client and its dbt token: dbt Cloud's from the environment, or an
    in-process emulator's."""
    from dbt_runs import AsyncRunsClient
    from dbt_runs._config import resolve_token

    if not settings.emulator:
        async with AsyncRunsClient() as client:
            yield client, resolve_token(None)
        return
    # Only here: the adapters never import the emulator.
    from dbt_runs.testing import Emulator, RealClock

    # A fresh token per start: other local tools can use the emulator with it, nobody else.
    token = f"emulator-{secrets.token_hex(8)}"
    emulator = Emulator(token=token, clock=RealClock(speed=settings.emulator_speed))
    async with contextlib.AsyncExitStack() as stack:
        with records_from("emulator"):
            server = await stack.enter_async_context(emulator.serve(host="127.0.0.1", port=0))
        urls["emulator"] = server.base_url
        _echo(
            f"emulator (dbt Cloud API) at {server.base_url}, token {token}, "
            f"account {emulator.account_id}, jobs {', '.join(map(str, emulator.job_ids))}, "
            f"{settings.emulator_speed:g}x real time"
        )
        async with AsyncRunsClient(
            token=token, base_url=server.base_url, account_id=emulator.account_id
        ) as client:
            yield client, token


def _bind(host: str, port: int, what: str) -> socket.socket:
    """Bind and listen before the server starts, so the printed URL is already reachable."""
    flag = f"--{what.split()[0].lower()}-port"
    return listen(host, port, command="serve", what=f"the {what}", flag=flag)


@dataclass
class _Listener:
    name: str
    server: Any
    sock: socket.socket


def _h11_with_header_timeout(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request headers are late.

    uvicorn times the idle gap between requests (`timeout_keep_alive`, restarted by every byte
    received) but nothing while a request's headers arrive, so a client that sends part of a
    request line holds its connection for good (uvicorn issue #157 lists the missing
    "timeout-request-start"). Here a request's headers must be complete `header_timeout`
    seconds after the connection opened or the previous answer on it ended, whatever trickles
    in meanwhile; otherwise the connection is closed (there is no request to answer yet). The
    same clock runs while a client sends the rest of a body its answer did not need.

    Only connection-level hooks of uvicorn's protocol are overridden; the HTTP handling is
    uvicorn's own. h11 rather than httptools, whichever is installed: one implementation to
    reason about.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        _header_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._time_headers()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._time_headers()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._time_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_timing()
            super().connection_lost(exc)

        def _time_headers(self) -> None:
            # Between requests (h11: we are not answering one) the clock runs; it is not
            # restarted by data, so a trickle cannot stretch it.
            waiting = self.conn.our_state in {h11.IDLE, h11.DONE}
            if not waiting or self.transport.is_closing():
                self._stop_timing()
            elif self._header_deadline is None:
                self._header_deadline = self.loop.call_later(header_timeout, self._headers_late)

        def _stop_timing(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _headers_late(self) -> None:
            self._header_deadline = None
            logger.debug("closing a connection: no request headers within %gs", header_timeout)
            # What uvicorn does to an idle keep-alive connection: tell h11, close.
            self.timeout_keep_alive_handler()

    return Protocol


def _http_servers(
    settings: Settings,
    client: AsyncRunsClient | None,
    urls: dict[str, str],
    sockets: dict[str, socket.socket],
    hub: EventHub | None = None,
) -> list[_Listener]:
    import uvicorn

    class Server(uvicorn.Server):
        # Two servers share the process: one signal handler (ours) stops both.
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    hosts = allowed_hosts_for(settings.host)
    listeners: list[_Listener] = []
    apps: list[tuple[str, Any]] = []
    receiver = None
    if hub is not None and settings.webhook_port is None:
        from dbt_runs.expose.webhooks import WebhookReceiver

        receiver = WebhookReceiver(hub, secret=settings.webhook_secret)
    if settings.rest:
        from dbt_runs.expose.rest import create_app

        rest_app = create_app(
            client,
            read_only=settings.read_only,
            server_token=settings.server_token,
            allowed_hosts=hosts,
            webhooks=receiver,
        )
        apps.append(("rest", rest_app))
    if settings.mcp:
        from dbt_runs.expose import mcp as mcp_module

        assert client is not None  # serve_async builds one whenever an adapter is served

        mcp_app = mcp_module.create_app(
            client,
            read_only=settings.read_only,
            server_token=settings.server_token,
            allowed_hosts=hosts,
        )
        apps.append(("mcp", mcp_app))
    if hub is not None and settings.webhook_port is not None:
        from dbt_runs.expose.webhooks import create_webhook_app

        apps.append(("webhooks", create_webhook_app(hub, secret=settings.webhook_secret)))
    protocol = _h11_with_header_timeout(settings.header_timeout)
    for name, app in apps:
        sock = sockets[name]
        config = uvicorn.Config(
            BodyTimeoutMiddleware(app, timeout=settings.body_timeout),
            http=protocol,
            # uvicorn answers 503 once its open connections reach this figure, the new one
            # included: one more than the connections served.
            limit_concurrency=settings.max_connections + 1,
            # The process has one logging configuration (dbt_runs.cli._logging), not uvicorn's.
            log_config=None,
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        listeners.append(_Listener(name, Server(config), sock))
        base = socket_url(sock)
        if name == "rest":
            urls["rest"] = base
            _echo(f"REST adapter at {base}/v1 (OpenAPI: {base}/openapi.json)")
            if receiver is not None:
                urls["webhooks"] = f"{base}/v1/webhooks/dbt"
        elif name == "webhooks":
            urls["webhooks"] = f"{base}/v1/webhooks/dbt"
        else:
            urls["mcp"] = f"{base}/mcp"
            _echo(f"MCP server at {base}/mcp (streamable HTTP)")
    if "webhooks" in urls:
        _echo(f"webhook receiver at {urls['webhooks']} (dbt's signature, no token)")
    return listeners


async def _run_until_stopped(listeners: list[_Listener], *, handle_signals: bool) -> None:
    import anyio

    async def watch_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                # A second signal while shutting down: stop waiting for open connections.
                force = all(listener.server.should_exit for listener in listeners)
                for listener in listeners:
                    listener.server.should_exit = True
                    listener.server.force_exit = listener.server.force_exit or force

    async def run_one(listener: _Listener) -> None:
        try:
            with records_from(listener.name):
                await listener.server.serve(sockets=[listener.sock])
        finally:
            # When one server stops (a signal, or a failed startup) the others stop too.
            for other in listeners:
                other.server.should_exit = True

    async with anyio.create_task_group() as group:
        if handle_signals and sys.platform != "win32":
            group.start_soon(watch_signals)
        async with anyio.create_task_group() as servers:
            for listener in listeners:
                servers.start_soon(run_one, listener)
        group.cancel_scope.cancel()
    _echo("stopped")
