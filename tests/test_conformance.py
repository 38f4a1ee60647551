"""One table of good and bad inputs, through all four surfaces: SDK, REST, MCP and CLI.

Every surface must accept or refuse each input alike, and a refused input must never reach
dbt (the emulator's request log stays empty). "Accepted" means the request went to dbt,
whatever dbt then answered (a 404 for a run that does not exist is still an accepted input).

Some inputs cannot be written on some surfaces: a command line and a REST path or query carry
only text, so `"8"` and `8` are the same input there, and argv cannot hold a NUL. Those cells
are `SKIP`, each with the reason; every other cell is checked.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import quote, urlencode

import anyio
import click
import httpx
import pytest
from click.testing import CliRunner

import mcp
from dbt_runs import AsyncRunsClient, InvalidArgumentError
from dbt_runs import _operations as ops
from dbt_runs.cli import _build
from dbt_runs.expose.mcp import create_server
from dbt_runs.expose.rest import create_app
from dbt_runs.testing import Emulator, ManualClock

pytestmark = pytest.mark.anyio

TOKEN: Final = "dbtc_conformance_SECRET"
Surface = Literal["sdk", "rest", "mcp", "cli"]
SURFACES: Final[tuple[Surface, ...]] = ("sdk", "rest", "mcp", "cli")
SKIP: Final = "skip"
TEXT_ONLY: Final = "only text: a number and its digits are the same input here"


@dataclass(frozen=True)
class Case:
    """One input to one operation, and whether every surface must accept it."""

    operation: Literal["trigger", "get", "list", "artifact", "errors"]
    values: dict[str, Any]
    accepted: bool
    skip: dict[Surface, str] = field(default_factory=dict)

    def __str__(self) -> str:
        shown = json.dumps(self.values, ensure_ascii=True)
        return f"{self.operation}:{'ok' if self.accepted else 'bad'}:{shown[:60]}"


def ok(operation: Any, skip: dict[Surface, str] | None = None, **values: Any) -> Case:
    return Case(operation, values, True, skip or {})


def bad(operation: Any, skip: dict[Surface, str] | None = None, **values: Any) -> Case:
    return Case(operation, values, False, skip or {})


TEXT: Final[dict[Surface, str]] = {"rest": TEXT_ONLY, "cli": TEXT_ONLY}
CLI_TEXT: Final[dict[Surface, str]] = {"cli": TEXT_ONLY}
NO_NUL: Final[dict[Surface, str]] = {"cli": "argv cannot carry a NUL or a lone surrogate"}
OWN_INCLUDE: Final[dict[Surface, str]] = {"cli": "runs list embeds what its table shows itself"}


def _cli_has(command: str, flag: str | None = None) -> bool:
    """Whether `dbt-runs runs <command> [<flag>]` exists in this tree."""
    root = _build()
    ctx = click.Context(root)
    runs = root.get_command(ctx, "runs")
    assert isinstance(runs, click.Group)
    found = runs.get_command(ctx, command)
    return found is not None and (flag is None or any(flag in p.opts for p in found.params))


# The CLI's flags for these are being added in branch cli12; their cells are checked as soon
# as the flags exist.
IF_RUNNING_CLI: Final[dict[Surface, str]] = (
    {} if _cli_has("trigger", "--if-running") else {"cli": "flag added in cli12"}
)
ERRORS_CLI: Final[dict[Surface, str]] = (
    {} if _cli_has("errors") else {"cli": "runs errors added in cli12"}
)

CASES: Final = [
    # -- trigger fields (REST: the JSON body, so types are real there)
    ok("trigger", cause="nightly"),
    ok("trigger", cause="x" * 255),
    ok("trigger", git_branch="feature/x", git_sha="abc123"),
    ok("trigger", schema_override="pr_7", dbt_version_override="1.9", target_name_override="ci"),
    ok("trigger", threads_override=4),
    ok("trigger", threads_override=4.0),
    ok("trigger", timeout_seconds_override=0),
    ok("trigger", generate_docs_override=False),
    ok("trigger", steps_override=["dbt seed", "dbt build --select orders+"]),
    ok("trigger", github_pull_request_id=2**63 - 1),
    bad("trigger", cause=""),
    bad("trigger", cause="   "),
    bad("trigger", cause="x" * 256),
    bad("trigger", cause="a\x00b", skip=NO_NUL),
    bad("trigger", cause="lone \ud800", skip=NO_NUL),
    bad("trigger", git_branch=""),
    bad("trigger", schema_override=3, skip=CLI_TEXT),
    bad("trigger", threads_override="8", skip=CLI_TEXT),
    bad("trigger", threads_override=True, skip=CLI_TEXT),
    bad("trigger", threads_override=4.5),
    bad("trigger", threads_override=0),
    bad("trigger", threads_override=2**63),
    bad("trigger", timeout_seconds_override=-1),
    bad("trigger", generate_docs_override="yes", skip=CLI_TEXT),
    bad("trigger", generate_docs_override=1, skip=CLI_TEXT),
    bad("trigger", steps_override=["rm -rf /"]),
    bad("trigger", steps_override=["dbt build", ""]),
    bad("trigger", steps_override=["dbt build"] * 51),
    bad("trigger", steps_override="dbt build", skip=CLI_TEXT),
    bad("trigger", steps_override='["dbt build"]', skip=CLI_TEXT),
    bad("trigger", github_pull_request_id=-1),
    bad("trigger", git_brnch="main"),
    # -- a run id in the path
    ok("get", run_id=2**63 - 1),
    bad("get", run_id=0),
    bad("get", run_id=-1),
    bad("get", run_id=2**63),
    bad("get", run_id="5", skip=TEXT),
    bad("get", run_id=True, skip=TEXT),
    bad("get", run_id=5.5),
    # -- list filters (REST: the query string, text only)
    ok("list", status="error"),
    ok("list", status=20),
    ok("list", status=10.0),
    bad("list", status=10.5),
    ok("list", status=[10, 20]),
    ok("list", status=["success", 30]),
    ok("list", order_by="-finished_at"),
    ok("list", job_definition_id=1),
    ok("list", project_id=[1, 2]),
    ok("list", created_after="2026-01-01T00:00:00Z"),
    ok("list", include_related=["trigger", "job"], skip=OWN_INCLUDE),
    ok("list", include_related="trigger,job", skip={**OWN_INCLUDE, **TEXT}),
    bad("list", status=40),
    bad("list", status="done"),
    bad("list", status=[], skip={"cli": "an empty list is no flag at all"}),
    bad("list", status=True, skip=TEXT),
    bad("list", order_by="name"),
    bad("list", job_definition_id=0),
    bad("list", job_definition_id=2**63),
    bad("list", job_definition_id="1", skip=TEXT),
    bad("list", created_after="yesterday"),
    bad("list", created_after="2026-01-01"),
    bad("list", project_id=[1, 0]),
    bad("list", include_related=["run_steps"], skip=OWN_INCLUDE),
    bad("list", include_related="trigger,nope", skip={**OWN_INCLUDE, **TEXT}),
    # -- an artifact path
    ok("artifact", path="run_results.json"),
    ok("artifact", path="compiled/shop/models/a b.sql"),
    bad("artifact", path="../etc/passwd"),
    bad("artifact", path="a/./b.json"),
    bad("artifact", path="/etc/passwd"),
    bad("artifact", path="a\\b.json"),
    bad("artifact", path="a\x00b.json", skip=NO_NUL),
    bad("artifact", path="a" * 1025),
    bad("artifact", path=3, skip=TEXT),
    # -- if_running: an option the client acts on itself (REST: the trigger's query string)
    ok("trigger", if_running="queue", skip=IF_RUNNING_CLI),
    ok("trigger", if_running="reuse", skip=IF_RUNNING_CLI),
    ok("trigger", if_running="fail", skip=IF_RUNNING_CLI),  # the job is busy: dbt was asked
    ok("trigger", if_running="reuse", cause="nightly", skip=IF_RUNNING_CLI),
    bad("trigger", if_running="later", skip=IF_RUNNING_CLI),
    bad("trigger", if_running="REUSE", skip=IF_RUNNING_CLI),
    bad("trigger", if_running="", skip=IF_RUNNING_CLI),
    bad("trigger", if_running=1, skip={**IF_RUNNING_CLI, **TEXT}),
    bad("trigger", if_running="reuse", threads_override=0, skip=IF_RUNNING_CLI),
    # -- why a run failed (REST: the query string, text only)
    ok("errors", include_warnings=True, skip=ERRORS_CLI),
    ok("errors", include_warnings=False, skip=ERRORS_CLI),
    ok("errors", log_lines=0, skip=ERRORS_CLI),
    ok("errors", log_lines=1000, include_warnings=True, skip=ERRORS_CLI),
    ok("errors", log_lines=5.0, skip={**ERRORS_CLI, **TEXT}),
    bad("errors", log_lines=1001, skip=ERRORS_CLI),
    bad("errors", log_lines=-1, skip=ERRORS_CLI),
    bad("errors", log_lines=2.5, skip=ERRORS_CLI),
    bad("errors", log_lines="5", skip={**ERRORS_CLI, **TEXT}),
    bad("errors", log_lines=True, skip={**ERRORS_CLI, **TEXT}),
    bad("errors", include_warnings="yes", skip=ERRORS_CLI),
    bad("errors", include_warnings=1, skip={**ERRORS_CLI, **TEXT}),
    bad("errors", include_warnings="true", skip={**ERRORS_CLI, **TEXT}),
]

# The seed spells ids in camelCase on MCP; the CLI names two filters its own way.
MCP_NAMES: Final = {"run_id": "runId", "job_id": "jobId"}
CLI_FLAGS: Final = {"job_definition_id": "--job", "project_id": "--project"}


@dataclass
class World:
    """The emulator, and the four surfaces in front of it."""

    emulator: Emulator
    client: AsyncRunsClient
    rest: httpx.AsyncClient
    mcp: mcp.Client
    base_url: str
    run_id: int

    def sent(self) -> int:
        return len(self.emulator.requests)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(token=TOKEN, runs=10, clock=ManualClock())
    with emulator.serve_in_thread() as server:
        yield emulator, server.base_url


@pytest.fixture
async def world(served: tuple[Emulator, str]) -> AsyncIterator[World]:
    emulator, base_url = served
    async with (
        AsyncRunsClient(token=TOKEN, base_url=base_url, account_id=1) as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(client)), base_url="http://127.0.0.1"
        ) as rest,
        mcp.Client(create_server(client)) as session,
    ):
        run_id = next(r.id for r in emulator.runs() if r.status == 10)
        yield World(emulator, client, rest, session, base_url, run_id)


# -- each surface, one operation at a time: True when the input went to dbt ---------------------


async def via_sdk(world: World, case: Case) -> bool:
    values = dict(case.values)
    try:
        if case.operation == "trigger":
            await world.client.trigger_run(1, **values)
        elif case.operation == "get":
            await world.client.get_run(values["run_id"])
        elif case.operation == "list":
            await world.client.list_runs(**values, limit=1)
        elif case.operation == "errors":
            await world.client.get_run_errors(world.run_id, **values)
        else:
            await world.client.get_run_artifact(world.run_id, values["path"])
    except (InvalidArgumentError, TypeError):
        return False
    except Exception:  # dbt's answer (a 404 ...): the input was accepted
        return True
    return True


async def via_rest(world: World, case: Case) -> bool:
    values = case.values
    if case.operation == "trigger":
        # The options the client acts on itself (`if_running`) travel in the query.
        options = {field.name for field in ops.TRIGGER_RUN.options}
        query = _query({k: v for k, v in values.items() if k in options})
        body = {k: v for k, v in values.items() if k not in options}
        response = await world.rest.post(f"/v1/accounts/1/jobs/1/run?{query}", content=_json(body))
    elif case.operation == "errors":
        response = await world.rest.get(
            f"/v1/accounts/1/runs/{world.run_id}/errors?{_query(values)}"
        )
    elif case.operation == "get":
        response = await world.rest.get(f"/v1/accounts/1/runs/{values['run_id']}")
    elif case.operation == "list":
        response = await world.rest.get(f"/v1/accounts/1/runs?{_query(values)}&limit=1")
    else:
        path = "/".join(_segment(part) for part in str(values["path"]).split("/"))
        response = await world.rest.get(f"/v1/accounts/1/runs/{world.run_id}/artifacts/{path}")
    if response.status_code == 400:
        assert response.json()["data"], response.text  # the bad input is named
        return False
    assert response.status_code != 500, response.text
    return True


def _json(values: dict[str, Any]) -> bytes:
    # json.dumps keeps a lone surrogate as the escape `\ud800`, which Python reads back as one.
    return json.dumps(values).encode()


def _segment(part: str) -> str:
    # Keep `.` and `..` from being resolved away by the HTTP client before they reach us.
    return "%2E" * len(part) if part in (".", "..") else quote(part, safe="")


def _query(values: dict[str, Any]) -> str:
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        if name == "created_after":
            pairs.append(("created_at__range", json.dumps([value, "2100-01-01T00:00:00Z"])))
        elif isinstance(value, list):
            # dbt's names: the list form of `status` is `status__in`; others take the list.
            many = f"{name}__in" if name in ("status", "project_id") else name
            pairs.append((many, json.dumps(value)))
        else:
            pairs.append((name, str(value).lower() if isinstance(value, bool) else str(value)))
    return urlencode(pairs)


async def via_mcp(world: World, case: Case) -> bool:
    args = {MCP_NAMES.get(name, name): value for name, value in case.values.items()}
    tool = {
        "trigger": "trigger-job-run",
        "get": "get-run",
        "list": "list-runs",
        "artifact": "get-run-artifact",
        "errors": "get-run-errors",
    }[case.operation]
    if case.operation == "trigger":
        args["jobId"] = 1
    elif case.operation in ("artifact", "errors"):
        args["runId"] = world.run_id
    elif case.operation == "list":
        args["limit"] = 1
    before = world.sent()
    result = await world.mcp.call_tool(tool, args)
    reached = world.sent() > before
    if result.is_error and not reached:
        text = result.content[0].text if result.content else ""
        assert "Invalid arguments" in text or "must" in text, text
    return reached


async def via_cli(world: World, case: Case) -> bool:
    env: dict[str, str | None] = {
        "DBT_API_KEY": TOKEN,
        "DBT_CLOUD_BASE_URL": world.base_url,
        "DBT_CLOUD_HOST": None,
        "DBT_CLOUD_ACCOUNT_ID": "1",
    }
    args = _cli_args(world, case)
    # The command runs its own event loop: give it a thread of its own, as a shell would.
    result = await anyio.to_thread.run_sync(lambda: CliRunner().invoke(_build(), args, env=env))
    if result.exit_code == 2:
        return False
    # 6: `--if-running fail` met a busy job, after asking dbt (the input was accepted).
    assert result.exit_code in (0, 5, 6), (result.exit_code, result.stderr)
    return True


def _cli_args(world: World, case: Case) -> list[str]:
    values = case.values
    if case.operation == "get":
        return ["runs", "get", "--", str(values["run_id"])]
    if case.operation == "artifact":
        return ["artifacts", "download", str(world.run_id), str(values["path"]), "-o", "-"]
    args = {
        "trigger": ["runs", "trigger", "1", "-q"],
        "errors": ["runs", "errors", str(world.run_id)],
    }.get(case.operation, ["runs", "list"])
    for name, value in values.items():
        flag = CLI_FLAGS.get(name, "--" + name.replace("_", "-"))
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + flag.removeprefix("--"))
        elif isinstance(value, list):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


SEND: Final[dict[Surface, Callable[..., Any]]] = {
    "sdk": via_sdk,
    "rest": via_rest,
    "mcp": via_mcp,
    "cli": via_cli,
}


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_every_surface_decides_alike(world: World, case: Case) -> None:
    decided: dict[str, bool] = {}
    for surface in SURFACES:
        if surface in case.skip:
            continue
        world.emulator.clear_requests()
        send = SEND[surface]
        accepted = await send(world, case)
        reached = world.sent() > 0
        assert reached == accepted, f"{surface}: decided {accepted} but dbt saw {reached}"
        decided[surface] = accepted
    assert decided == dict.fromkeys(decided, case.accepted), decided


def test_the_table_covers_every_kind_of_field() -> None:
    from dbt_runs import _fields

    declared = (*_fields.TRIGGER_FIELDS, *_fields.LIST_FILTERS, _fields.RUN_ID)
    covered = {name for case in CASES for name in case.values}
    kinds = {type(field) for field in declared}
    covered_kinds = {type(item) for item in declared if item.name in covered}
    assert kinds <= covered_kinds, kinds - covered_kinds
    for item in _fields.TRIGGER_FIELDS:
        if not item.name.endswith("_request_id"):
            assert item.name in covered, item.name
    # The options and the inputs of get_run_errors, each with good and bad values.
    for name in ("if_running", "include_warnings", "log_lines"):
        assert {case.accepted for case in CASES if name in case.values} == {True, False}, name
