"""Helpers shared by the emulator's tests (a module of its own, not conftest: several test
directories have a conftest.py and only one can be importable as `conftest`)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
EXAMPLES = REFERENCE / "examples"

TOKEN = "dbtc_emulator_test_token"
HEADERS = {"Authorization": f"Token {TOKEN}", "Accept": "application/json"}
API = "/api/v2/accounts/1"

TERMINAL = {10, 20, 30}
RUN_TS = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00:00$"


def hms_seconds(text: str) -> int:
    hours, minutes, seconds = (int(p) for p in text.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def check_run(run: dict[str, object]) -> None:
    """Every derived field of a run agrees with its status and timestamps."""
    import re
    from datetime import datetime

    status = run["status"]
    assert status in {1, 2, 3, 10, 20, 30}
    names = {1: "Queued", 2: "Starting", 3: "Running", 10: "Success", 20: "Error", 30: "Cancelled"}
    assert run["status_humanized"] == names[status]  # type: ignore[index]
    assert run["in_progress"] is (status in {1, 2, 3})
    assert run["is_complete"] is (status in TERMINAL)
    assert run["is_success"] is (status == 10)
    assert run["is_error"] is (status == 20)
    assert run["is_cancelled"] is (status == 30)
    assert run["job_id"] == run["job_definition_id"]
    for key in ("created_at", "updated_at", "dequeued_at", "started_at", "finished_at"):
        value = run[key]
        if value is not None:
            assert re.match(RUN_TS, str(value)), (key, value)
    assert (run["finished_at"] is not None) is (status in TERMINAL)
    if status == 1:
        assert run["dequeued_at"] is None
        assert run["started_at"] is None
    if status in {2, 3}:
        assert run["dequeued_at"] is not None
    if status == 3:
        assert run["started_at"] is not None
    for key in ("duration", "queued_duration", "run_duration"):
        assert re.match(r"^\d{2,}:\d{2}:\d{2}$", str(run[key])), (key, run[key])
    created = datetime.fromisoformat(str(run["created_at"]))
    if run["finished_at"] is not None:
        finished = datetime.fromisoformat(str(run["finished_at"]))
        assert hms_seconds(str(run["duration"])) == int((finished - created).total_seconds())
        assert run["finished_at_humanized"] != "0 minutes from now"
    else:
        assert run["finished_at_humanized"] == "0 minutes from now"
    if run["started_at"] is not None:
        started = datetime.fromisoformat(str(run["started_at"]))
        assert hms_seconds(str(run["queued_duration"])) == int((started - created).total_seconds())
    else:
        assert run["run_duration"] == "00:00:00"
    if status != 1:
        assert run["blocked_by"] == []
    assert (run["retry_not_supported_reason"] is None) is run["can_retry"]
    assert str(run["href"]).endswith(f"/runs/{run['id']}/")


def _relax(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema in which every property may also be null."""
    if isinstance(node, list):
        return [_relax(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _relax(v) for k, v in node.items() if k not in {"nullable", "example"}}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {
            name: {"anyOf": [schema, {"type": "null"}]}
            for name, schema in out["properties"].items()
        }
    return out


@cache
def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REFERENCE / "openapi-v2.yaml").read_text())
    return document


@cache
def relaxed_components() -> dict[str, Any]:
    return {"schemas": _relax(copy.deepcopy(spec()["components"]["schemas"]))}


def response_schema(path: str, method: str) -> dict[str, Any]:
    """The 200 response schema the document declares for an operation."""
    operation = spec()["paths"][path][method]
    schema: dict[str, Any] = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return schema


def validate(body: Any, path: str, method: str = "get") -> None:
    """`body` matches the operation's 200 schema, every property also allowed to be null."""
    root = {**response_schema(path, method), "components": relaxed_components()}
    validator = jsonschema.Draft202012Validator(root)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:10])


def validate_status(body: Any) -> None:
    """`body["status"]` matches the document's `ResponseStatus`."""
    root = {"$ref": "#/components/schemas/ResponseStatus", "components": relaxed_components()}
    jsonschema.Draft202012Validator(root).validate(body["status"])


def example(relative: str) -> Any:
    """A captured payload from the reference set."""
    return json.loads((EXAMPLES / relative).read_text())
