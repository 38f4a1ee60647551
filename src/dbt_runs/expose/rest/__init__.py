"""The REST adapter: the seed's `/v1` runs surface in front of dbt Cloud.

`create_app(client)` returns a Starlette app serving:

| method | path under `/v1/accounts/{accountid}` | calls |
|---|---|---|
| POST | `/jobs/{jobid}/run` | `trigger_run` |
| GET | `/runs` | `list_runs` (one page, `Link` to the next) |
| GET | `/runs/{runid}` | `get_run` |
| GET | `/runs/{runid}/artifacts` | `list_run_artifacts` |
| GET | `/runs/{runid}/artifacts/{path}` | extension: `stream_run_artifact` |
| POST | `/runs/{runid}/cancel` | extension: `cancel_run` |
| POST | `/runs/{runid}/retry` | extension: `retry_run` |
| GET | `/runs/{runid}/errors` | extension: `get_run_errors` (the adapter's own JSON) |
| GET | `/jobs` | extension: `list_jobs` (one page, `Link` to the next) |
| GET | `/jobs/{jobid}` | extension: `get_job` |
| GET | `/jobs/{jobid}/artifacts/{path}` | extension: `get_job_artifact` |
| POST | `/jobs/{jobid}/rerun` | extension: `rerun_job` |

plus `GET /openapi.json` (the OpenAPI 3.1 document) and `GET /healthz` (liveness), and, with
`create_app(..., webhooks=receiver)`, `POST /v1/webhooks/dbt` for dbt Cloud's webhook
deliveries (`dbt_runs.expose.webhooks`: authenticated by dbt's signature, not by a token).

Bodies and statuses are dbt's own, byte for byte (but for `/errors`, whose `data` is the
SDK's `as_json`); the adapter validates inputs first and answers its own errors (400, 404,
405, 409, 413, 415, 502, 504) in dbt's envelope shape.
`dbt-runs serve` runs it on port 8080. See docs/rest.md.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by the core-only install
    raise ImportError(
        'dbt_runs.expose.rest needs the server extra: pip install "dbt-runs[server]"'
    ) from exc

import warnings
from typing import Any

from dbt_runs.expose.rest._app import create_app
from dbt_runs.expose.rest._routes import DEFAULT_CAUSE, ROUTES, Route

__all__ = ["DEFAULT_CAUSE", "ROUTES", "Route", "create_app"]

_RENAMED = {"OPERATIONS": "ROUTES", "Operation": "Route"}


def __getattr__(name: str) -> Any:
    # Renamed when the routes came to be built from the client's operations.
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(
            f"dbt_runs.expose.rest.{name} is deprecated; use {new}",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
