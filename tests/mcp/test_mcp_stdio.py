"""The MCP server over stdio, in a subprocess, as desktop clients launch it."""

from __future__ import annotations

import os
import sys
import textwrap

import anyio
import pytest

import mcp
from dbt_runs.expose.mcp import SEED_TOOLS
from dbt_runs.testing import Emulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# A tiny launcher: an emulator-bound client (manual clock, so waits are instant) behind
# run_stdio. Whatever it prints besides MCP messages would corrupt the stream, so nothing is.
SERVER = textwrap.dedent(
    """
    import anyio
    from dbt_runs.expose.mcp import run_stdio
    from dbt_runs.testing import Emulator

    async def main() -> None:
        emulator = Emulator(runs=5)
        async with emulator.client() as client:
            await run_stdio(client, read_only={read_only})

    anyio.run(main)
    """
)


def launcher(*, read_only: bool = False) -> mcp.StdioServerParameters:
    return mcp.StdioServerParameters(
        command=sys.executable, args=["-c", SERVER.format(read_only=read_only)]
    )


async def test_tools_are_listed_and_called_over_stdio() -> None:
    job_id = Emulator(runs=5).job_ids[0]
    progress: list[str | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    with anyio.fail_after(60):
        async with mcp.Client(launcher(), read_timeout_seconds=30) as session:
            listed = await session.list_tools()
            triggered = await session.call_tool("trigger-job-run", {"jobId": job_id})
            run_id = triggered.structured_content["data"]["id"]
            waited = await session.call_tool(
                "wait-for-run",
                {"runId": run_id, "timeout_seconds": 3600},
                progress_callback=on_progress,
            )
    assert set(SEED_TOOLS) <= {tool.name for tool in listed.tools}
    assert not triggered.is_error
    assert waited.structured_content["wait"]["outcome"] == "success"
    assert len(progress) == waited.structured_content["wait"]["polls"] >= 2


async def test_read_only_over_stdio() -> None:
    with anyio.fail_after(60):
        async with mcp.Client(launcher(read_only=True), read_timeout_seconds=30) as session:
            listed = await session.list_tools()
    names = {tool.name for tool in listed.tools}
    assert "trigger-job-run" not in names
    assert "cancel-run" not in names
    assert "get-run" in names


async def test_dbt_runs_serve_stdio_speaks_mcp() -> None:
    """`dbt-runs serve --only mcp --stdio`, the command the client snippets in the docs use."""
    emulator = Emulator(runs=5, token="serve-test-token")
    run_id = emulator.runs()[-1].id
    async with emulator.serve() as upstream:
        env = {
            **os.environ,
            "DBT_API_KEY": "serve-test-token",
            "DBT_CLOUD_BASE_URL": upstream.base_url,
            "DBT_CLOUD_ACCOUNT_ID": str(emulator.account_id),
        }
        command = mcp.StdioServerParameters(
            command=sys.executable,
            args=["-m", "dbt_runs", "serve", "--only", "mcp", "--stdio", "--read-only"],
            env=env,
        )
        with anyio.fail_after(60):
            async with mcp.Client(command, read_timeout_seconds=30) as session:
                listed = await session.list_tools()
                result = await session.call_tool("get-run", {"runId": run_id})
    assert "trigger-job-run" not in {tool.name for tool in listed.tools}
    assert not result.is_error
    assert result.structured_content["data"]["id"] == run_id
    assert "serve-test-token" not in result.content[0].text
