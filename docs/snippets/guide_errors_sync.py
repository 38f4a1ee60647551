"""Errors, synchronously: the same tree, typed by what went wrong, with dbt's own message."""

from dbt_runs import (
    APIStatusError,
    DbtRunsError,
    InvalidArgumentError,
    NotFoundError,
    RunFailedError,
    RunsClient,
)

with RunsClient() as client:
    try:
        client.get_run(999_999_999)
    except NotFoundError as exc:
        print(f"{type(exc).__name__}: {exc.message} (HTTP {exc.status_code})")

    try:
        client.trigger_run(1, cause="")  # rejected before anything is sent
    except InvalidArgumentError as exc:
        print(f"InvalidArgumentError: {exc}")

    # On the emulator, a cause containing "[fail]" makes the run end in Error.
    run = client.trigger_run(1, cause="Errors guide [fail]")
    try:
        client.wait_for_run(run, poll_interval=0.5)
    except RunFailedError as exc:
        print(f"RunFailedError: {exc}")

    try:
        client.get_run(1, account_id=999)
    except APIStatusError as exc:
        # Adapters pass dbt's own body through: exc.content is the bytes as received.
        print(f"HTTP {exc.status_code}: {exc.body['status']['user_message']}")
    except DbtRunsError as exc:  # the root of every error dbt-runs raises
        print(f"dbt-runs error: {exc}")
