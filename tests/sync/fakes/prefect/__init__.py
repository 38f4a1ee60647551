"""A stand-in for Prefect (see tests/sync/fakes/README.md): `@flow`, `@task` with `.submit()`
(tasks submitted run in threads, as Prefect's default task runner runs them) and
`get_run_logger`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

_runner = ThreadPoolExecutor(max_workers=8, thread_name_prefix="prefect-task")


class Task:
    """A task: called, it runs here; submitted, it runs in a worker thread."""

    def __init__(self, function: Callable[..., Any], **options: Any) -> None:
        functools.update_wrapper(self, function)
        self.function = function
        self.options = options

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def submit(self, *args: Any, **kwargs: Any) -> Future[Any]:
        return _runner.submit(self.function, *args, **kwargs)


def task(function: Callable[..., Any] | None = None, **options: Any) -> Any:
    if function is None:
        return lambda f: Task(f, **options)
    return Task(function, **options)


def flow(function: Callable[..., Any] | None = None, **options: Any) -> Any:
    if function is None:
        return lambda f: f
    return function


def get_run_logger() -> logging.Logger:
    """The logger of the flow or task run."""
    return logging.getLogger("prefect")
