"""The emulator's clocks: a manual one for deterministic tests, a real one with a speed factor.

The emulator never reads the system time directly. Every run's timeline (queued, starting,
running, finished) is computed from `clock.now()`, so a test moves runs forward by advancing a
`ManualClock`, and a demo makes a ten-minute run finish in seconds with `RealClock(speed=...)`.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["DEFAULT_START", "Clock", "ManualClock", "RealClock"]

#: Where a `ManualClock` starts unless told otherwise: a fixed instant, so that seeded data and
#: every timestamp in a test are the same on every machine.
DEFAULT_START = datetime(2025, 6, 2, 9, 0, 0, tzinfo=UTC)


def _epoch(value: datetime | float | None, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("clock start must be timezone-aware (for example tzinfo=UTC)")
        return value.timestamp()
    return float(value)


@runtime_checkable
class Clock(Protocol):
    """What the emulator needs from a clock.

    `now()` is the emulated time in seconds since the epoch (UTC). `sleep()` waits for a span
    of *real* time that the emulator adds on purpose (latency, slow bodies): a manual clock
    advances itself instead of waiting, so tests with added latency stay instant.
    """

    def now(self) -> float:
        """The emulated time, in seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` pass (really, or by advancing a manual clock)."""
        ...


class ManualClock:
    """A clock that moves only when told to: deterministic tests.

    Example:
        >>> clock = ManualClock()
        >>> before = clock.now()
        >>> clock.advance(90)
        >>> clock.now() - before
        90.0

    Args:
        start: the initial time (an aware `datetime` or epoch seconds); default
            `DEFAULT_START` (2025-06-02 09:00:00 UTC), fixed so that seeded data never varies.
    """

    def __init__(self, start: datetime | float | None = None) -> None:
        self._now = _epoch(start, DEFAULT_START.timestamp())
        self._lock = threading.Lock()

    def now(self) -> float:
        """The current emulated time, in seconds since the epoch."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds` (runs progress accordingly).

        Raises:
            ValueError: if `seconds` is negative: emulated time never goes backwards.
        """
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance({seconds!r}))")
        with self._lock:
            self._now += float(seconds)

    def set(self, when: datetime | float) -> None:
        """Jump to `when` (not earlier than now)."""
        target = _epoch(when, 0.0)
        with self._lock:
            if target < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = target

    async def sleep(self, seconds: float) -> None:
        """Advance the clock by `seconds` instead of waiting, then yield to the event loop."""
        if seconds > 0:
            self.advance(seconds)
        await anyio.lowlevel.checkpoint()

    def __repr__(self) -> str:
        return f"ManualClock({datetime.fromtimestamp(self.now(), UTC).isoformat()!r})"


class RealClock:
    """Real time, optionally sped up: demos and subprocess tests.

    With `speed=60`, one real second is one emulated minute, so a run of a few emulated
    minutes finishes in a couple of real seconds. Latency faults still wait in real time.

    Args:
        speed: how many emulated seconds pass per real second (> 0).
        start: the emulated time at creation; default the real current time.
    """

    def __init__(self, *, speed: float = 1.0, start: datetime | float | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be greater than 0, got {speed!r}")
        self.speed = float(speed)
        self._start = _epoch(start, time.time())
        self._t0 = time.monotonic()

    def now(self) -> float:
        """The emulated time: the start plus the real time elapsed times `speed`."""
        return self._start + (time.monotonic() - self._t0) * self.speed

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of real time."""
        await anyio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return f"RealClock(speed={self.speed!r})"
