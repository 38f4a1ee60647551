"""Decoding dbt's JSON bodies: orjson when the `speedups` extra installed it, else `json`.

A listing of 10,000 runs decodes about 16 MB of JSON; orjson reads it in about two thirds
of the standard library's time. It is optional: without it, the standard library decodes
everything, and with it the answer is the same wherever it matters: a body orjson refuses
(NaN, a byte-order mark, UTF-16, a lone surrogate, nesting deeper than 1,024) is decoded
again by the standard library, so it is accepted or refused as it is without orjson. One
difference remains, outside anything dbt sends: an integer beyond 64 bits decodes as a float
(which the models then refuse where they expect an integer) instead of an int.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

__all__ = ["ACCELERATED", "loads"]


def _standard(content: bytes | str) -> Any:
    return json.loads(content)


try:
    # Not installed where the typecheck runs without extras: then mypy cannot see it.
    import orjson  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # the pure path: no speedups extra
    loads: Callable[[bytes | str], Any] = _standard
else:

    def _accelerated(content: bytes | str) -> Any:
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            return json.loads(content)

    loads = _accelerated

ACCELERATED: Final = loads is not _standard
"""True when orjson decodes (the `speedups` extra is installed)."""
