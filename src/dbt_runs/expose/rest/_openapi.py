"""The OpenAPI 3.1 document of the REST adapter, generated from the served operations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dbt_runs import _fields as fields
from dbt_runs._operations import Result
from dbt_runs._version import __version__
from dbt_runs.expose._security import SERVER_TOKEN_ENV
from dbt_runs.expose.rest._routes import UNAUTHENTICATED_PATHS, Route

_REF = "#/components/schemas/"


def _envelope(data: dict[str, Any], *, page: bool = False) -> dict[str, Any]:
    """dbt's success envelope around `data`; a page of a listing also has `extra`."""
    properties = {"status": {"$ref": _REF + "Status"}, "data": data}
    if page:
        properties["extra"] = {"$ref": _REF + "ListExtra"}
    return {"type": "object", "required": ["status", "data"], "properties": properties}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


_SCHEMAS: dict[str, Any] = {
    "Status": {
        "type": "object",
        "description": "dbt's response status; `code` equals the HTTP status.",
        "required": ["code", "is_success"],
        "properties": {
            "code": {"type": "integer"},
            "is_success": {"type": "boolean"},
            "user_message": {"type": ["string", "null"]},
            "developer_message": {"type": ["string", "null"]},
        },
    },
    "Run": {
        "type": "object",
        "description": "A dbt Cloud run, exactly as dbt returned it (all of dbt's fields).",
        "required": ["id"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "integer"},
            "job_definition_id": {"type": ["integer", "null"]},
            "account_id": {"type": "integer"},
        },
    },
    "RunEnvelope": _envelope(_ref("Run")),
    "RunListEnvelope": _envelope({"type": "array", "items": _ref("Run")}, page=True),
    "Job": {
        "type": "object",
        "description": "A dbt Cloud job definition, exactly as dbt returned it.",
        "required": ["id"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": ["string", "null"]},
            "project_id": {"type": ["integer", "null"]},
            "environment_id": {"type": ["integer", "null"]},
            "execute_steps": {"type": ["array", "null"], "items": {"type": "string"}},
        },
    },
    "JobEnvelope": _envelope(_ref("Job")),
    "JobListEnvelope": _envelope({"type": "array", "items": _ref("Job")}, page=True),
    "ListExtra": {
        "type": "object",
        "properties": {
            "filters": {"type": "object"},
            "order_by": {"type": ["string", "null"]},
            "pagination": {
                "type": "object",
                "properties": {
                    "count": {"type": "integer"},
                    "total_count": {"type": "integer"},
                },
            },
        },
    },
    "RunErrors": {
        "type": "object",
        "description": (
            "Why a run failed, in the adapter's own shape (the same JSON the MCP tool "
            "`get-run-errors` and the SDK's `as_json` give): the run's outcome, then each "
            "failed step with its failing nodes and sources and its logs."
        ),
        "required": ["run", "steps", "truncated"],
        "additionalProperties": False,
        "properties": {
            "run": {
                "type": "object",
                "required": ["id", "status", "status_humanized"],
                "properties": {
                    "id": {"type": "integer"},
                    "job_definition_id": {"type": ["integer", "null"]},
                    "status": {
                        "type": ["integer", "null"],
                        "description": "1 Queued, 2 Starting, 3 Running, 10 Success, 20 Error, "
                        "30 Cancelled.",
                    },
                    "status_humanized": {"type": ["string", "null"]},
                    "status_message": {
                        "type": ["string", "null"],
                        "description": "dbt's reason, e.g. why a run was cancelled.",
                    },
                    "finished_at": {"type": ["string", "null"], "format": "date-time"},
                    "href": {"type": ["string", "null"]},
                },
            },
            "steps": {
                "type": "array",
                "description": "The failed steps in order (and those that warned, when asked).",
                "items": _ref("FailedStep"),
            },
            "more_steps": {
                "type": "integer",
                "description": "Failed steps left out to fit (compact form only).",
            },
            "truncated": {
                "type": "boolean",
                "description": "Always false here: only the compact form (MCP) is cut to size.",
            },
        },
    },
    "FailedStep": {
        "type": "object",
        "required": ["index", "name", "status", "source", "nodes", "freshness", "error_lines"],
        "properties": {
            "index": {"type": "integer", "description": "The step's 1-based index."},
            "name": {"type": ["string", "null"], "description": "e.g. Invoke dbt with `dbt build`"},
            "status": {"type": ["integer", "null"]},
            "status_humanized": {"type": ["string", "null"]},
            "duration_seconds": {"type": ["number", "null"]},
            "source": {
                "type": "string",
                "description": (
                    "Where `nodes`/`freshness` come from: `run_results.json`, `sources.json`, "
                    "or `logs` when the step saved no artifact (then `error_lines` say why)."
                ),
            },
            "nodes": {"type": "array", "items": _ref("FailedNode")},
            "more_nodes": {
                "type": "integer",
                "description": "Failing nodes left out to fit (compact form only).",
            },
            "freshness": {"type": "array", "items": _ref("FailedSource")},
            "more_freshness": {
                "type": "integer",
                "description": "Failing sources left out to fit (compact form only).",
            },
            "error_lines": {"type": "array", "items": {"type": "string"}},
            "log_tail": {"type": "array", "items": {"type": "string"}},
        },
    },
    "FailedNode": {
        "type": "object",
        "required": ["unique_id", "status"],
        "properties": {
            "unique_id": {"type": "string", "description": "e.g. model.shop.orders"},
            "resource_type": {"type": ["string", "null"]},
            "status": {"type": "string", "description": "error, fail, warn or runtime error"},
            "message": {"type": ["string", "null"]},
            "failures": {"type": ["integer", "null"]},
            "relation_name": {"type": ["string", "null"]},
            "compiled_path": {
                "type": ["string", "null"],
                "description": "The compiled SQL as an artifact path, when dbt names the file.",
            },
            "execution_time": {"type": ["number", "null"]},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "completed_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "FailedSource": {
        "type": "object",
        "required": ["unique_id", "status"],
        "properties": {
            "unique_id": {"type": "string"},
            "status": {"type": "string"},
            "max_loaded_at": {"type": ["string", "null"], "format": "date-time"},
            "snapshotted_at": {"type": ["string", "null"], "format": "date-time"},
            "age_seconds": {"type": ["number", "null"]},
            "criteria": {"type": ["object", "null"]},
            "message": {"type": ["string", "null"]},
        },
    },
    "RunErrorsEnvelope": _envelope(_ref("RunErrors")),
    "ArtifactListEnvelope": _envelope({"type": ["array", "null"], "items": {"type": "string"}}),
    "Error": {
        "type": "object",
        "description": (
            "An error in dbt's envelope: `status` says what went wrong and `data` is null or, "
            "for a 400, maps each invalid parameter to its problem. dbt's own errors are "
            'passed through unchanged (a few of dbt\'s older errors are `{"detail": ...}`).'
        ),
        "properties": {
            "status": {"$ref": _REF + "Status"},
            "data": {
                "anyOf": [{"type": "object"}, {"type": "null"}],
                "description": (
                    "For a 400, each invalid input and its problem; for a run-creating request "
                    "whose outcome is unknown, `job_id`, `marker` and `candidate_run_ids`; for "
                    "a 409 (`if_running=fail`), the `run_id` of the job's run already going."
                ),
            },
            "detail": {"type": "string"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
}


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF + schema_name}}},
    }


def _error(description: str) -> dict[str, Any]:
    return _json("Error", description)


_RECONCILED = {
    "description": (
        "`true` when dbt's answer was lost and the client found the run carrying this "
        "request's marker (the body is then that run, as dbt lists it)."
    ),
    "schema": {"type": "string", "enum": ["true"]},
}
_REUSED = {
    "description": (
        "`true` when `if_running=reuse` found the job's run already queued or running: the "
        "body is that run, as dbt lists it, and nothing was triggered."
    ),
    "schema": {"type": "string", "enum": ["true"]},
}
_LINK = {
    "description": 'The next page, as `<absolute URL>; rel="next"`, when there is one.',
    "schema": {"type": "string"},
}


def _success(route: Route) -> dict[str, Any]:
    if route.meta == "health":
        return _json("Health", "The adapter is up.")
    if route.report is not None:
        return _json(
            route.report.schema + "Envelope",
            f"{route.report.summary}: the adapter's own JSON in `data`, in dbt's envelope.",
        )
    if route.operation is None:
        return {
            "description": "This document.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    operation = route.operation
    result = operation.result
    if result is Result.RUN:
        response = _json("RunEnvelope", "The run, in dbt's envelope, as dbt returned it.")
        headers = response.setdefault("headers", {})
        if operation.creates_run:
            headers["X-Dbt-Runs-Reconciled"] = _RECONCILED
        if fields.IF_RUNNING in operation.options:
            headers["X-Dbt-Runs-Reused"] = _REUSED
        if not headers:
            del response["headers"]
        return response
    if result is Result.RUN_PAGE:
        response = _json("RunListEnvelope", "One page of runs, in dbt's envelope.")
        response["headers"] = {"Link": _LINK}
        return response
    if result is Result.JOB_PAGE:
        response = _json("JobListEnvelope", "One page of jobs, in dbt's envelope.")
        response["headers"] = {"Link": _LINK}
        return response
    if result is Result.JOB:
        return _json("JobEnvelope", "The job, in dbt's envelope, as dbt returned it.")
    if result is Result.ARTIFACT_PATHS:
        return _json("ArtifactListEnvelope", "The artifact paths, in dbt's envelope.")
    return {
        "description": "The artifact file, streamed as dbt served it (not an envelope).",
        "content": {"*/*": {"schema": {}}},
    }


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": field.rest_name,
            "in": "path",
            "required": True,
            "description": field.doc,
            "schema": field.schema(),
        }
        for field in route.path_fields
    ]
    params.extend(param.openapi() for param in route.query)
    return params


def _responses(route: Route, *, secured: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _success(route)}
    if route.meta is not None:
        if secured and route.path not in UNAUTHENTICATED_PATHS:
            responses["401"] = _error("Missing or wrong bearer token.")
        return responses
    responses["400"] = _error(
        "An invalid path id, query parameter or body (each named in `data`), or dbt's own 400."
    )
    responses["401"] = _error(
        "Missing or wrong bearer token for this adapter, or dbt rejected the adapter's token."
    )
    responses["403"] = _error("dbt refused: the token is not scoped to this account.")
    responses["404"] = _error("dbt has no such run, job or artifact.")
    operation = route.operation
    if operation is not None and fields.IF_RUNNING in operation.options:
        responses["409"] = _error(
            "`if_running=fail` and the job already has a run queued or running: nothing was "
            "triggered; `data.run_id` names that run."
        )
    if route.body is not None:
        responses["413"] = _error("The request body is over the size limit.")
        responses["415"] = _error("The body is not `application/json`.")
    responses["429"] = _error("dbt's rate limit; `Retry-After` is passed through when dbt sent it.")
    responses["429"]["headers"] = {
        "Retry-After": {
            "description": "Seconds to wait, as dbt sent it (when it did).",
            "schema": {"type": "string"},
        }
    }
    unknown = (
        " For a run-creating request whose answer was lost and whose run could not be found, "
        "a 502 that says the run may have started, with `data.marker` to look for (a "
        "trigger's) and `data.candidate_run_ids`."
        if operation is not None and operation.creates_run
        else ""
    )
    responses["502"] = _error(
        "dbt Cloud could not be reached or answered something not JSON." + unknown
    )
    responses["504"] = _error("dbt Cloud did not answer in time.")
    responses["default"] = _error("Any other error dbt returned, passed through unchanged.")
    return responses


#: dbt Cloud's delivery body (`dbt_runs.webhooks.parse_event` reads it; dbt may add fields).
_WEBHOOK_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "A dbt Cloud webhook event, as dbt delivers it.",
    "required": ["eventId", "eventType", "accountId", "data"],
    "properties": {
        "eventId": {"type": "string"},
        "eventType": {"type": "string"},
        "accountId": {"type": ["string", "integer"]},
        "webhooksID": {"type": "string"},
        "webhookName": {"type": "string"},
        "timestamp": {"type": "string"},
        "data": {
            "type": "object",
            "required": ["jobId", "runId"],
            "properties": {
                "jobId": {"type": ["string", "integer"]},
                "runId": {"type": ["string", "integer"]},
            },
        },
    },
}
_WEBHOOK_ACK: dict[str, Any] = _envelope(
    {
        "type": "object",
        "required": ["event_id", "duplicate"],
        "properties": {
            "event_id": {"type": "string"},
            "duplicate": {
                "type": "boolean",
                "description": "True for dbt's retry of a delivery already taken (ignored).",
            },
        },
    }
)


def _webhook_operation() -> dict[str, Any]:
    """`POST /v1/webhooks/dbt`, mounted with `create_app(..., webhooks=receiver)`."""
    return {
        "operationId": "receive_dbt_webhook",
        "summary": "Take a dbt Cloud webhook delivery",
        "description": (
            "dbt Cloud's outbound webhooks (`job.run.started`, `job.run.completed`, "
            "`job.run.errored`) are verified, acknowledged once per event id and handed to "
            "the waits of this process. Authenticated by dbt's signature in `Authorization` "
            "(the hex HMAC-SHA256 of the body, keyed with the subscription's secret), never "
            "by the adapter's bearer token."
        ),
        "tags": ["webhooks"],
        "security": [],
        "parameters": [
            {
                "name": "Authorization",
                "in": "header",
                "required": True,
                "description": "The hex HMAC-SHA256 digest of the body bytes (64 hex digits).",
                "schema": {"type": "string"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("WebhookEvent")}},
        },
        "responses": {
            "200": _json("WebhookAckEnvelope", "Accepted, or a retry of an accepted delivery."),
            "400": _error("Signed, but not a run event (`data` names the field)."),
            "401": _error("No signature, a garbled one, or one that does not match the body."),
            "413": _error("The body is over the size limit."),
        },
    }


def build_document(
    routes: Sequence[Route], *, secured: bool, webhooks: bool = False
) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing exactly `routes`.

    Args:
        routes: The served routes.
        secured: Whether the adapter requires a bearer token (adds the security scheme).
        webhooks: Whether the webhook receiver is mounted (`POST /v1/webhooks/dbt`).
    """
    paths: dict[str, Any] = {}
    for route in routes:
        entry: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "description": route.description,
            "tags": ["meta"]
            if route.operation is None
            else ["extensions" if route.extension else "runs"],
            "parameters": _parameters(route),
            "responses": _responses(route, secured=secured),
        }
        if route.extension:
            entry["x-extension"] = True
        if route.body is not None:
            entry["requestBody"] = {
                "required": False,
                "description": "dbt's trigger fields; all optional. Unknown fields are refused.",
                "content": {"application/json": {"schema": route.body.schema()}},
            }
        if secured and route.path in UNAUTHENTICATED_PATHS:
            entry["security"] = []
        if not entry["parameters"]:
            del entry["parameters"]
        paths.setdefault(route.path, {})[route.method.lower()] = entry

    schemas = dict(_SCHEMAS)
    tags = [
        {"name": "runs", "description": "The seed's REST resources."},
        {"name": "extensions", "description": "Beyond the seed (`x-extension: true`)."},
        {"name": "meta", "description": "The adapter itself."},
    ]
    if webhooks:
        from dbt_runs.expose.webhooks import WEBHOOK_PATH

        paths[WEBHOOK_PATH] = {"post": _webhook_operation()}
        schemas.update(WebhookEvent=_WEBHOOK_EVENT, WebhookAckEnvelope=_WEBHOOK_ACK)
        tags.append({"name": "webhooks", "description": "dbt Cloud's deliveries, signed."})

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "dbt-runs REST adapter",
            "version": __version__,
            "description": (
                "The runs surface of the dbt Cloud Administrative API, served by "
                "`dbt_runs.expose.rest`. Bodies and statuses are dbt's own; the adapter adds "
                "input validation, a `Link` header on lists, and extensions (marked "
                "`x-extension: true`): artifact downloads, cancelling, retrying and rerunning, "
                "jobs, and why a run failed (the only answer whose `data` is the adapter's "
                "own JSON)."
            ),
        },
        "tags": tags,
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if secured:
        document["components"]["securitySchemes"] = {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": f"The token set in {SERVER_TOKEN_ENV} on the adapter.",
            }
        }
        document["security"] = [{"bearerAuth": []}]
    return document
