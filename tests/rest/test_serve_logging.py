"""What `dbt-runs serve` logs: every record once, in one format, on stderr, no token in it.

uvicorn, the MCP SDK and httpx each set up or use logging in their own way; these tests run the
real command at debug level (where httpx and httpcore log every upstream exchange), put both
tokens where log records pick them up (URLs, tool arguments) and read every byte printed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from dbt_runs.cli._logging import RedactingFormatter, configure_logging, records_from
from dbt_runs.expose._security import SERVER_TOKEN_ENV
from dbt_runs.testing import Emulator

from .serve_support import BOUNDED, ServeProcess

DBT_TOKEN = "dbtc_logging-test-SECRET-3b9f2e"
SERVER_TOKEN = "inbound-logging-test-SECRET-71ac"
LOG_LINE = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL):  (\[(rest|mcp|emulator)\] )?[\w.]+: ")
# Loggers whose every record in the scenario below is distinct; library debug chatter such as
# httpcore's "response_closed.started" legitimately repeats once per upstream request.
DISTINCT = re.compile(r"\w+:  (\[\w+\] )?(dbt_runs|uvicorn\.error|uvicorn\.access|httpx): ")


@pytest.fixture
def upstream() -> Iterator[Emulator]:
    emulator = Emulator(token=DBT_TOKEN, runs=5)
    with emulator.serve_in_thread() as server:
        emulator.base_url = server.base_url  # type: ignore[attr-defined]
        yield emulator


def rpc(name: str, arguments: dict[str, object]) -> dict[str, object]:
    call = {"name": name, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}


@pytest.mark.slow
def test_serve_at_debug_prints_each_record_once_and_no_token(upstream: Emulator) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env |= {
        "DBT_API_KEY": DBT_TOKEN,
        "DBT_CLOUD_BASE_URL": upstream.base_url,  # type: ignore[attr-defined]
        "DBT_CLOUD_ACCOUNT_ID": str(upstream.account_id),
        SERVER_TOKEN_ENV: SERVER_TOKEN,
    }
    run_id = upstream.runs()[-1].id
    auth = {"Authorization": f"Bearer {SERVER_TOKEN}"}
    args = ("--rest-port", "0", "--mcp-port", "0", "--log-level", "debug")
    with ServeProcess(*args, env=env) as serve:
        rest = serve.wait_for(r"REST adapter at (http://127\.0\.0\.1:\d+)/v1").group(1)
        mcp = serve.wait_for(r"MCP server at (http://127\.0\.0\.1:\d+/mcp)").group(1)
        with httpx.Client(base_url=rest, timeout=BOUNDED) as http:
            # Each token in a URL: the access log, the client's own debug line, httpx's
            # request line and (upstream) the emulator's access log all print URLs.
            assert http.get(f"/healthz?probe={SERVER_TOKEN}").status_code == 400
            assert http.get(f"/v1/accounts/1/runs?probe={DBT_TOKEN}").status_code == 401
            triggered = http.post("/v1/accounts/1/jobs/1/run", headers=auth)
            assert triggered.status_code == 200
            artifact = f"/v1/accounts/1/runs/{run_id}/artifacts/{DBT_TOKEN}.json"
            assert http.get(artifact, headers=auth).status_code == 404
            called = http.post(
                mcp,
                headers=auth,
                json=rpc("get-run-artifact", {"runId": run_id, "path": f"{SERVER_TOKEN}.json"}),
            )
            assert called.json()["result"]["isError"] is True
            refused = http.post(f"{mcp}?probe={DBT_TOKEN}", json=rpc("list-runs", {}))
            assert refused.status_code == 401
        assert serve.stop() == 0

    printed = "".join(serve.stdout + serve.stderr)
    assert DBT_TOKEN not in printed
    assert SERVER_TOKEN not in printed
    assert serve.stdout == []  # access lines too go to stderr: stdout is MCP's under --stdio
    lines = [line.rstrip("\n") for line in serve.stderr if line.strip()]
    logged = [line for line in lines if not line.startswith("dbt-runs serve: ")]
    # One format: one handler. A second one (the MCP SDK's rich handler, uvicorn's own) would
    # print its copy of each record in its own format.
    assert [line for line in logged if not LOG_LINE.match(line)] == []
    # The tokens were there to blank out, from every kind of logger that saw them.
    redacted = {LOG_LINE.match(line).group(0).split()[-1] for line in logged if "***" in line}  # type: ignore[union-attr]
    assert {"uvicorn.access:", "httpx:"} <= redacted
    assert any("/healthz?probe=*** " in line for line in logged)
    # Each record once: no handler prints a second copy in the same format either.
    distinct = [line for line in logged if DISTINCT.match(line)]
    assert len(distinct) >= 20
    assert [line for line, count in Counter(distinct).items() if count > 1] == []
    assert {"[rest]", "[mcp]"} <= {word for line in logged for word in line.split()}


# ---------------------------------------------------------------- the configuration itself


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put every logger back as it was: the configuration under test is process-wide."""
    manager = logging.Logger.manager
    loggers = [logging.getLogger(), *manager.loggerDict.values()]
    saved = {
        lg: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for lg in loggers
        if isinstance(lg, logging.Logger)
    }
    try:
        yield
    finally:
        for lg in [logging.getLogger(), *manager.loggerDict.values()]:
            if isinstance(lg, logging.Logger):
                level, handlers, propagate, disabled = saved.get(lg, (0, [], True, False))
                lg.setLevel(level)
                lg.handlers[:] = handlers
                lg.propagate = propagate
                lg.disabled = disabled


def printing_handlers() -> list[tuple[str, logging.Handler]]:
    """Every handler on every logger, but the `NullHandler`s libraries add (they print nothing)."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    return [
        (lg.name, h)
        for lg in loggers
        if isinstance(lg, logging.Logger)
        for h in lg.handlers
        if not isinstance(h, logging.NullHandler)
    ]


@pytest.mark.anyio
@pytest.mark.usefixtures("restored_logging")
async def test_after_the_libraries_configure_logging_one_redacting_handler_remains(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import uvicorn

    from dbt_runs.expose.mcp import create_server

    emulator = Emulator()
    # What runs before serve configures logging: the emulator's server is built...
    uvicorn.Config(emulator.app, log_level="warning", access_log=False)
    configure_logging("info", [DBT_TOKEN, SERVER_TOKEN])
    # ... and what runs after: the MCP server (MCPServer calls basicConfig) and the adapters'
    # uvicorn servers, built as serve builds them.
    async with emulator.client() as client:
        create_server(client)
    uvicorn.Config(emulator.app, log_config=None)

    (only,) = printing_handlers()
    assert only[0] == "root"
    sources = ["", "dbt_runs", "mcp.server.lowlevel.server", "uvicorn.error", "uvicorn.access"]
    sources += ["httpx", "httpcore.http11", "asyncio"]
    for name in sources:
        try:
            raise RuntimeError(f"upstream said Bearer {DBT_TOKEN}")
        except RuntimeError:
            with records_from("rest"):
                logging.getLogger(name).exception(
                    "from %s: Authorization=Bearer %s", name or "root", SERVER_TOKEN
                )
    printed = capsys.readouterr()
    assert printed.out == ""
    assert DBT_TOKEN not in printed.err
    assert SERVER_TOKEN not in printed.err
    for name in sources:
        assert printed.err.count(f"from {name or 'root'}: Authorization=Bearer ***\n") == 1, name
    assert printed.err.count("RuntimeError: upstream said Bearer ***") == len(sources)


@pytest.mark.parametrize(
    ("level", "ours", "libraries"),
    [("info", "INFO", "WARNING"), ("debug", "DEBUG", "DEBUG"), ("error", "ERROR", "ERROR")],
)
@pytest.mark.usefixtures("restored_logging")
def test_libraries_log_warnings_unless_at_debug(level: str, ours: str, libraries: str) -> None:
    configure_logging(level, [])
    for name in ("dbt_runs", "uvicorn.error", "uvicorn.access"):
        assert logging.getLevelName(logging.getLogger(name).getEffectiveLevel()) == ours
    for name in ("mcp", "httpx", "httpcore", "asyncio"):
        assert logging.getLevelName(logging.getLogger(name).getEffectiveLevel()) == libraries


def test_the_formatter_blanks_secrets_wherever_they_are() -> None:
    formatter = RedactingFormatter("%(name)s %(message)s", ["dbtc_upstream_secret", None, ""])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "%s", (json.dumps({"t": "dbtc_upstream_secret"}),), None
    )
    handler.handle(record)
    assert stream.getvalue() == 'x {"t": "***"}\n'
