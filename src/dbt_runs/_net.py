"""What every server of ours shares, stdlib only: opening its listening socket, and
answering the ASGI lifespan protocol."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["answer_lifespan", "listen_socket", "socket_url"]


def listen_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on `host:port` (port 0: any free port), ready to hand to uvicorn.

    Binding before the server starts lets a caller print a URL that is already reachable.
    The socket is created with `IPPROTO_TCP` on purpose: asyncio turns off Nagle's algorithm
    (TCP_NODELAY) only on sockets whose protocol says TCP, and `socket.create_server` leaves it
    at 0, which delays every small response by about 40 ms.

    Raises:
        OSError: The address is in use, not local, or not valid.
        OverflowError: The port is out of range.
    """
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((bare, port))
        sock.listen(socket.SOMAXCONN)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def socket_url(sock: socket.socket) -> str:
    """`http://HOST:PORT` for a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def answer_lifespan(
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    """Answer an ASGI server's lifespan messages for an app with nothing to start or stop.

    Answering keeps uvicorn from logging that the app does not support lifespan.
    """
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
