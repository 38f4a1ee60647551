"""Serve dbt Cloud runs to other tools: the REST adapter and the MCP server.

- `dbt_runs.expose.rest`: `create_app(client)` returns the Starlette app of the REST adapter
  (the seed's `/v1` surface, port 8080 under `dbt-runs serve`).
- `dbt_runs.expose.mcp`: the MCP server (port 9090 under `dbt-runs serve`).
- `dbt_runs.expose.webhooks`: `create_webhook_app(hub)`, the receiver of dbt Cloud's webhook
  deliveries (`POST /v1/webhooks/dbt`), authenticated by dbt's signature alone.

Both need the server extra (`pip install "dbt-runs[server]"`); importing this package alone
imports no server library.
"""
