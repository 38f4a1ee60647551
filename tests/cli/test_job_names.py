"""`jobs list`, and a job's name wherever a command takes a job."""

from __future__ import annotations

import json
import re

import pytest
from cli_support import Served, error_line

from dbt_runs.cli._output import ExitCode

# -- jobs list -------------------------------------------------------------------------------


def test_jobs_list_is_a_table_of_ids_names_projects_environments_types_schedules(
    served: Served,
) -> None:
    result = served.invoke("jobs", "list")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "PROJECT", "ENVIRONMENT", "TYPE", "SCHEDULE"]
    rows = {int(line.split()[0]): line for line in lines[1:]}
    assert sorted(rows) == served.emulator.job_ids
    assert re.fullmatch(r"1\s+Daily build\s+1\s+1\s+other\s+At 06:00 every day", rows[1])
    # The CI job runs on pull requests, not on a schedule (its cron is kept, but off).
    assert re.fullmatch(r"4\s+CI checks\s+1\s+2\s+ci\s+-", rows[4])


def test_jobs_list_filters_by_name_environment_and_project(served: Served) -> None:
    result = served.invoke("jobs", "list", "--name-contains", "SNAPSHOTS", "--json")
    assert [job["name"] for job in json.loads(result.stdout)] == ["Nightly snapshots"]
    result = served.invoke("jobs", "list", "--environment", "2", "--project", "1", "--jsonl")
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [4]
    result = served.invoke("jobs", "list", "--project", "7")
    assert result.exit_code == 0
    assert (result.stdout, result.stderr) == ("", "No jobs match.\n")


def test_jobs_list_refuses_json_and_jsonl_together(served: Served) -> None:
    result = served.invoke("jobs", "list", "--json", "--jsonl")
    assert result.exit_code == ExitCode.USAGE


# -- a job by name ---------------------------------------------------------------------------


def test_trigger_takes_a_jobs_name_in_any_case(served: Served) -> None:
    result = served.invoke("runs", "trigger", "nightly SNAPSHOTS", "-q")
    assert result.exit_code == 0, result.stderr
    assert served.emulator.run(int(result.stdout)).job_id == 3


def test_a_name_that_is_no_jobs_exits_2_naming_the_near_ones(served: Served) -> None:
    before = served.emulator.run_count
    result = served.invoke("runs", "trigger", "Nightly")
    assert result.exit_code == ExitCode.USAGE
    line, _ = error_line(result.stderr)
    assert "no job is called 'Nightly'" in line
    assert "'Nightly snapshots' (3)" in line
    assert served.emulator.run_count == before


def test_same_named_jobs_are_told_apart_by_project_or_environment(served: Served) -> None:
    # The seed has two jobs called "Daily build": 1 in project 1, 8 in project 2.
    before = served.emulator.run_count
    ambiguous = served.invoke("runs", "trigger", "Daily build")
    assert ambiguous.exit_code == ExitCode.USAGE
    line, _ = error_line(ambiguous.stderr)
    assert "2 jobs are called 'Daily build': 1 (project 1, environment 1), 8 (project 2" in line
    assert served.emulator.run_count == before

    for flags, job_id in ((["--project", "2"], 8), (["--environment", "1"], 1)):
        chosen = served.invoke("runs", "trigger", "Daily build", *flags, "-q")
        assert chosen.exit_code == 0, chosen.stderr
        assert served.emulator.run(int(chosen.stdout)).job_id == job_id
    listed = served.invoke("runs", "list", "--job", "Daily build", "--project", "1", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert {run["job_definition_id"] for run in json.loads(listed.stdout)} == {1}


def test_runs_list_takes_a_jobs_name(served: Served) -> None:
    by_name = served.invoke("runs", "list", "--job", "Nightly snapshots", "--json")
    by_id = served.invoke("runs", "list", "--job", "3", "--json")
    assert by_name.exit_code == 0, by_name.stderr
    assert json.loads(by_name.stdout) == json.loads(by_id.stdout) != []


@pytest.mark.parametrize(
    "args",
    [
        # --project and --environment choose among same-named jobs, never where a run goes.
        ["runs", "trigger", "1", "--environment", "2"],
        ["runs", "rerun", "1", "--project", "1"],
        # A name is looked up in one project.
        ["runs", "list", "--job", "Daily build", "--project", "1", "--project", "2"],
        # Digits are an id, with an id's rules: never looked up as a name.
        ["runs", "trigger", "0"],
        ["runs", "trigger", "99999999999999999999"],
        ["runs", "list", "--job", "0"],
    ],
)
def test_job_flags_that_cannot_mean_what_they_seem_are_usage_errors(
    served: Served, args: list[str]
) -> None:
    served.emulator.clear_requests()
    result = served.invoke(*args)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert served.emulator.requests == []
