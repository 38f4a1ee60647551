"""The emulator's clocks: a manual one for deterministic tests, a real one with a speed factor.

The emulator never reads the system time directly. Every run's timeline (queued, starting,
running, finished) is computed from `clock.now()`, so a test moves runs forward by advancing a
`ManualClock`, and a demo makes a ten-minute run finish in a minute with `RealClock(speed=10)`.

Speed shortens runs; it never moves time. A `RealClock`'s `now()` is the real UTC time whatever
its speed, so every timestamp the emulator sends (`created_at`, `finished_at`...) and every
`created_at__range` it filters on agrees with the client's own clock, and reconciliation and
`created_after=` work after any uptime. Its speed divides the length of each phase of the runs
triggered under it instead: queue, "Starting", every step, the job's timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["DEFAULT_START", "Clock", "ManualClock", "RealClock", "speed_of"]

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

    `now()` is the time every timestamp is stamped with, in seconds since the epoch (UTC).
    `sleep()` waits for a span of *real* time that the emulator adds on purpose (latency, slow
    bodies): a manual clock advances itself instead of waiting, so tests with added latency
    stay instant.

    A clock may also have a `speed` attribute (as `RealClock` does): runs triggered while it
    reads N pass through their phases N times faster than nominal. Without one, runs take their
    nominal time.
    """

    def now(self) -> float:
        """The current time, in seconds since the epoch."""
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
    """Real time, with runs sped up: demos, notebooks and subprocess tests.

    `now()` is the real UTC time whatever the speed (moved by `start` if one is given, and
    never backwards). `speed` shortens the runs instead: with `speed=60` a run whose
    steps are nominally a few minutes long is queued, starts, runs and finishes within a few
    real seconds, and its timestamps say so. Latency faults and the rate limit's cooldown still
    wait in real time.

    Example:
        >>> clock = RealClock(speed=10)
        >>> abs(clock.now() - time.time()) < 1
        True

    Args:
        speed: how many times faster than nominal runs pass through their phases (> 0).
        start: the time `now()` reads at creation (an aware `datetime` or epoch seconds), from
            which it moves at the real rate; default the real current time.
        wall: where real time comes from, in epoch seconds (default `time.time`): tests pass
            a fake to move time without sleeping.
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        start: datetime | float | None = None,
        wall: Callable[[], float] | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be greater than 0, got {speed!r}")
        self.speed = float(speed)
        self._wall = wall if wall is not None else time.time
        real = self._wall()
        self._offset = _epoch(start, real) - real
        self._last = real + self._offset
        self._lock = threading.Lock()

    def now(self) -> float:
        """The real current time in epoch seconds (plus the offset `start` asked for)."""
        now = self._wall() + self._offset
        with self._lock:
            # A wall clock stepped back (NTP, a VM resumed) must not un-finish a finished run:
            # hold the latest time read until the wall clock passes it again.
            if now < self._last:
                return self._last
            self._last = now
            return now

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of real time."""
        await anyio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return f"RealClock(speed={self.speed!r})"


def speed_of(clock: Clock) -> float:
    """How many times faster than nominal runs pass under `clock` (its `speed`, default 1)."""
    speed = getattr(clock, "speed", 1.0)
    if not isinstance(speed, int | float) or isinstance(speed, bool) or not speed > 0:
        raise ValueError(f"a clock's speed must be a number greater than 0, got {speed!r}")
    return float(speed)
