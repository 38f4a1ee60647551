"""dbt's human-readable durations: `HH:MM:SS` and `1 minute, 50 seconds`."""

from __future__ import annotations

from functools import lru_cache
from typing import Final

__all__ = ["hms", "humanize_seconds"]

# Humanized durations: Django's `timesince` (two adjacent units) plus seconds, as dbt shows.
_UNITS: Final = (
    (365 * 86400, "year"),
    (30 * 86400, "month"),
    (7 * 86400, "week"),
    (86400, "day"),
    (3600, "hour"),
    (60, "minute"),
    (1, "second"),
)


def hms(seconds: float) -> str:
    """`HH:MM:SS`, hours not wrapped at 24 (`24:00:36`), seconds truncated."""
    total = int(seconds) if seconds > 0 else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def _unit(count: int, name: str) -> str:
    return f"{count} {name}" if count == 1 else f"{count} {name}s"


_WEEK: Final = 7 * 86400


def humanize_seconds(seconds: float) -> str:
    """`0 minutes`, `51 seconds`, `1 minute, 50 seconds`, `1 day`, `2 weeks, 3 days`."""
    total = int(seconds) if seconds > 0 else 0
    if total < 3600:
        if total < 60:
            return _unit(total, "second") if total else "0 minutes"
        minutes, secs = divmod(total, 60)
        return _unit(minutes, "minute") + (f", {_unit(secs, 'second')}" if secs else "")
    # From an hour on, the text names two units, the smaller one being minutes, hours or days:
    # it cannot change within that unit (every larger unit is a multiple of it), so a list
    # page's "3 days, 4 hours ago" values come from a small cache.
    grain = 60 if total < 86400 else 3600 if total < _WEEK else 86400
    return _two_units(total - total % grain)


@lru_cache(maxsize=4096)
def _two_units(total: int) -> str:
    for i, (size, name) in enumerate(_UNITS):
        count = total // size
        if count:
            text = _unit(count, name)
            if i + 1 < len(_UNITS):
                next_size, next_name = _UNITS[i + 1]
                rest = (total - count * size) // next_size
                if rest:
                    text += f", {_unit(rest, next_name)}"
            return text
    raise AssertionError("unreachable")  # pragma: no cover
