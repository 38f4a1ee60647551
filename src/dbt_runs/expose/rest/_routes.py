"""The REST adapter's routes: one line per operation it serves.

Each `Route` puts one of the client's operations (`dbt_runs._operations`) at a REST path. Its
inputs, their validation, the OpenAPI document and the handler all come from that operation,
so a route cannot exist without its documentation, and `--read-only` removes an operation
from both at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from dbt_runs import _fields as fields
from dbt_runs import _operations as ops
from dbt_runs._operations import Operation, Result
from dbt_runs.expose.rest._params import BodyReader, QueryParam, query_params

__all__ = ["DEFAULT_CAUSE", "ROUTES", "UNAUTHENTICATED_PATHS", "Route", "served_routes"]

DEFAULT_CAUSE: Final = "Triggered via the dbt-runs REST adapter"
"""The `cause` sent when a trigger's body gives none (dbt requires one)."""

_PASS = " The body and status are dbt's own, unchanged, for successes and for dbt's errors alike."

Meta = Literal["health", "openapi"]


@dataclass(frozen=True)
class Route:
    """One served route.

    Attributes:
        path: The REST path (`{accountid}`, `{runid}`... as the seed spells them; `{path}` is
            an artifact's remainder, which may hold `/`).
        operation_id: The seed's operation name (or the extension's).
        description: A paragraph for the OpenAPI document.
        operation: The client operation it serves (None for the adapter's own routes).
        extension: Beyond the seed's `rest` resources.
        meta: For the adapter's own routes: what they answer.
        defaults: Body values used when the caller leaves them out.
    """

    path: str
    operation_id: str
    description: str
    operation: Operation[Any] | None = None
    extension: bool = False
    meta: Meta | None = None
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        """The HTTP method."""
        return self.operation.method if self.operation is not None else "GET"

    @property
    def summary(self) -> str:
        """One line for the document."""
        if self.operation is None:
            return "Health check" if self.meta == "health" else "This document"
        return self.operation.summary + (" (extension)" if self.extension else "")

    @property
    def route_path(self) -> str:
        """The Starlette route path (the artifact remainder may contain slashes)."""
        return self.path.replace("{path}", "{path:path}")

    @property
    def path_fields(self) -> tuple[fields.Field[Any], ...]:
        """The path's inputs, account first."""
        if self.operation is None:
            return ()
        return (fields.ACCOUNT_ID, *self.operation.path_fields)

    @property
    def query(self) -> tuple[QueryParam, ...]:
        """The accepted query parameters."""
        return query_params(self.operation.query) if self.operation is not None else ()

    @property
    def body(self) -> BodyReader | None:
        """The JSON body's reader, for operations that take one."""
        if self.operation is None or not self.operation.body:
            return None
        return BodyReader(self.operation.body, self.defaults)

    @property
    def changes_runs(self) -> bool:
        """Whether it changes anything in dbt (hidden by `--read-only`)."""
        return self.operation is not None and self.operation.changes_runs

    @property
    def streams(self) -> bool:
        """Whether the body is a file streamed through rather than dbt's envelope."""
        return self.operation is not None and self.operation.result is Result.ARTIFACT


_ACCOUNT = "/v1/accounts/{accountid}"

ROUTES: Final[tuple[Route, ...]] = (
    Route(
        _ACCOUNT + "/jobs/{jobid}/run",
        "triggerjobrun",
        "Start a run of the job. The optional JSON body takes dbt's trigger fields; `cause` "
        "defaults to a fixed text, and carries a marker unique to the request "
        "(`[dbt-runs:...]`) by which a lost answer is reconciled. Never sent twice: one "
        "request starts at most one run." + _PASS,
        ops.TRIGGER_RUN,
        defaults={"cause": DEFAULT_CAUSE},
    ),
    Route(
        _ACCOUNT + "/runs",
        "listruns",
        "One page of the account's runs, with dbt's filters. A `Link: <...>; rel=\"next\"` "
        "header points at the next page while `offset + count < total_count`." + _PASS,
        ops.LIST_RUNS,
    ),
    Route(
        _ACCOUNT + "/runs/{runid}",
        "getrun",
        "The run, with the related objects asked for in `include_related`." + _PASS,
        ops.GET_RUN,
    ),
    Route(
        _ACCOUNT + "/runs/{runid}/artifacts",
        "listrunartifacts",
        "The paths of the run's artifacts (those of its last step; `data` may be null when "
        "there are none)." + _PASS,
        ops.LIST_RUN_ARTIFACTS,
    ),
    Route(
        _ACCOUNT + "/runs/{runid}/artifacts/{path}",
        "getrunartifact",
        "Extension beyond the seed. Streams the artifact file through in constant memory, "
        "with dbt's content type; the body is the raw file, not an envelope. Paths are "
        "relative to dbt's `target/`, e.g. `run_results.json`. Errors are JSON envelopes.",
        ops.GET_RUN_ARTIFACT,
        extension=True,
    ),
    Route(
        _ACCOUNT + "/runs/{runid}/cancel",
        "cancelrun",
        "Extension beyond the seed. Cancels the run; on a finished run it has no effect and "
        "dbt returns the run as it is." + _PASS,
        ops.CANCEL_RUN,
        extension=True,
    ),
    Route(
        "/healthz",
        "healthz",
        "Liveness of the adapter itself (does not call dbt Cloud). Needs no token.",
        meta="health",
    ),
    Route(
        "/openapi.json",
        "openapi",
        "The OpenAPI 3.1 description of exactly the routes this adapter serves.",
        meta="openapi",
    ),
)

UNAUTHENTICATED_PATHS: Final = ("/healthz",)


def served_routes(*, read_only: bool) -> tuple[Route, ...]:
    """The routes served in the given mode (`read_only` drops what changes a run)."""
    return tuple(route for route in ROUTES if not (read_only and route.changes_runs))
