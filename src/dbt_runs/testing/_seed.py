"""Seed data: one account with two projects, four environments, eight jobs and N past runs.

Project 1 (Analytics, environments 1 Production, 2 CI, 3 Development):

- job 1, Daily build: `dbt build`; succeeds in about 55 emulated seconds.
- job 2, Hourly models with docs: source freshness (its "Run source freshness" setting),
  `dbt run`, `dbt test`, docs generate; its runs have `catalog.json` and `sources.json`.
- job 3, Nightly snapshots: `dbt snapshot`, `dbt run`; fails at its last command (Error, 20).
- job 4, CI checks: a CI job (parallel, never queued behind another run).
- job 5, Full refresh: takes 15 minutes but its timeout is 10, so it ends Cancelled (30) with
  dbt's timeout message.
- job 6, Nightly pipeline: nine steps (seed, source freshness, staging, the rest, test,
  snapshot); its failing runs stop in the middle, at `dbt run --exclude staging`, or at the
  freshness check or the tests, and never reach the steps after.
- job 7, Source freshness: `dbt source freshness` alone; a stale source fails it. It has no
  past runs (so its job artifacts are a 404 until one of its runs succeeds), and every seeded
  success still has a `run_results.json`, as clients written for the five first jobs expect.

Project 2 (Marketing, environment 4 Production):

- job 8, Daily build: `dbt build`, the same name as job 1, so that finding a job by name
  can meet two.

Past runs are spread backwards from the clock's start, a few minutes apart, with a realistic
mix of statuses. Failing runs fail in varied ways (`Failure`: a database error, a compilation
error, a failing test, a stale source, the memory limit) and some successful ones carry
warnings, each fixed by the seed and the run's id. Each run costs one small object and is
planned at creation; nothing is rendered until asked for.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Final

from dbt_runs.testing._state import (
    Environment,
    Failure,
    Job,
    Outcome,
    Project,
    Run,
    State,
    Trigger,
    command_kind,
)

#: Average emulated seconds between two seeded runs.
_SPACING: Final = 420.0
#: Seeded runs end at least this long before the clock's start.
_QUIET: Final = 3600.0

_DAY: Final = 86400.0


def seed_catalog(state: State, now: float) -> None:
    """Add the projects, environments and jobs (ids 1..8)."""
    created = now - 400 * _DAY
    state.projects[1] = Project(1, "Analytics", "jaffle_shop", created)
    state.projects[2] = Project(2, "Marketing", "marketing", created + 200 * _DAY)
    state.environments[1] = Environment(
        1, 1, "Production", "deployment", "production", "versionless", "Snowflake", created
    )
    state.environments[2] = Environment(
        2, 1, "CI", "deployment", "staging", "versionless", "Snowflake", created
    )
    state.environments[3] = Environment(
        3, 1, "Development", "development", None, "versionless", "Snowflake", created
    )
    state.environments[4] = Environment(
        4, 2, "Production", "deployment", "production", "versionless", "Snowflake", created
    )
    jobs = [
        Job(
            1,
            1,
            1,
            "Daily build",
            ("dbt build",),
            created + 3600,
            created + 30 * _DAY,
            description="Builds and tests every model once a day.",
            cron="0 6 * * *",
        ),
        Job(
            2,
            1,
            1,
            "Hourly models with docs",
            ("dbt run", "dbt test"),
            created + 7200,
            created + 60 * _DAY,
            description="Runs and tests the models every hour, checks source freshness "
            "and generates the docs.",
            generate_docs=True,
            run_generate_sources=True,
            cron="0 * * * *",
            step_seconds=25.0,
        ),
        Job(
            3,
            1,
            1,
            "Nightly snapshots",
            ("dbt snapshot", "dbt run --select orders+"),
            created + 9000,
            created + 90 * _DAY,
            description="Snapshots orders, then rebuilds them. Its runs fail (emulator).",
            cron="0 2 * * *",
            outcome="error",
            step_seconds=30.0,
        ),
        Job(
            4,
            1,
            2,
            "CI checks",
            ("dbt build --select state:modified+",),
            created + 10800,
            created + 120 * _DAY,
            description="Builds what a pull request changed.",
            job_type="ci",
            target_name="ci",
            step_seconds=20.0,
            deferring_job_definition_id=1,
        ),
        Job(
            5,
            1,
            1,
            "Full refresh",
            ("dbt build --full-refresh",),
            created + 12600,
            created + 150 * _DAY,
            description="Rebuilds everything from scratch; slower than its timeout (emulator).",
            timeout_seconds=600,
            step_seconds=900.0,
        ),
        Job(
            6,
            1,
            1,
            "Nightly pipeline",
            (
                "dbt seed",
                "dbt source freshness",
                "dbt run --select staging",
                "dbt run --exclude staging",
                "dbt test",
                "dbt snapshot",
            ),
            created + 180 * _DAY,
            created + 210 * _DAY,
            description="Loads seeds, checks the sources, builds staging then the rest, "
            "tests and snapshots: one step per command.",
            cron="0 3 * * *",
            step_seconds=20.0,
            fails_at="dbt run --exclude staging",
        ),
        Job(
            7,
            1,
            1,
            "Source freshness",
            ("dbt source freshness",),
            created + 190 * _DAY,
            created + 190 * _DAY,
            description="Checks that the raw sources were loaded recently.",
            cron="0 * * * *",
            failure="freshness",
        ),
        Job(
            8,
            2,
            4,
            "Daily build",
            ("dbt build",),
            created + 200 * _DAY,
            created + 230 * _DAY,
            description="Builds the marketing project once a day.",
            cron="0 7 * * *",
            step_seconds=30.0,
        ),
    ]
    for job in jobs:
        state.jobs[job.id] = job


# (job id, weight, probability of error, probability of a user cancel); job 7 has no history.
_MIX: Final = (
    (1, 0.30, 0.05, 0.02),
    (2, 0.40, 0.06, 0.01),
    (3, 0.08, 0.75, 0.0),
    (4, 0.17, 0.22, 0.05),
    (5, 0.05, 0.0, 0.0),
    (6, 0.06, 0.30, 0.0),
    (8, 0.06, 0.08, 0.01),
)
_SHA_ALPHABET: Final = "0123456789abcdef"
#: How often each way of failing comes up among seeded failing runs that can fail that way.
_FAILURE_WEIGHTS: Final[tuple[tuple[Failure, int], ...]] = (
    ("database", 6),
    ("compilation", 3),
    ("test", 4),
    ("freshness", 5),
    ("memory", 1),
)
#: The share of seeded successful runs whose tests or sources warn.
_WARNINGS: Final = 0.25


def git_sha(rng: random.Random) -> str:
    """A plausible 40-character commit sha."""
    return "".join(rng.choice(_SHA_ALPHABET) for _ in range(40))


def _draw(seed: int, run_id: int, salt: str) -> float:
    """A number in [0, 1) fixed by the seed and the run id (the main generator's sequence,
    and so every other seeded value, stays as it was)."""
    digest = hashlib.blake2b(f"{seed}:{run_id}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def seeded_failure(job: Job, commands: Sequence[str], seed: int, run_id: int) -> Failure:
    """How a seeded failing run fails: one of the ways its commands can fail (a freshness
    check only where the job runs one as a step of its own: the check its "Run source
    freshness" setting adds never fails a run)."""
    kinds = {command_kind(c) for c in commands}
    checkbox = 1 if job.run_generate_sources else 0
    explicit_sources = sum(command_kind(c) == "source" for c in commands) > checkbox
    possible = set()
    if kinds & {"build", "run", "seed", "snapshot", "test"}:
        possible |= {"database", "compilation", "memory"}
    if kinds & {"build", "test"}:
        possible.add("test")
    if explicit_sources:
        possible.add("freshness")
    choices = [(kind, weight) for kind, weight in _FAILURE_WEIGHTS if kind in possible]
    if not choices:
        return job.failure
    pick = _draw(seed, run_id, "failure") * sum(weight for _, weight in choices)
    for kind, weight in choices:
        if pick < weight:
            return kind
        pick -= weight
    return choices[-1][0]


def seed_runs(state: State, count: int, now: float, seed: int) -> None:
    """Add `count` finished runs before `now` (ids from `state.next_run_id`)."""
    if count <= 0:
        return
    rng = random.Random(seed)
    jobs = [state.jobs[job_id] for job_id, *_ in _MIX]
    weights = [w for _, w, _, _ in _MIX]
    cumulative = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    shas = [git_sha(rng) for _ in range(12)]
    scheduled = {job.id: Trigger("Scheduled", "scheduled") for job in jobs}
    expovariate = rng.expovariate
    rand = rng.random
    gaps = [expovariate(1.0 / _SPACING) for _ in range(count)]
    t = now - _QUIET - sum(gaps)
    free_at: dict[int, float] = {}
    run_id = state.next_run_id
    seeded: list[Run] = []
    for gap in gaps:
        t += gap
        pick = rand() * total
        k = 0
        while cumulative[k] < pick:
            k += 1
        job = jobs[k]
        _, _, p_error, p_cancel = _MIX[k]
        roll = rand()
        outcome: Outcome = (
            "error" if roll < p_error else "cancelled" if roll < p_error + p_cancel else "success"
        )
        if job.job_type == "ci":
            pr = 100 + int(rand() * 400)
            trigger = Trigger(
                f"Kicked off from GitHub pull request #{pr}",
                "ci",
                None,
                git_branch=f"feature/pr-{pr}",
                github_pull_request_id=pr,
            )
        elif rand() < 0.8:
            trigger = scheduled[job.id]
        else:
            trigger = Trigger("Triggered via API", "api")
        commands = job.commands()
        run = Run(
            run_id,
            job,
            trigger,
            t,
            commands,
            outcome,
            job.timeout_seconds,
            "versionless",
            trigger.git_branch or "main",
            shas[run_id % len(shas)],
            factor=0.55 + rand() * 0.9,
            environment=state.environments[job.environment_id],
            failure=seeded_failure(job, commands, seed, run_id) if outcome == "error" else "auto",
            warnings=outcome == "success" and _draw(seed, run_id, "warnings") < _WARNINGS,
        )
        dequeue = t + 0.07 + rand() * 3
        if job.serial:
            dequeue = max(dequeue, free_at.get(job.id, 0.0))
        run.plan(dequeue)
        if job.serial and run.finished_at is not None:
            free_at[job.id] = run.finished_at
        seeded.append(run)
        run_id += 1
    # A chain of queued runs can end past `now`: shift the history back so that every seeded
    # run is over before the clock starts (the emulator never shows a half-seeded run).
    latest = max(r.finished_at or r.created_at for r in seeded)
    shift = max(0.0, latest - (now - 60.0))
    for run in seeded:
        if shift:
            run.created_at -= shift
            run.dequeued_at = None if run.dequeued_at is None else run.dequeued_at - shift
            run.started_at = None if run.started_at is None else run.started_at - shift
            run.finished_at = None if run.finished_at is None else run.finished_at - shift
        state.add_run(run)
