"""A stand-in for Dagster (see tests/sync/fakes/README.md): `@asset`, `materialize` and the
types the recipe returns or raises."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Every materialization's result, for the test to read.
MATERIALIZED: list[ExecuteInProcessResult] = []


class Failure(Exception):  # noqa: N818 (Dagster's own name)
    """An op or asset that failed, with a description and metadata for the UI."""

    def __init__(self, description: str | None = None, metadata: dict[str, Any] | None = None):
        super().__init__(description)
        self.description = description
        self.metadata = metadata or {}


@dataclass(frozen=True)
class _Value:
    kind: str
    value: Any


class MetadataValue:
    """Typed metadata values."""

    @staticmethod
    def url(value: str) -> _Value:
        if not isinstance(value, str):
            raise TypeError(f"MetadataValue.url takes a str, got {value!r}")
        return _Value("url", value)

    @staticmethod
    def json(value: Any) -> _Value:
        return _Value("json", value)


@dataclass
class MaterializeResult:
    """What an asset returns: its metadata."""

    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class AssetExecutionContext:
    """What an asset is given: the run's id and a logger."""

    run_id: str
    log: logging.Logger


@dataclass
class ExecuteInProcessResult:
    """The outcome of `materialize`: success, and each asset's result by name."""

    success: bool
    results: dict[str, Any]


def asset(function: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    if function is None:
        return lambda f: f
    return function


class Definitions:
    """The code location's definitions."""

    def __init__(self, assets: Sequence[Callable[..., Any]] = ()) -> None:
        self.assets = list(assets)


def materialize(
    assets: Sequence[Callable[..., Any]], raise_on_error: bool = True
) -> ExecuteInProcessResult:
    """Materialize `assets` in this process, in order (as dagster's `materialize` does)."""
    context = AssetExecutionContext(str(uuid.uuid4()), logging.getLogger("dagster"))
    results: dict[str, Any] = {}
    success = True
    for each in assets:
        try:
            results[each.__name__] = each(context)
        except Exception:
            success = False
            if raise_on_error:
                raise
    outcome = ExecuteInProcessResult(success, results)
    MATERIALIZED.append(outcome)
    return outcome
