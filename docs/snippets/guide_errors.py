"""Errors: one tree, typed by what went wrong, with dbt's own message."""

import asyncio

from dbt_runs import (
    APIStatusError,
    AsyncRunsClient,
    DbtRunsError,
    InvalidArgumentError,
    NotFoundError,
    RunFailedError,
)


async def main() -> None:
    async with AsyncRunsClient() as client:
        try:
            await client.get_run(999_999_999)
        except NotFoundError as exc:
            print(f"{type(exc).__name__}: {exc.message} (HTTP {exc.status_code})")

        try:
            await client.trigger_run(1, cause="")  # rejected before anything is sent
        except InvalidArgumentError as exc:
            print(f"InvalidArgumentError: {exc}")

        # On the emulator, a cause containing "[fail]" makes the run end in Error.
        run = await client.trigger_run(1, cause="Errors guide [fail]")
        try:
            await client.wait_for_run(run, poll_interval=0.5)
        except RunFailedError as exc:
            print(f"RunFailedError: {exc}")

        try:
            await client.get_run(1, account_id=999)
        except APIStatusError as exc:
            # Adapters pass dbt's own body through: exc.content is the bytes as received.
            print(f"HTTP {exc.status_code}: {exc.body['status']['user_message']}")
        except DbtRunsError as exc:  # the root of every error dbt-runs raises
            print(f"dbt-runs error: {exc}")


asyncio.run(main())
