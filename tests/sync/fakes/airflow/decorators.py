"""`@dag` and `@task` as Airflow's TaskFlow API has them, for one local run.

Calling a `@dag` function builds the DAG: the `@task` calls in its body are recorded, not run.
`DAG.test()` then runs the tasks in order in this process, as `airflow dags test` does, and
raises the first task's exception.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_building: list[list[tuple[str, Callable[[], Any]]]] = []


class DAG:
    """A built DAG: its id, its schedule arguments and its recorded task calls."""

    def __init__(self, dag_id: str, tasks: list[tuple[str, Callable[[], Any]]], **kwargs: Any):
        self.dag_id = dag_id
        self.tasks = tasks
        self.kwargs = kwargs
        self.results: dict[str, Any] = {}

    def test(self) -> dict[str, Any]:
        """Run every task once, in order; their return values by task id (XCom)."""
        for task_id, run in self.tasks:
            self.results[task_id] = run()
        return self.results


def dag(**kwargs: Any) -> Callable[[Callable[..., None]], Callable[..., DAG]]:
    def decorate(body: Callable[..., None]) -> Callable[..., DAG]:
        @functools.wraps(body)
        def build(*args: Any, **kw: Any) -> DAG:
            _building.append([])
            try:
                body(*args, **kw)
            finally:
                tasks = _building.pop()
            return DAG(body.__name__, tasks, **kwargs)

        return build

    return decorate


def task(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    def decorate(function: Callable[..., Any]) -> Callable[..., None]:
        @functools.wraps(function)
        def call(*args: Any, **kw: Any) -> None:
            _building[-1].append((function.__name__, functools.partial(function, *args, **kw)))

        call.function = function  # type: ignore[attr-defined]
        call.kwargs = kwargs  # type: ignore[attr-defined]
        return call

    return decorate(python_callable) if python_callable is not None else decorate
