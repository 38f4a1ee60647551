"""Client configuration: timeouts, the base URL rules and the environment variables."""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

import attrs

from dbt_runs.errors import ConfigurationError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "NotGiven",
    "Timeout",
    "resolve_account_id",
    "resolve_base_url",
    "resolve_token",
]

DEFAULT_BASE_URL: Final = "https://cloud.getdbt.com/api/v2"
ENV_TOKEN: Final = "DBT_API_KEY"
ENV_BASE_URL: Final = "DBT_CLOUD_BASE_URL"
ENV_HOST: Final = "DBT_CLOUD_HOST"
ENV_ACCOUNT_ID: Final = "DBT_CLOUD_ACCOUNT_ID"


class NotGiven(enum.Enum):
    """The type of `NOT_GIVEN`: "use the client's default", as distinct from `None`."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN: Final = NotGiven.NOT_GIVEN
"""Sentinel for "not passed": a per-call `timeout=NOT_GIVEN` means the client's default,
while `timeout=None` means no timeout at all."""


def _positive_or_none(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError(f"Timeout.{attribute.name} must be a positive number or None")


@attrs.frozen
class Timeout:
    """How long a call may take. Every limit is in seconds; None means no limit.

    `connect`, `read`, `write` and `pool` bound each HTTP attempt's phases (`read` is the
    longest gap between two received chunks). `total` bounds the whole call: every attempt
    and every retry's back-off sleep. Streaming downloads are bounded by the phase limits
    only, since a large artifact may legitimately take longer than `total`.

    Example:
        >>> Timeout(total=30)           # 30 s for the whole call, default phase limits
        >>> Timeout.of(5)               # 5 s for each phase and for the whole call
    """

    connect: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    read: float | None = attrs.field(default=30.0, validator=_positive_or_none)
    write: float | None = attrs.field(default=30.0, validator=_positive_or_none)
    pool: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    total: float | None = attrs.field(default=120.0, validator=_positive_or_none)

    @classmethod
    def of(cls, value: float | Timeout | None) -> Timeout:
        """Normalise a timeout argument: a number bounds every phase and the total."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(connect=None, read=None, write=None, pool=None, total=None)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError(
                f"timeout must be a number of seconds, a Timeout or None, not {value!r}"
            )
        return cls(connect=value, read=value, write=value, pool=value, total=value)


DEFAULT_TIMEOUT: Final = Timeout()

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")


def resolve_base_url(
    base_url: str | None, host: str | None, environ: Mapping[str, str] | None = None
) -> str:
    """The API root (ending in `/api/v2`): argument > environment > default.

    A bare `https://host` gets `/api/v2` appended; a host name alone becomes
    `https://<host>/api/v2`.
    """
    env = os.environ if environ is None else environ
    if base_url is not None and host is not None:
        raise ConfigurationError("pass either base_url or host, not both")
    if base_url is None and host is None:
        base_url = env.get(ENV_BASE_URL) or None
        if base_url is None:
            host = env.get(ENV_HOST) or None
    if host is not None:
        host = host.strip()
        if "://" in host or "/" in host or not _HOST.match(host):
            raise ConfigurationError(
                f"host must be a bare host name such as 'emea.dbt.com' "
                f"(use base_url for a full URL), got {host!r}"
            )
        return f"https://{host}/api/v2"
    if base_url is None:
        return DEFAULT_BASE_URL
    return _normalise_base_url(base_url)


def _normalise_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"base_url must be an http(s) URL such as 'https://cloud.getdbt.com/api/v2', "
            f"got {base_url!r}"
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigurationError("base_url must not carry credentials, a query or a fragment")
    path = parts.path.rstrip("/")
    if path == "":
        path = "/api/v2"
    elif path.endswith("/api/v3"):
        raise ConfigurationError(
            "dbt Cloud serves runs under /api/v2, not /api/v3: use a base_url ending in /api/v2"
        )
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def resolve_token(token: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The API token: argument > `DBT_API_KEY`; missing or blank is a configuration error."""
    env = os.environ if environ is None else environ
    value = token if token is not None else env.get(ENV_TOKEN)
    if value is None or not value.strip():
        raise ConfigurationError(
            f"no dbt Cloud API token: pass token=... or set the {ENV_TOKEN} environment variable"
        )
    if any(c in value for c in "\r\n"):
        raise ConfigurationError("the API token contains a line break")
    return value.strip()


def resolve_account_id(
    account_id: int | None, environ: Mapping[str, str] | None = None
) -> int | None:
    """The default account: argument > `DBT_CLOUD_ACCOUNT_ID` > None (then every call needs one)."""
    env = os.environ if environ is None else environ
    if account_id is not None:
        return check_id(account_id, "account_id", error=ConfigurationError)
    raw = env.get(ENV_ACCOUNT_ID)
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigurationError(
            f"{ENV_ACCOUNT_ID} must be a whole number, got {raw.strip()!r}"
        ) from None
    return check_id(value, ENV_ACCOUNT_ID, error=ConfigurationError)


def check_id(value: object, name: str, *, error: type[Exception]) -> int:
    """Check that `value` is a positive integer id (bools are not ids)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise error(f"{name} must be a positive integer, got {value}")
    return value
