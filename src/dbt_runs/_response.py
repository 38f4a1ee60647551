"""`RawResponse`: what `client.with_raw_response.<operation>(...)` returns."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, TypeVar

from dbt_runs import _json

__all__ = ["RawResponse"]

T = TypeVar("T")

_UNSET: Any = object()
_SUCCESS_STATUS: Final = {
    "code": 200,
    "is_success": True,
    "user_message": "Success!",
    "developer_message": "",
}


class RawResponse(Generic[T]):
    """dbt's response as received, with the parsed result one call away.

    Adapters use it to hand dbt's body on byte for byte (`content`) while still getting the
    typed value (`parse()`). Errors raise the same exceptions as the normal mode.

    Attributes:
        status_code: The HTTP status (2xx; errors raise).
        headers: The response headers (case-insensitive).
        content: The body bytes exactly as dbt sent them.
        retries: How many retries the client took to get this response.
        reconciled: True when this is a trigger whose response was lost and whose run was
            found afterwards (see `AsyncRunsClient.trigger_run`). `content` is then a
            success envelope the client built around the run object as listed by dbt.
        reused: True when `trigger_run(..., if_running="reuse")` found the job's run already
            queued or running and triggered nothing: `content` is that run, as listed.

    Example:
        >>> raw = await client.with_raw_response.get_run(42)
        >>> raw.status_code, raw.json().get("data", {}).get("id")
        (200, 42)
        >>> run = raw.parse()
    """

    __slots__ = (
        "_json",
        "_parse",
        "_parsed",
        "content",
        "headers",
        "reconciled",
        "retries",
        "reused",
        "status_code",
    )

    def __init__(
        self,
        *,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes,
        parse: Callable[[RawResponse[T]], T],
        retries: int = 0,
        reconciled: bool = False,
        reused: bool = False,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.retries = retries
        self.reconciled = reconciled
        self.reused = reused
        self._parse = parse
        self._json: Any = _UNSET
        self._parsed: Any = _UNSET

    @classmethod
    def enveloped(
        cls,
        data: Mapping[str, Any],
        value: T,
        *,
        retries: int = 0,
        reconciled: bool = False,
        reused: bool = False,
    ) -> RawResponse[T]:
        """A success answer the client made itself, around an object dbt sent elsewhere (a run
        found in a listing), in dbt's envelope."""
        body = {"status": _SUCCESS_STATUS, "data": dict(data)}
        return cls(
            status_code=200,
            headers={"content-type": "application/json"},
            content=json.dumps(body).encode(),
            parse=lambda _raw: value,
            retries=retries,
            reconciled=reconciled,
            reused=reused,
        )

    def json(self) -> Any:
        """The body decoded as JSON (decoded once, then reused)."""
        if self._json is _UNSET:
            self._json = _json.loads(self.content)
        return self._json

    def parse(self) -> T:
        """The typed result (`Run`, `RunPage`, `list[str]`, `bytes`, ...), parsed once."""
        if self._parsed is _UNSET:
            self._parsed = self._parse(self)
        result: T = self._parsed
        return result

    @property
    def content_type(self) -> str | None:
        """The `Content-Type` header, if any."""
        return self.headers.get("content-type")

    def __repr__(self) -> str:
        return (
            f"RawResponse(status_code={self.status_code}, bytes={len(self.content)}, "
            f"retries={self.retries}{', reconciled=True' if self.reconciled else ''}"
            f"{', reused=True' if self.reused else ''})"
        )
