"""Schema-driven fuzzing of /openapi.json: no 5xx, and every answer matches the document.

Bounded for CI: a few examples per operation, derandomized so a run is reproducible.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from dbt_runs import _fields
from dbt_runs.expose.rest import create_app
from dbt_runs.testing import Emulator, ManualClock

# The emulator in-process behind the adapter in-process: no sockets, no real time.
EMULATOR = Emulator(runs=25, clock=ManualClock())
APP = create_app(EMULATOR.client())
# dbt refuses to retry a run that did not fail, or is not its job's latest, with a 400: the
# answer depends on the run's state, not on the request, so a schema-valid retry may get one.
STATE_REFUSALS: Final = [
    {
        "include-operation-id": ["retryrun", "rerunjob"],
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
            }
        },
    }
]
# Generated cases only: the coverage phase's exhaustive combinations of the list filters
# would take most of the time for little more than the generated cases find.
CONFIG = SchemathesisConfig.from_dict(
    {"phases": {"coverage": {"enabled": False}}, "operations": STATE_REFUSALS}
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)

# The same behind a server token: the document then declares bearer auth, and schemathesis
# also checks that a request without it is refused.
SECURED_APP = create_app(EMULATOR.client(), server_token="fuzz-t0ken")
SECURED_CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {"coverage": {"enabled": False}},
        "auth": {"openapi": {"bearerAuth": {"bearer": "fuzz-t0ken"}}},
        "operations": STATE_REFUSALS,
    }
)
secured = schemathesis.openapi.from_asgi(
    "/openapi.json",
    SECURED_APP,
    config=SECURED_CONFIG,
    headers={"Authorization": "Bearer fuzz-t0ken"},
)


@schema.hook
@secured.hook
def map_query(context: object, query: dict[str, Any] | None) -> dict[str, Any] | None:
    """A range's start must not be after its end, which JSON Schema cannot say: order them."""
    for name in ("created_at__range", "finished_at__range"):
        if query and isinstance(query.get(name), list) and len(query[name]) == 2:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                query[name] = sorted(query[name], key=_fields.LIST_FILTERS[6].validate)
    return query


RUN_IDS = [run.id for run in EMULATOR.runs()]
JOB_IDS = EMULATOR.job_ids


@schema.hook
@secured.hook
def map_path_parameters(context: object, path: dict[str, Any] | None) -> dict[str, Any] | None:
    """Mostly ids that exist, so that cases reach past dbt's 403/404 (some stay random)."""
    if not path:
        return path
    for name, known in (
        ("accountid", [EMULATOR.account_id]),
        ("runid", RUN_IDS),
        ("jobid", JOB_IDS),
    ):
        value = path.get(name)
        # Only valid ids are swapped: invalid ones (negative cases) must stay invalid.
        if isinstance(value, int) and 1 <= value <= 2**63 - 1 and value % 5:
            path[name] = known[value % len(known)]
    return path


@pytest.fixture(autouse=True)
def _no_last_resort(caplog: pytest.LogCaptureFixture):  # type: ignore[no-untyped-def]
    yield
    # The catch-all answers 500 for our own bugs; fuzzing must never reach it.
    assert not [r for r in caplog.records if r.name == "dbt_runs.expose.rest"]


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzz_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate()


@secured.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzz_secured_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate()
