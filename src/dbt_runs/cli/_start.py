"""How the server commands (`serve`, `emulator`) fail to start: one line, one exit code.

A busy port, a missing extra or a refused setting stops either command before it serves
anything. Both say so the same way, with exit status 2 as for any usage error: the fix is a
flag (another port), an install or a setting, never a retry of the same command.
"""

from __future__ import annotations

import os
import socket
from typing import IO, Any

import click

from dbt_runs._net import listen_socket
from dbt_runs.cli._output import ExitCode

__all__ = ["StartError", "listen"]


class StartError(click.ClickException):
    """Stops a server command with one line on stderr (the command's name in it) and exit
    status 2, without click's "Error: " prefix or a traceback."""

    exit_code = ExitCode.USAGE.value

    def format_message(self) -> str:
        """The message as printed (the command's name is already in it)."""
        return self.message

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the one-line message to stderr."""
        click.echo(self.format_message(), err=True)


def listen(host: str, port: int, *, command: str, what: str, flag: str) -> socket.socket:
    """Bind and listen on `host:port` before anything starts, so that the URL a command
    prints is already reachable and a busy port fails fast and alone.

    Args:
        host: The address to bind.
        port: The port (0: any free port).
        command: The command, for the message (`serve`, `emulator`).
        what: What listens there, for the message (`the REST adapter`), or "".
        flag: The flag that picks another port (`--rest-port`).

    Raises:
        StartError: The address is in use, not local or not valid.
    """
    try:
        return listen_socket(host, port)
    except (OSError, OverflowError) as exc:
        errno = getattr(exc, "errno", None)
        reason = os.strerror(errno) if isinstance(errno, int) else str(exc)
        purpose = f" for {what}" if what else ""
        hint = f" (pick another port with {flag}, or {flag} 0 for any free one)" if port else ""
        raise StartError(
            f"dbt-runs {command}: cannot listen on {host}:{port}{purpose}: {reason}{hint}"
        ) from None
