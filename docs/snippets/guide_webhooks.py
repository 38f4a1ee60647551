"""Webhook-driven waiting, end to end on the emulator: no dbt Cloud account needed."""

import asyncio
import socket

import uvicorn

from dbt_runs import AsyncRunsClient
from dbt_runs.expose.webhooks import WEBHOOK_PATH, create_webhook_app
from dbt_runs.testing import Emulator, RealClock
from dbt_runs.webhooks import DEFAULT_SAFETY_POLL, RUN_COMPLETED, EventHub


async def main() -> None:
    emulator = Emulator(clock=RealClock(speed=60))  # runs finish in about a second
    hub = EventHub()
    app = create_webhook_app(hub, secret="replaced below")  # POST /v1/webhooks/dbt
    sock = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{WEBHOOK_PATH}"
    receiver = uvicorn.Server(uvicorn.Config(app, log_level="warning"))

    async with emulator.serve() as api, asyncio.TaskGroup() as tasks:
        tasks.create_task(receiver.serve(sockets=[sock]))
        # What you do once in dbt Cloud: subscribe your URL, and keep the secret it shows.
        subscription = emulator.webhooks.subscribe(url, event_types=[RUN_COMPLETED])
        app.state.receiver.set_secret(subscription.secret)

        async with AsyncRunsClient(token="any", base_url=api.base_url, account_id=1) as client:
            run = await client.trigger_run(1, cause="Webhooks guide")
            with hub.subscribe(run.id, event_types={RUN_COMPLETED}) as events:
                while not run.is_terminal:
                    event = await events.next_within(DEFAULT_SAFETY_POLL)  # None: poll
                    run = await client.get_run(run.id)
            print(f"run {run.id}: {run.status.humanized}, noticed by a webhook: {event}")
        receiver.should_exit = True


asyncio.run(main())
