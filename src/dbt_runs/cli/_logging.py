"""One logging configuration for `dbt-runs serve`: each record once, on stderr, secrets blanked.

Left to themselves, the libraries in the process set up logging each in their own way: every
`uvicorn.Config()` applies uvicorn's `LOGGING_CONFIG` (handlers on the `uvicorn` and
`uvicorn.access` loggers, access lines on stdout); `MCPServer(log_level=...)` calls
`logging.basicConfig`, which puts a rich handler on the root logger when it has none; httpx,
httpcore and asyncio log to whatever the root logger has. With a redacting handler of our own
on top, a record could reach two handlers, only one of which redacted.

[`configure_logging`][dbt_runs.cli._logging.configure_logging] replaces all of that with one
`logging.config.dictConfig` configuration: a single handler, on the root logger, which every
other logger propagates to. Its formatter blanks the dbt token and the server token out of the
whole formatted record (message, arguments, traceback), whoever logged it. uvicorn configures
logging when a `Config` is created, so `serve` applies this once the upstream (and with it the
emulator's uvicorn) is up, and builds its own servers with `log_config=None`; `MCPServer`'s
`basicConfig` then finds the root handler and does nothing.

Records carry the name of the server they come from (`[rest]`, `[mcp]`, `[emulator]`): the
client, httpx and uvicorn log on behalf of whichever server handles the request, and two
servers' start-up lines would otherwise read the same.
"""

from __future__ import annotations

import contextlib
import logging
import logging.config
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from dbt_runs.cli._output import Redactor

__all__ = ["LEVELS", "RedactingFormatter", "configure_logging", "logging_config", "records_from"]

LEVELS: tuple[str, ...] = ("critical", "error", "warning", "info", "debug")
"""The levels `--log-level` accepts."""

_FORMAT = "%(levelname)s:  %(dbt_runs_server)s%(name)s: %(message)s"

# Loggers that their libraries give handlers, levels or `propagate=False` of their own: named
# here so that dictConfig takes those away and their records reach the one handler.
_SERVER_LOGGERS = ("dbt_runs", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_LIBRARY_LOGGERS = ("mcp", "httpx", "httpcore")

_server: ContextVar[str | None] = ContextVar("dbt_runs_server", default=None)


@contextlib.contextmanager
def records_from(server: str) -> Iterator[None]:
    """Label the log records of whatever starts inside this block with `server`.

    Tasks copy the context they are started in, and a server's connections and request tasks
    descend from the task that started it, so the label follows every record they log.
    """
    token = _server.set(server)
    try:
        yield
    finally:
        _server.reset(token)


class _ServerLabel(logging.Filter):
    """Adds `dbt_runs_server` (`"[rest] "`, or `""` outside any server) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        server = _server.get()
        record.dbt_runs_server = f"[{server}] " if server else ""
        return True


class RedactingFormatter(logging.Formatter):
    """Formats a record, then replaces every secret in the result with `***`.

    Redacting the formatted text, rather than the message, covers the arguments, the traceback
    and the stack too, however a library put the secret in.

    Args:
        fmt: The `%`-style format string.
        secrets: The strings to blank out; `None`, empty and very short values are ignored.
    """

    def __init__(self, fmt: str | None = None, secrets: Iterable[str | None] = ()) -> None:
        super().__init__(fmt)
        self._redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, secrets replaced by `***`."""
        return self._redact(super().format(record))


def logging_config(level: str, secrets: Iterable[str | None]) -> dict[str, Any]:
    """The `dictConfig` configuration of `dbt-runs serve`.

    dbt-runs and uvicorn log at `level`. Other libraries (mcp, httpx, httpcore, asyncio) log
    warnings and worse, or everything too when `level` is `debug`.

    Args:
        level: One of [`LEVELS`][dbt_runs.cli._logging.LEVELS].
        secrets: The strings no log line may show (the dbt token, the server token).
    """
    chosen = logging.getLevelNamesMapping()[level.upper()]
    libraries = chosen if chosen <= logging.DEBUG else max(chosen, logging.WARNING)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"server": {"()": _ServerLabel}},
        "formatters": {
            "redacted": {"()": RedactingFormatter, "fmt": _FORMAT, "secrets": list(secrets)}
        },
        "handlers": {
            "stderr": {
                # stderr: under --stdio, stdout carries MCP messages and nothing else.
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "redacted",
                "filters": ["server"],
            }
        },
        "root": {"level": libraries, "handlers": ["stderr"]},
        "loggers": {
            **{name: _propagating(chosen) for name in _SERVER_LOGGERS},
            **{name: _propagating(logging.NOTSET) for name in _LIBRARY_LOGGERS},
        },
    }


def _propagating(level: int) -> dict[str, Any]:
    return {"level": level, "handlers": [], "propagate": True}


def configure_logging(level: str, secrets: Iterable[str | None]) -> None:
    """Install [`logging_config`][dbt_runs.cli._logging.logging_config] for the process."""
    logging.config.dictConfig(logging_config(level, secrets))
