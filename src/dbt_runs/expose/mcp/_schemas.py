"""The JSON Schemas the MCP tools advertise: argument types and the shape of each answer.

Argument types are `Annotated` aliases: pydantic (through `MCPServer`) turns them into each
tool's `inputSchema` and validates calls against them, so the schema a model reads and the
check its call meets cannot drift apart. Descriptions are written for a model choosing a tool
and filling its arguments: they say what a value means in dbt's words and when to use it.

Output schemas describe dbt's own JSON bodies (`{"status": ..., "data": ..., "extra": ...}`).
They are lenient on purpose: dbt adds fields over time and sends `null` where its spec says
nothing, and a client that validates `structuredContent` against a strict schema would reject
a perfectly good answer. Only the envelope keys are required; every run field is nullable and
unknown fields are allowed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

__all__ = [
    "ARTIFACT_LIST_OUTPUT",
    "ARTIFACT_OUTPUT",
    "COMPACT_RUN_FIELDS",
    "RUN_LIST_OUTPUT",
    "RUN_OUTPUT",
    "WAIT_OUTPUT",
    "clean_input_schema",
]

RUN_STATUS_TEXT = "1 Queued, 2 Starting, 3 Running, 10 Success, 20 Error, 30 Cancelled"

# --- arguments -------------------------------------------------------------------------------

AccountIdArg = Annotated[
    int | None,
    Field(
        ge=1,
        description=(
            "dbt Cloud account ID (the number after /accounts/ in dbt Cloud URLs). Optional "
            "when the server has a default account (DBT_CLOUD_ACCOUNT_ID)."
        ),
    ),
]
JobIdArg = Annotated[
    int,
    Field(ge=1, description="dbt Cloud job ID (the job definition to run), e.g. 42."),
]
RunIdArg = Annotated[
    int,
    Field(
        ge=1,
        description=("dbt Cloud run ID, as returned by trigger-job-run or list-runs (data[].id)."),
    ),
]

CauseArg = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=255,
        description=(
            "Why the run is triggered, shown in dbt Cloud's run history (1-255 characters). "
            "Default: 'Triggered by the dbt-runs MCP server'."
        ),
    ),
]
GitBranchArg = Annotated[
    str | None, Field(min_length=1, description="Run the job on this git branch instead.")
]
GitShaArg = Annotated[
    str | None, Field(min_length=1, description="Run the job at this git commit SHA.")
]


def _pull_request(what: str) -> Any:
    return Annotated[
        int | None,
        Field(ge=1, description=f"The {what} this CI run builds (its number)."),
    ]


GithubPullRequestArg = _pull_request("GitHub pull request")
GitlabMergeRequestArg = _pull_request("GitLab merge request")
AzurePullRequestArg = _pull_request("Azure DevOps pull request")
NonNativePullRequestArg = _pull_request("pull request (other git providers)")
SchemaOverrideArg = Annotated[
    str | None,
    Field(min_length=1, description="Build into this schema instead of the job's target schema."),
]
DbtVersionOverrideArg = Annotated[
    str | None, Field(min_length=1, description="Run with this dbt version, e.g. 'latest'.")
]
ThreadsOverrideArg = Annotated[
    int | None, Field(ge=1, description="Number of dbt threads for this run.")
]
TargetNameOverrideArg = Annotated[
    str | None, Field(min_length=1, description="dbt target name for this run.")
]
GenerateDocsOverrideArg = Annotated[
    bool | None, Field(description="Whether this run also generates docs.")
]
TimeoutSecondsOverrideArg = Annotated[
    int | None,
    Field(ge=0, description="dbt Cloud cancels the run after this many seconds (0: no limit)."),
]
StepsOverrideArg = Annotated[
    list[Annotated[str, Field(min_length=1)]] | None,
    Field(
        min_length=1,
        description=(
            "Replace the job's steps for this run with these full dbt commands, e.g. "
            "['dbt build --select orders+']."
        ),
    ),
]

LimitArg = Annotated[
    int,
    Field(
        ge=1,
        le=100,
        description=(
            "How many runs to return (1-100; default 10 to keep the answer small). "
            "extra.pagination.total_count says how many match in all."
        ),
    ),
]
OffsetArg = Annotated[
    int, Field(ge=0, description="How many matching runs to skip (for the next page).")
]
OrderByArg = Annotated[
    Literal["id", "-id", "created_at", "-created_at", "finished_at", "-finished_at"],
    Field(
        description=(
            "Sort order; a leading '-' sorts descending. Default '-id': most recent first "
            "(dbt's own default, 'id', would return the oldest runs first)."
        ),
    ),
]
JobDefinitionIdArg = Annotated[
    int | None, Field(ge=1, description="Only runs of this job (its job ID).")
]
RunStatusCode = Literal[1, 2, 3, 10, 20, 30]
StatusArg = Annotated[
    RunStatusCode | list[RunStatusCode] | None,
    Field(
        description=(
            f"Only runs with this status, or any of these statuses: {RUN_STATUS_TEXT}. "
            "E.g. 20 for failed runs, [1, 2, 3] for runs not finished yet."
        ),
    ),
]
EnvironmentIdArg = Annotated[
    int | None, Field(ge=1, description="Only runs in this dbt Cloud environment.")
]
ProjectIdArg = Annotated[
    int | None, Field(ge=1, description="Only runs of this dbt Cloud project.")
]
ViewArg = Annotated[
    Literal["compact", "full"],
    Field(
        description=(
            "'full' (default) returns each run exactly as dbt sends it; 'compact' keeps "
            "only the fields needed to pick a run (id, job, status, times, git branch, "
            "link), a third of the size: use it to scan many runs (e.g. limit 100)."
        ),
    ),
]
RunIncludeRelatedArg = Annotated[
    list[
        Literal[
            "trigger",
            "job",
            "environment",
            "repository",
            "run_steps",
            "run_retries",
            "used_repo_cache",
            "repo_cache_restore",
            "audit",
            "debug_logs",
        ]
    ]
    | None,
    Field(
        description=(
            "Related objects to embed in the run. 'run_steps' gives each step's status and "
            "logs (use it to see why a run failed); 'trigger' gives the cause and overrides. "
            "'debug_logs' makes the answer very large: avoid it unless asked."
        ),
    ),
]
ListIncludeRelatedArg = Annotated[
    list[Literal["trigger", "job"]] | None,
    Field(description="Related objects to embed in each run (grows the answer)."),
]
IncludeSqlArg = Annotated[
    bool,
    Field(
        description=(
            "false drops the compiled/ and run/ entries (one SQL file per model and test: "
            "thousands in a large project), keeping the JSON artifacts and logs. "
            "Default true: every path, as dbt lists them."
        ),
    ),
]
ArtifactPathArg = Annotated[
    str,
    Field(
        min_length=1,
        description=(
            "Artifact path relative to dbt's target/ directory, as listed by "
            "list-run-artifacts: 'run_results.json', 'manifest.json', 'sources.json', "
            "'catalog.json', 'compiled/<project>/models/x.sql'."
        ),
    ),
]
StepArg = Annotated[
    int | None,
    Field(
        ge=1,
        description=(
            "1-based index of the run step whose artifact you want. Without it dbt returns "
            "the LAST step's artifact, which is often 'dbt docs generate' and not the step "
            "that built or tested models: pass the step of the 'dbt build'/'dbt run' command "
            "(get-run with include_related=['run_steps'] lists the steps)."
        ),
    ),
]
PointerArg = Annotated[
    str,
    Field(
        description=(
            "JSON pointer (RFC 6901) selecting part of a JSON artifact: '/results' "
            "(run_results.json), '/metadata', '/nodes/model.my_project.orders', "
            "'/results/0'. Default '': the whole artifact."
        ),
    ),
]
FieldsArg = Annotated[
    list[Annotated[str, Field(min_length=1)]] | None,
    Field(
        min_length=1,
        description=(
            "Keep only these keys of the selected object, or of each object of the selected "
            "array, e.g. ['unique_id', 'status', 'message', 'execution_time'] with pointer "
            "'/results'."
        ),
    ),
]
WaitTimeoutArg = Annotated[
    float,
    Field(
        gt=0,
        le=3600,
        description=(
            "Give up waiting after this many seconds (default 50, at most 3600) and return "
            "the run's latest state; call again to keep waiting. Many MCP clients abandon a "
            "tool call after 60 s, so stay under that unless your client resets its timeout "
            "on progress notifications."
        ),
    ),
]
PollIntervalArg = Annotated[
    float,
    Field(
        ge=1,
        le=300,
        description="Seconds between two status checks (default 5, 1-300).",
    ),
]

# --- outputs ---------------------------------------------------------------------------------


def _nullable(kind: str | list[str], description: str | None = None) -> dict[str, Any]:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    schema: dict[str, Any] = {"type": [*kinds, "null"]}
    if description:
        schema["description"] = description
    return schema


_STATUS: dict[str, Any] = {
    "type": "object",
    "description": "dbt's response status: code (the HTTP status), is_success and messages.",
    "properties": {
        "code": {"type": "integer"},
        "is_success": {"type": "boolean"},
        "user_message": _nullable("string"),
        "developer_message": _nullable("string"),
    },
}

_RUN_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer", "description": "The run ID."},
    "account_id": _nullable("integer"),
    "project_id": _nullable("integer"),
    "environment_id": _nullable("integer"),
    "job_definition_id": _nullable("integer", "The job this run belongs to."),
    "trigger_id": _nullable("integer"),
    "status": _nullable("integer", f"Run status: {RUN_STATUS_TEXT}."),
    "status_humanized": _nullable("string", "The status in words, e.g. 'Success'."),
    "status_message": _nullable("string", "Why the run ended as it did, when dbt says."),
    "in_progress": _nullable("boolean"),
    "is_complete": _nullable("boolean"),
    "is_success": _nullable("boolean"),
    "is_error": _nullable("boolean"),
    "is_cancelled": _nullable("boolean"),
    "git_branch": _nullable("string"),
    "git_sha": _nullable("string"),
    "created_at": _nullable("string"),
    "started_at": _nullable("string"),
    "finished_at": _nullable("string"),
    "duration_humanized": _nullable("string"),
    "artifacts_saved": _nullable("boolean"),
    "href": _nullable("string", "The run's page in dbt Cloud."),
    "trigger": _nullable("object", "The trigger (cause, overrides), when included."),
    "job": _nullable("object", "The job definition, when included."),
    "run_steps": _nullable("array", "The run's steps, when include_related has run_steps."),
}

_RUN: dict[str, Any] = {
    "type": "object",
    "description": "A dbt Cloud run as dbt returns it (more fields than listed here).",
    "properties": _RUN_PROPERTIES,
}

COMPACT_RUN_FIELDS: tuple[str, ...] = (
    "id",
    "job_definition_id",
    "environment_id",
    "project_id",
    "status",
    "status_humanized",
    "status_message",
    "in_progress",
    "is_complete",
    "is_success",
    "git_branch",
    "created_at",
    "started_at",
    "finished_at",
    "duration_humanized",
    "artifacts_saved",
    "href",
    "trigger",
    "job",
)
"""The run fields `list-runs` keeps in its compact view (`trigger`/`job` only when included)."""

RUN_OUTPUT: dict[str, Any] = {
    "type": "object",
    "description": "dbt's response body: {status, data: the run}.",
    "properties": {"status": _STATUS, "data": _RUN},
    "required": ["status", "data"],
}

RUN_LIST_OUTPUT: dict[str, Any] = {
    "type": "object",
    "description": (
        "dbt's response body: {status, data: runs, extra: {filters, order_by, pagination}}. "
        "In the compact view each run keeps only the main fields."
    ),
    "properties": {
        "status": _STATUS,
        "data": {"type": "array", "items": _RUN},
        "extra": {
            "type": "object",
            "properties": {
                "filters": {"type": "object"},
                "order_by": _nullable("string"),
                "pagination": {
                    "type": "object",
                    "description": "count: runs in this page; total_count: runs matching.",
                    "properties": {
                        "count": {"type": "integer"},
                        "total_count": {"type": "integer"},
                    },
                },
            },
        },
    },
    "required": ["status", "data"],
}

ARTIFACT_LIST_OUTPUT: dict[str, Any] = {
    "type": "object",
    "description": (
        "dbt's response body: {status, data: artifact paths relative to target/}; data is "
        "null when the run saved no artifacts."
    ),
    "properties": {
        "status": _STATUS,
        "data": {"type": ["array", "null"], "items": {"type": "string"}},
    },
    "required": ["status", "data"],
}

ARTIFACT_OUTPUT: dict[str, Any] = {
    "type": "object",
    "description": (
        "One artifact, or the selected part of it. When it is too large to inline, content "
        "is absent and outline + hint say how to narrow the next call."
    ),
    "properties": {
        "run_id": {"type": "integer"},
        "path": {"type": "string"},
        "step": _nullable("integer", "The step asked for; null means dbt's last step."),
        "content_type": _nullable("string"),
        "size_bytes": {"type": "integer", "description": "Size of the whole artifact."},
        "pointer": {"type": "string"},
        "fields": _nullable("array"),
        "selected_bytes": {
            "type": "integer",
            "description": "Size of the selected value as compact JSON (or text).",
        },
        "inlined": {"type": "boolean", "description": "Whether content holds the value."},
        "content": {"description": "The selected JSON value, or the text of a text artifact."},
        "truncated": {"type": "boolean", "description": "True when text content was cut."},
        "outline": {"type": "object", "description": "The selected value's shape."},
        "hint": {"type": "string", "description": "How to narrow or fetch the artifact."},
    },
    "required": ["run_id", "path", "inlined"],
}

WAIT_OUTPUT: dict[str, Any] = {
    "type": "object",
    "description": (
        "data: the run as dbt last returned it; wait: how the wait ended. A run that "
        "finished with status Error or Cancelled is a normal answer, not a tool error."
    ),
    "properties": {
        "data": _RUN,
        "wait": {
            "type": "object",
            "properties": {
                "outcome": {
                    "type": "string",
                    "enum": ["success", "error", "cancelled", "timeout", "finished"],
                    "description": (
                        "'timeout': the run is still going, call again to wait more; "
                        "'finished': a status code dbt has not documented."
                    ),
                },
                "finished": {"type": "boolean"},
                "polls": {"type": "integer"},
                "waited_seconds": {"type": "number"},
                "message": {"type": "string"},
            },
            "required": ["outcome", "finished"],
        },
    },
    "required": ["data", "wait"],
}


# --- schema tidying ---------------------------------------------------------------------------


def clean_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Tidy a pydantic-made input schema into what a model reads best.

    pydantic spells an optional argument `{"anyOf": [X, {"type": "null"}], "default": null}`
    and titles every property after its Python name. Models read `X` more reliably; an
    optional argument is already conveyed by its absence from `required`. The meaning is
    unchanged: pydantic still accepts an explicit `null`, which means "not given".
    """
    cleaned = {key: value for key, value in schema.items() if key != "title"}
    properties = cleaned.get("properties", {})
    cleaned["properties"] = {name: _clean_property(prop) for name, prop in properties.items()}
    cleaned["additionalProperties"] = False
    return cleaned


def _clean_property(prop: dict[str, Any]) -> dict[str, Any]:
    prop = {key: value for key, value in prop.items() if key != "title"}
    options = prop.get("anyOf")
    if isinstance(options, list):
        non_null = [_clean_property(option) for option in options if option != {"type": "null"}]
        if len(non_null) == 1:
            merged = {key: value for key, value in prop.items() if key != "anyOf"}
            merged.update(non_null[0])
            prop = merged
        else:
            prop["anyOf"] = non_null
    if prop.get("default", ...) is None:
        del prop["default"]
    items = prop.get("items")
    if isinstance(items, dict):
        prop["items"] = _clean_property(items)
    return prop
