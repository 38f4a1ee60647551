"""Airflow's exceptions that the recipe raises."""


class AirflowException(Exception):  # noqa: N818 (Airflow's own name)
    """The base of Airflow's exceptions."""


class AirflowFailException(AirflowException):
    """Fail the task without retrying it."""
