"""Schema-driven fuzzing of the emulator with dbt's own OpenAPI document: whatever a client
sends to a runs/jobs/steps route, the emulator never answers 5xx, and every 200 matches the
document (nullability relaxed as in test_fidelity). Bounded and derandomized for CI."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from emulator_support import relaxed_components
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from dbt_runs.testing import Emulator

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "openapi-v2.yaml"
EMULATOR = Emulator(runs=40, seed=11)
RUN_IDS = [info.id for info in EMULATOR.runs()]
HEADERS = {"Authorization": "Token fuzz"}


def _no_date_time_format(node: Any) -> Any:
    """Real dbt run timestamps (`2024-05-27 10:42:16.179903+00:00`) use a space, which the
    RFC 3339 `date-time` format rejects: dbt's own payloads would fail it. test_fidelity checks
    the exact format against the captures instead."""
    if isinstance(node, list):
        return [_no_date_time_format(item) for item in node]
    if isinstance(node, dict):
        return {
            k: _no_date_time_format(v)
            for k, v in node.items()
            if not (k == "format" and v == "date-time")
        }
    return node


_document = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
_document = copy.deepcopy(_document)
_document["components"] = {
    **_document["components"],
    **_no_date_time_format(relaxed_components()),
}
# OpenAPI 3.0 documents cannot say "nullable" inside anyOf the way the relaxed copy does;
# declare the document 3.1 (JSON Schema semantics) for the relaxed components.
_document["openapi"] = "3.1.0"
CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {"coverage": {"enabled": False}},
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
        },
    }
)
schema = schemathesis.openapi.from_dict(_document, config=CONFIG).include(
    path_regex=r"^/api/v2/accounts/\{account_id\}/((runs|jobs|steps|environments)/.*)?$"
)
schema.app = EMULATOR.app


@schema.hook
def map_path_parameters(context: object, path: dict[str, Any] | None) -> dict[str, Any] | None:
    """Mostly our account and existing runs, so that the handlers past auth get fuzzed."""
    if not path:
        return path
    if "account_id" in path:
        path["account_id"] = 1
    for key in ("run_id", "id"):
        value = path.get(key)
        if isinstance(value, int) and value % 4 != 0:
            path[key] = RUN_IDS[value % len(RUN_IDS)]
    if isinstance(path.get("job_id"), int) and path["job_id"] % 3 != 0:
        path["job_id"] = 1 + path["job_id"] % 5
    return path


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzz_the_emulator(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=HEADERS)


def test_the_fuzzer_covers_the_runs_routes() -> None:
    operations = {
        (op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())
    }
    a = "/api/v2/accounts/{account_id}"
    for expected in (
        ("GET", f"{a}/runs/"),
        ("GET", f"{a}/runs/{{id}}/"),
        ("POST", f"{a}/jobs/{{job_id}}/run/"),
        ("POST", f"{a}/runs/{{run_id}}/cancel/"),
        ("GET", f"{a}/runs/{{run_id}}/artifacts/{{remainder}}"),
        ("GET", f"{a}/steps/{{id}}/"),
    ):
        assert expected in operations, expected
