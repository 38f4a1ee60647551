"""`RunsServer` and its wrapper `takes`: what every tool does around its one client call.

A tool is declared with the SDK's own decorator over `server.takes(...)`:

    @server.tool("get-run", **listed("Get a dbt Cloud run", GET_RUN))
    @server.takes(RUN_ID, optional=(INCLUDE_RELATED_RUN,))
    async def get_run(**args: Any) -> Annotated[Answer, RunBody]:
        # its docstring, the tool's description
        return await client.with_raw_response.get_run(**args)

`takes` names the tool's arguments by their `dbt_runs._fields` declarations and wraps the body:

- **arguments.** Each argument's JSON Schema is its field's `described_schema()` and the input
  schema is closed (`additionalProperties: false`). `RunsServer.call_tool` checks every call
  with the fields' own `validate` before `MCPServer` parses anything: its pydantic parsing is
  lax (`"8"` is 8 to it, `true` is 1) and its `pre_parse_json` reads JSON out of strings. All
  the problems come back in one tool error naming each argument, and nothing reaches dbt.
  `MCPServer` sees each argument typed `Any`, so its parsing can neither refuse nor change a
  value; the body receives the checked values, never the parsed ones.
- **account.** `accountId` may be left out only when the client has a default account.
- **errors.** A `DbtRunsError` becomes a tool error the model can act on.
- **results.** A `RawResponse` becomes dbt's body as `structuredContent` and as text
  (`passthrough`); a mapping becomes the structured content of a success.

The body's return annotation `Annotated[Answer, T]` names the type `T` of a successful result;
the tool `MCPServer` sees returns `Annotated[CallToolResult, T]`, from which the SDK derives
the tool's `outputSchema` and against which it checks every successful result.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeAlias, TypedDict

import attrs
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, Icon, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import WithJsonSchema

from dbt_runs._fields import ACCOUNT_ID, Field, FieldError
from dbt_runs._response import RawResponse
from dbt_runs.errors import (
    APIConnectionError,
    APIStatusError,
    DbtRunsError,
    RunInProgressError,
    TriggerOutcomeUnknownError,
)

if TYPE_CHECKING:
    from mcp_types import Tool as ListedTool

    from dbt_runs import AsyncRunsClient
    from dbt_runs._operations import Operation

__all__ = ["Answer", "RunsServer", "error", "listed", "passthrough"]

Answer: TypeAlias = RawResponse[Any] | CallToolResult | Mapping[str, Any]
"""What a tool body returns: dbt's response (passed through), a finished result, or the
structured content of a success."""

Body = Callable[..., Awaitable[Answer]]
ToolFn = Callable[..., Awaitable[CallToolResult]]

_NO_ACCOUNT: Final = (
    "accountId is required: this server has no default dbt Cloud account "
    "(start it with DBT_CLOUD_ACCOUNT_ID set to make accountId optional)"
)


# --- results ---------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    # Compact separators: whitespace is a third of pretty JSON and costs the model tokens.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _ok(structured: Mapping[str, Any], text: str | None = None) -> CallToolResult:
    """A success: `structured` as `structuredContent`, and as text (`text` if given)."""
    return CallToolResult(
        content=[TextContent(type="text", text=text if text is not None else _dumps(structured))],
        structured_content=dict(structured),
    )


def error(message: str, body: Any = None) -> CallToolResult:
    """A tool error: text only, with dbt's body after the message when there is one (why no
    `structuredContent`: see `dbt_runs.expose.mcp._server`)."""
    text = message if body is None else f"{message}\n{_dumps(body)}"
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def passthrough(
    raw: RawResponse[Any], shape: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
) -> CallToolResult:
    """dbt's 2xx body as the result: decoded for `structuredContent`, as received for text.

    `shape` reshapes the decoded body (the compact list view); the text then follows it.
    """
    try:
        body = raw.json()
    except ValueError:
        # dbt (or a proxy in front of it) answered 2xx with something that is not JSON.
        return error(
            f"dbt Cloud answered HTTP {raw.status_code} with a body that is not valid JSON "
            f"({len(raw.content)} bytes); try again"
        )
    if not isinstance(body, Mapping):
        return error(f"dbt Cloud answered HTTP {raw.status_code} without its JSON envelope")
    if shape is not None:
        return _ok(shape(body))
    try:
        text = raw.content.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return _ok(body, text)


def _result(answer: Answer) -> CallToolResult:
    if isinstance(answer, RawResponse):
        return passthrough(answer)
    if isinstance(answer, CallToolResult):
        return answer
    return _ok(answer)


def _failure(exc: DbtRunsError) -> CallToolResult:
    """Turn a client exception into the tool error a model can act on."""
    if isinstance(exc, APIStatusError):
        return error(f"dbt Cloud answered HTTP {exc.status_code}: {exc.message}", exc.body)
    if isinstance(exc, TriggerOutcomeUnknownError):
        # A trigger, retry or rerun: each starts another run if called again.
        where = f"job_definition_id={exc.job_id} and " if exc.job_id is not None else ""
        maybe = (
            f" Runs that may be it: {', '.join(map(str, exc.candidate_run_ids))}."
            if exc.candidate_run_ids
            else ""
        )
        return error(
            f"{exc} A run may have started. Do not trigger again before checking (nor retry "
            f"or rerun): call list-runs with {where}order_by '-id' to see whether the run "
            f"exists.{maybe}"
        )
    if isinstance(exc, RunInProgressError):
        return error(
            f"{exc}. Follow that run with wait-for-run (runId {exc.run.id}), or call again "
            "with if_running 'queue' to start another run behind it."
        )
    if isinstance(exc, APIConnectionError):
        return error(f"Could not reach dbt Cloud: {exc}")
    return error(str(exc))


# --- arguments -------------------------------------------------------------------------------


class _ArgumentsError(ValueError):
    """Arguments a tool refuses; the message lists each problem."""


@attrs.frozen
class _Inputs:
    """A tool's arguments: the fields it takes and the defaults it applies.

    Arguments are named `Field.mcp_name` on the wire and reach the tool body by `Field.name`
    (the SDK keyword). `None` (absent, or JSON null) means "not given", as in the SDK.
    """

    required: tuple[Field[Any], ...]
    optional: tuple[Field[Any], ...]
    defaults: Mapping[str, Any]

    @property
    def fields(self) -> tuple[Field[Any], ...]:
        return (*self.required, *self.optional)

    def check(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments checked and keyed by SDK keyword, with the defaults filled in.

        Raises:
            _ArgumentsError: Every problem at once: unknown, missing and refused arguments.
        """
        declared = {field.mcp_name: field for field in self.fields}
        problems: list[str] = []
        unknown = sorted(name for name in arguments if name not in declared)
        if unknown:
            problems.append(
                f"unknown argument(s) {', '.join(unknown)}; valid arguments: {', '.join(declared)}"
            )
        values = dict(self.defaults)
        for name, field in declared.items():
            value = arguments.get(name)
            if value is None:
                if field in self.required:
                    problems.append(f"{name} is required")
                continue
            try:
                values[field.name] = field.validate(value)
            except FieldError as exc:
                problems.append(f"{name} {exc}")
        if problems:
            raise _ArgumentsError("; ".join(problems))
        return values

    def schema(self, *, account_required: bool) -> dict[str, Any]:
        """The tool's input schema: each field's own, closed to anything else."""
        required = [field.mcp_name for field in self.required]
        if account_required:
            required.append(ACCOUNT_ID.mcp_name)
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {field.mcp_name: field.described_schema() for field in self.fields},
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        return schema

    def signature(self, output: type) -> inspect.Signature:
        """The signature `MCPServer` reads: one parameter per field, typed `Any` so that its
        parsing lets every value through as sent, with the field's schema for its own."""
        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
        arguments = [
            inspect.Parameter(
                field.mcp_name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[Any, WithJsonSchema(field.described_schema())],
                default=inspect.Parameter.empty if field in self.required else None,
            )
            for field in self.fields
        ]
        return inspect.Signature(
            [context, *arguments], return_annotation=Annotated[CallToolResult, output]
        )

    def described(self, doc: str) -> str:
        """A tool's description: its docstring, then the defaults it applies."""
        text = inspect.cleandoc(doc)
        shown = [
            f"{field.mcp_name} {json.dumps(self.defaults[field.name])}"
            for field in self.fields
            if field.name in self.defaults
        ]
        return f"{text}\nDefaults: {', '.join(shown)}." if shown else text


_CHECKED: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "dbt_runs_mcp_checked", default=None
)
"""The arguments of the call in progress as `RunsServer.call_tool` checked them."""


def _output_type(body: Body) -> type:
    """The answer type in a tool body's return annotation, `Annotated[Answer, T]`."""
    hint = typing.get_type_hints(body, include_extras=True).get("return")
    if typing.get_origin(hint) is not Annotated:
        raise TypeError(f"{body.__name__} must be annotated -> Annotated[Answer, <output type>]")
    output: type = typing.get_args(hint)[1]
    return output


class Listing(TypedDict):
    """`server.tool`'s `title` and `annotations`."""

    title: str
    annotations: ToolAnnotations


def listed(title: str, operation: Operation[Any], *, destructive: bool = False) -> Listing:
    """A tool's title and hints (`server.tool`'s arguments), the hints read from the dbt
    operation it performs: read-only unless it changes runs, idempotent unless it starts one."""
    return {
        "title": title,
        "annotations": ToolAnnotations(
            title=title,
            read_only_hint=not operation.changes_runs,
            destructive_hint=destructive,
            idempotent_hint=not operation.creates_run,
            # Every tool acts on dbt Cloud, a world outside this server.
            open_world_hint=True,
        ),
    }


class RunsServer(MCPServer[Any]):
    """`MCPServer` whose tools take `_fields` arguments, checked before the SDK parses them.

    `takes` is the wrapper every tool is declared with (under `server.tool`); the server keeps
    each tool's `_Inputs` to publish its input schema and check its calls.
    """

    def __init__(self, client: AsyncRunsClient, *, read_only: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._client = client
        self._read_only = read_only
        self._account_required = client.account_id is None
        self._declared: dict[ToolFn, _Inputs] = {}  # made by `takes`, not added yet
        # Every tool added, by name, with its arguments (None: not declared with `takes`).
        self._inputs: dict[str, _Inputs | None] = {}

    def takes(
        self,
        *required: Field[Any],
        optional: Sequence[Field[Any]] = (),
        defaults: Mapping[str, Any] | None = None,
    ) -> Callable[[Body], ToolFn]:
        """Declare a tool's arguments and wrap its body in what every tool does.

        Args:
            required: The fields the tool cannot do without (the ids it acts on).
            optional: The other fields; `accountId` is added to every tool.
            defaults: Values for arguments not given, by `Field.name`.

        The body receives the checked arguments as keywords named `Field.name` (the SDK's
        names), and `ctx` if it asks for it. It returns an `Answer`; its return annotation
        `Annotated[Answer, T]` names the type `T` of a successful result.
        """
        inputs = _Inputs(required, (ACCOUNT_ID, *optional), defaults or {})

        def wrap(body: Body) -> ToolFn:
            output = _output_type(body)
            wants_context = "ctx" in inspect.signature(body).parameters

            @functools.wraps(body)
            async def tool(ctx: Context[Any, Any], **parsed: Any) -> CallToolResult:
                # What MCPServer parsed (`parsed`) is set aside for what `call_tool` checked
                # as the client sent it.
                values = _CHECKED.get()
                if values is None:
                    raise RuntimeError(f"{body.__name__}: arguments not checked by call_tool")
                if values.get("account_id") is None and self._account_required:
                    return error(_NO_ACCOUNT)
                try:
                    answer = await (body(ctx, **values) if wants_context else body(**values))
                except DbtRunsError as exc:
                    return _failure(exc)
                return _result(answer)

            signature = inputs.signature(output)
            tool.__signature__ = signature  # type: ignore[attr-defined]
            tool.__annotations__ = {
                **{name: p.annotation for name, p in signature.parameters.items()},
                "return": signature.return_annotation,
            }
            tool.__doc__ = inputs.described(body.__doc__ or "")
            self._declared[tool] = inputs
            return tool

        return wrap

    def add_tool(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> None:
        """Add a tool, unless the server is read-only and the tool changes runs."""
        inputs = self._declared.pop(fn, None)
        if self._read_only and annotations is not None and not annotations.read_only_hint:
            return
        super().add_tool(
            fn,
            name=name,
            title=title,
            description=description,
            annotations=annotations,
            icons=icons,
            meta=meta,
            structured_output=structured_output,
        )
        self._inputs[name or fn.__name__] = inputs

    async def list_tools(self) -> list[ListedTool]:
        """The tools, each with the input schema its fields declare."""
        return [
            tool.model_copy(
                update={"input_schema": inputs.schema(account_required=self._account_required)}
            )
            if (inputs := self._inputs.get(tool.name)) is not None
            else tool
            for tool in await super().list_tools()
        ]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Check the arguments as the client sent them, then call the tool."""
        if name not in self._inputs:
            # Read-only mode hides the write tools; say which tools there are instead.
            raise ToolError(f"Unknown tool: {name}; tools: {', '.join(self._inputs)}")
        inputs = self._inputs[name]
        if inputs is None:
            return await super().call_tool(name, arguments, context)
        try:
            values = inputs.check(arguments)
        except _ArgumentsError as exc:
            raise ToolError(f"Invalid arguments for {name}: {exc}") from None
        token = _CHECKED.set(values)
        try:
            return await super().call_tool(name, arguments, context)
        finally:
            _CHECKED.reset(token)
