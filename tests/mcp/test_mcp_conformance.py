"""`tools/list` against the seed spec shipped in the repo: names, hints, arguments, schemas.

The seed is read from the package's own copy (`dbt_runs/_spec/...yaml`), never retyped here,
so a change to either side fails these tests.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml

import mcp
from dbt_runs import AsyncRunsClient
from dbt_runs import _operations as ops
from dbt_runs.expose.mcp import SEED_TOOLS, WRITE_TOOLS, create_server
from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio

EXTENSIONS = {
    # name: (readOnly, destructive, idempotent)
    "get-run-artifact": (True, False, True),
    "wait-for-run": (True, False, True),
    "get-run-errors": (True, False, True),
    "cancel-run": (False, True, True),
    "retry-run": (False, False, False),
    "rerun-job": (False, False, False),
    "list-jobs": (True, False, True),
}


OPERATIONS: dict[str, ops.Operation[Any]] = {
    # name: the dbt operation the tool performs
    "trigger-job-run": ops.TRIGGER_RUN,
    "list-runs": ops.LIST_RUNS,
    "get-run": ops.GET_RUN,
    "list-run-artifacts": ops.LIST_RUN_ARTIFACTS,
    "get-run-artifact": ops.GET_RUN_ARTIFACT,
    "wait-for-run": ops.GET_RUN,
    "get-run-errors": ops.GET_RUN,
    "cancel-run": ops.CANCEL_RUN,
    "retry-run": ops.RETRY_RUN,
    "rerun-job": ops.RERUN_JOB,
    "list-jobs": ops.LIST_JOBS,
}


def seed_mcp_expose() -> dict[str, Any]:
    text = (
        resources.files("dbt_runs")
        .joinpath("_spec/cloud-administrative-runs.yaml")
        .read_text(encoding="utf-8")
    )
    spec = yaml.safe_load(text)
    (expose,) = [e for e in spec["capability"]["exposes"] if e["type"] == "mcp"]
    return expose


SEED = seed_mcp_expose()
SEED_BY_NAME = {tool["name"]: tool for tool in SEED["tools"]}


async def list_tools(client: AsyncRunsClient, *, read_only: bool = False) -> dict[str, Any]:
    async with mcp.Client(create_server(client, read_only=read_only)) as session:
        listed = await session.list_tools()
    return {tool.name: tool.model_dump(by_alias=True, exclude_none=True) for tool in listed.tools}


def test_the_seed_still_describes_four_tools_on_port_9090() -> None:
    assert SEED["port"] == 9090
    assert SEED["transport"] == "http"
    assert tuple(SEED_BY_NAME) == SEED_TOOLS


async def test_every_seed_tool_is_listed_with_the_seed_hints(client: AsyncRunsClient) -> None:
    tools = await list_tools(client)
    for name, seed_tool in SEED_BY_NAME.items():
        annotations = tools[name]["annotations"]
        assert annotations["readOnlyHint"] is seed_tool["hints"]["readOnly"], name
        assert annotations["destructiveHint"] is seed_tool["hints"]["destructive"], name
        assert annotations["idempotentHint"] is seed_tool["hints"]["idempotent"], name
        assert annotations["openWorldHint"] is True, name


async def test_the_seed_arguments_are_integer_tool_arguments(client: AsyncRunsClient) -> None:
    tools = await list_tools(client)
    for name, seed_tool in SEED_BY_NAME.items():
        schema = tools[name]["inputSchema"]
        for argument, reference in seed_tool["with"].items():
            # The seed maps each argument from the tool's own (`tools.<name>`).
            assert reference == f"tools.{argument}"
            assert schema["properties"][argument]["type"] == "integer", (name, argument)
        # The ids that name what the tool acts on are required; the account may default.
        required = set(schema.get("required", []))
        assert required == set(seed_tool["with"]) - {"accountId"}, name


async def test_the_extensions_are_exactly_these_with_their_hints(client: AsyncRunsClient) -> None:
    tools = await list_tools(client)
    assert set(tools) == set(SEED_TOOLS) | set(EXTENSIONS)
    for name, (read_only, destructive, idempotent) in EXTENSIONS.items():
        annotations = tools[name]["annotations"]
        assert (
            annotations["readOnlyHint"],
            annotations["destructiveHint"],
            annotations["idempotentHint"],
            annotations["openWorldHint"],
        ) == (read_only, destructive, idempotent, True), name
        assert "(extension)" in tools[name]["title"]


async def test_every_tool_has_a_title_description_and_described_arguments(
    client: AsyncRunsClient,
) -> None:
    for name, tool in (await list_tools(client)).items():
        assert tool["title"] == tool["annotations"]["title"], name
        assert len(tool["description"]) > 80, name
        schema = tool["inputSchema"]
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        jsonschema.Draft202012Validator.check_schema(schema)
        for argument, prop in schema["properties"].items():
            assert prop.get("description"), (name, argument)
            # Optional arguments read as their plain type, not anyOf-with-null.
            assert {"type": "null"} not in prop.get("anyOf", []), (name, argument)
            assert "null" not in str(prop.get("type")), (name, argument)
            assert "title" not in prop, (name, argument)


async def test_every_tool_publishes_an_object_output_schema(client: AsyncRunsClient) -> None:
    for name, tool in (await list_tools(client)).items():
        output = tool["outputSchema"]
        assert output["type"] == "object", name
        jsonschema.Draft202012Validator.check_schema(output)


async def test_account_id_is_required_when_the_client_has_no_default_account(
    emulator: Emulator,
) -> None:
    async with emulator.client(account_id=None) as no_default:
        assert no_default.account_id is None
        tools = await list_tools(no_default)
    for name, tool in tools.items():
        assert "accountId" in tool["inputSchema"]["required"], name


async def test_read_only_hides_every_tool_that_changes_something(
    client: AsyncRunsClient,
) -> None:
    tools = await list_tools(client, read_only=True)
    assert set(tools) == (set(SEED_TOOLS) | set(EXTENSIONS)) - WRITE_TOOLS
    assert {"trigger-job-run", "cancel-run", "retry-run", "rerun-job"} == WRITE_TOOLS
    for tool in tools.values():
        assert tool["annotations"]["readOnlyHint"] is True


async def test_a_hidden_tool_cannot_be_called_in_read_only_mode(
    client: AsyncRunsClient, emulator: Emulator
) -> None:
    before = emulator.run_count
    async with mcp.Client(create_server(client, read_only=True)) as session:
        result = await session.call_tool("trigger-job-run", {"jobId": emulator.job_ids[0]})
    assert result.is_error
    assert result.content[0].text.startswith("Unknown tool: trigger-job-run; tools: list-runs")
    assert "cancel-run" not in result.content[0].text
    assert emulator.run_count == before


async def test_the_write_tools_are_those_whose_operation_changes_runs(
    client: AsyncRunsClient,
) -> None:
    tools = await list_tools(client)
    assert set(tools) == set(OPERATIONS)
    assert {name for name, op in OPERATIONS.items() if op.changes_runs} == WRITE_TOOLS
    for name, operation in OPERATIONS.items():
        annotations = tools[name]["annotations"]
        assert annotations["readOnlyHint"] is not operation.changes_runs, name
        assert annotations["idempotentHint"] is not operation.creates_run, name


def type_arrays(schema: Any, where: str = "") -> list[str]:
    """Where a schema spells a type as an array (`["string", "null"]`)."""
    if isinstance(schema, dict):
        found = [where] if isinstance(schema.get("type"), list) else []
        for key, value in schema.items():
            found += type_arrays(value, f"{where}/{key}")
        return found
    if isinstance(schema, list):
        return [hit for i, item in enumerate(schema) for hit in type_arrays(item, f"{where}/{i}")]
    return []


async def test_no_schema_spells_a_type_as_an_array(client: AsyncRunsClient) -> None:
    # Strict validators (ajv in strict mode) warn on type arrays; nullable is `anyOf` here.
    for name, tool in (await list_tools(client)).items():
        assert type_arrays(tool["inputSchema"]) == [], name
        assert type_arrays(tool["outputSchema"]) == [], name
