"""Walk runs page by page or run by run, synchronously; the window of requests is the same."""

from datetime import UTC, datetime, timedelta

from dbt_runs import RunsClient, RunStatus

with RunsClient() as client:
    pager = client.list_runs(job_definition_id=1, order_by="-id", limit=10)

    # `.first_page()`: the first page only (one request), with the total and the next offset.
    page = pager.first_page()
    print(f"{page.total_count} runs of job 1; next page at offset {page.next_offset}")

    # `for`: every run, in order; later pages are fetched a few at a time.
    latest = [run.id for run in client.list_runs(order_by="-id", max_items=25)]
    print(f"The 25 latest runs: {latest[0]} ... {latest[-1]}")

    # `.pages()`: page by page, e.g. to report progress.
    for page in client.list_runs(limit=100, max_items=300).pages():
        print(f"  page at offset {page.offset}: {len(page)} runs")

    # Several statuses, and a time window (dbt's created_at__range).
    week_ago = datetime.now(UTC) - timedelta(days=7)
    failures = client.list_runs(
        status=[RunStatus.ERROR, RunStatus.CANCELLED], created_after=week_ago
    )
    print(f"{len(failures.to_list())} runs failed or were cancelled this week")
