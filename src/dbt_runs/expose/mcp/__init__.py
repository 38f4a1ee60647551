"""The MCP server: dbt Cloud runs as tools for AI agents (port 9090 under `dbt-runs serve`).

The seed's four tools keep their names and hints: `trigger-job-run`, `list-runs`, `get-run`
and `list-run-artifacts`. The extensions go beyond it: `get-run-artifact` (inline content
under a size cap, or an outline to narrow with), `wait-for-run` (bounded, with progress
notifications), `get-run-errors` (why a run failed, compact for a model's context),
`cancel-run`, `retry-run`, `rerun-job` and `list-jobs`. `read_only=True` hides the tools that
change anything.

- [`create_server`][dbt_runs.expose.mcp.create_server]: the `MCPServer`, for in-process use
  (`mcp.Client(server)`) or your own transport.
- [`create_app`][dbt_runs.expose.mcp.create_app]: the ASGI app (Streamable HTTP at `/mcp`
  and `/`, stateless, with the shared bearer-token and Host/Origin guard).
- [`run_stdio`][dbt_runs.expose.mcp.run_stdio]: serve over stdio for desktop clients.

Example:
    ```python
    from dbt_runs import AsyncRunsClient
    from dbt_runs.expose.mcp import create_app

    client = AsyncRunsClient()          # DBT_API_KEY, DBT_CLOUD_ACCOUNT_ID from the environment
    app = create_app(client)            # uvicorn.run(app, host="127.0.0.1", port=9090)
    ```

Needs the MCP extra: `pip install "dbt-runs[mcp]"` (or `[server]`).
"""

from __future__ import annotations

try:
    import mcp.server.mcpserver  # noqa: F401
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by the core-only install check
    raise ImportError(
        "dbt_runs.expose.mcp needs the MCP server libraries: "
        'pip install "dbt-runs[mcp]" (or "dbt-runs[server]")'
    ) from exc

from dbt_runs.expose.mcp._extensions import ARTIFACT_INLINE_LIMIT, ARTIFACT_MAX_BYTES
from dbt_runs.expose.mcp._server import DEFAULT_CAUSE, SEED_TOOLS, WRITE_TOOLS, create_server
from dbt_runs.expose.mcp._transport import LOOPBACK_ONLY, MCP_PATHS, create_app, run_stdio

__all__ = [
    "ARTIFACT_INLINE_LIMIT",
    "ARTIFACT_MAX_BYTES",
    "DEFAULT_CAUSE",
    "LOOPBACK_ONLY",
    "MCP_PATHS",
    "SEED_TOOLS",
    "WRITE_TOOLS",
    "create_app",
    "create_server",
    "run_stdio",
]
