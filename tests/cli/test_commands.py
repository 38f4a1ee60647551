"""Every `runs` and `artifacts` command, through click, against a loopback emulator."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from cli_support import TOKEN, Served, error_line

from dbt_runs.cli._output import ExitCode


def without_href(run: dict[str, object]) -> dict[str, object]:
    # dbt's href names the host the request came to; the emulator's own view has no port.
    return {k: v for k, v in run.items() if k != "href"}


# -- runs list -------------------------------------------------------------------------------


def test_list_prints_a_table_of_the_newest_runs_and_says_how_many_more(served: Served) -> None:
    result = served.invoke("runs", "list", "--limit", "5")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "JOB", "STATUS", "CREATED", "DURATION", "CAUSE"]
    ids = [int(line.split()[0]) for line in lines[1:]]
    newest = sorted((r.id for r in served.emulator.runs()), reverse=True)[:5]
    assert ids == newest
    total = served.emulator.run_count
    assert f"5 of {total} runs" in result.stderr


def test_list_filters_by_job_and_several_statuses(served: Served) -> None:
    result = served.invoke(
        "runs", "list", "--job", "3", "--status", "error", "--status", "cancelled", "--json"
    )
    assert result.exit_code == 0, result.stderr
    runs = json.loads(result.stdout)
    expected = {r.id for r in served.emulator.runs(job_id=3) if r.status in (20, 30)}
    assert runs, "the seed has failed runs of job 3"
    assert {r["id"] for r in runs} <= expected
    assert all(r["job_definition_id"] == 3 and r["status"] in (20, 30) for r in runs)


def test_list_all_as_jsonl_streams_every_run(served: Served) -> None:
    result = served.invoke("runs", "list", "--all", "--jsonl", "--order-by", "id")
    assert result.exit_code == 0, result.stderr
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert ids == sorted(r.id for r in served.emulator.runs())
    assert result.stderr == ""


def test_list_json_is_dbts_own_run_objects(served: Served) -> None:
    result = served.invoke("runs", "list", "--limit", "2", "--json")
    runs = json.loads(result.stdout)
    assert len(runs) == 2
    for run in runs:
        expected = served.emulator.run_json(run["id"], include_related=["trigger"])
        assert without_href(run) == without_href(expected)


def test_list_limit_above_a_page_fetches_several_pages(served: Served) -> None:
    for _ in range(120):
        served.emulator.trigger_run(4, cause="bulk")  # job 4 is CI: no queueing needed
    served.emulator.clear_requests()
    result = served.invoke("runs", "list", "--limit", "130", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 130
    lists = [r for r in served.emulator.requests if r.path.endswith("/runs/")]
    assert len(lists) == 2


# -- trigger ---------------------------------------------------------------------------------


def test_trigger_prints_the_run_id_and_url_and_sends_the_overrides(served: Served) -> None:
    result = served.invoke(
        "runs", "trigger", "1", "--cause", "PR #7", "--git-branch", "feature/x",
        "--schema-override", "pr_7", "--steps-override", "dbt seed",
        "--steps-override", "dbt build",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    match = re.fullmatch(r"Triggered run (\d+) \(job 1\): (\S+)\n", result.stdout)
    assert match, result.stdout
    run_id = int(match.group(1))
    raw = served.emulator.run_json(run_id, include_related=["trigger"])
    assert match.group(2).endswith(f"/deploy/1/projects/1/runs/{run_id}/")
    trigger = raw["trigger"]
    assert trigger["cause"].startswith("PR #7 [dbt-runs:")
    assert trigger["git_branch"] == "feature/x"
    assert trigger["schema_override"] == "pr_7"
    assert trigger["steps_override"] == ["dbt seed", "dbt build"]


def test_trigger_quiet_prints_only_the_id(served: Served) -> None:
    result = served.invoke("runs", "trigger", "1", "-q")
    assert result.exit_code == 0
    run_id = int(result.stdout)
    assert served.emulator.run(run_id).status == 1


def test_trigger_json_prints_dbts_run_object(served: Served) -> None:
    result = served.invoke("runs", "trigger", "1", "--json")
    run = json.loads(result.stdout)
    assert run["status"] == 1
    assert run["job_definition_id"] == 1


def test_a_cause_dbt_would_reject_is_a_usage_error_and_nothing_is_sent(served: Served) -> None:
    before = served.emulator.run_count
    result = served.invoke("runs", "trigger", "1", "--cause", "x" * 256)
    assert result.exit_code == ExitCode.USAGE
    # The field's own rule, as the SDK, REST and MCP state it, in click's usage error.
    assert "Invalid value for '--cause': must be at most 255 characters" in result.stderr
    assert served.emulator.run_count == before


# -- get, cancel, retry ----------------------------------------------------------------------


def test_get_shows_the_run_and_its_steps(served: Served) -> None:
    run_id = served.emulator.runs(job_id=3, status=20)[0].id
    result = served.invoke("runs", "get", str(run_id), "--steps")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"run {run_id}  Error\n")
    assert "STEP  STATUS" in result.stdout
    for step in served.emulator.steps(run_id):
        assert step.name in result.stdout


def test_get_json_matches_the_emulators_json(served: Served) -> None:
    run_id = served.emulator.runs()[0].id
    result = served.invoke("runs", "get", str(run_id), "--json")
    expected = served.emulator.run_json(run_id, include_related=["trigger"])
    assert without_href(json.loads(result.stdout)) == without_href(expected)


def test_cancel_a_queued_run_and_a_finished_one(served: Served) -> None:
    queued = served.emulator.trigger_run(1, cause="to cancel")
    result = served.invoke("runs", "cancel", str(queued))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"run {queued}: Cancelled\n"
    assert served.emulator.run(queued).status == 30

    done = served.emulator.runs(status=10)[0].id
    result = served.invoke("runs", "cancel", str(done))
    assert result.exit_code == 0
    assert "already finished" in result.stdout
    assert served.emulator.run(done).status == 10


def test_retry_a_run_dbt_will_not_retry_exits_5_with_dbts_reason(served: Served) -> None:
    done = served.emulator.runs(status=10)[0].id
    result = served.invoke("runs", "retry", str(done))
    assert result.exit_code == ExitCode.API_ERROR
    _, code = error_line(result.stderr)
    assert code == 5


def test_retry_the_latest_failed_run_starts_a_new_run(fast: Served) -> None:
    failed = fast.invoke("runs", "trigger", "1", "--cause", "x [fail]", "--wait", "--poll", "0.02")
    assert failed.exit_code == ExitCode.RUN_FAILED, failed.stderr
    run_id = json.loads(fast.invoke("runs", "list", "--job", "1", "--limit", "1", "--json").stdout)[
        0
    ]["id"]
    result = fast.invoke("runs", "retry", str(run_id), "-q")
    assert result.exit_code == 0, result.stderr
    assert int(result.stdout) > run_id


# -- waiting (fast clock) --------------------------------------------------------------------


def test_trigger_wait_prints_timestamped_status_lines_and_exits_0(fast: Served) -> None:
    result = fast.invoke("runs", "trigger", "1", "--wait", "--poll", "0.02")
    assert result.exit_code == ExitCode.SUCCESS, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Triggered run ")
    progress = lines[1:]
    assert progress, result.stderr
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ run \d+: \w+$", p) for p in progress)
    statuses = [p.split(": ")[1] for p in progress]
    assert statuses[0] == "Queued"
    assert statuses[-1] == "Success"
    assert len(statuses) == len(set(statuses)), "each status once"
    assert "\r" not in result.stderr
    assert "Success" in result.stdout.splitlines()[0]


def test_wait_for_a_failed_run_names_the_failed_step(fast: Served) -> None:
    result = fast.invoke(
        "runs", "trigger", "1", "--cause", "boom [fail]", "--wait", "--poll", "0.02"
    )
    assert result.exit_code == ExitCode.RUN_FAILED
    assert re.search(r"^step \d+ failed: ", result.stderr, re.MULTILINE), result.stderr
    assert "[exit 1]" in result.stderr


def test_wait_json_prints_the_finished_run(fast: Served) -> None:
    result = fast.invoke("runs", "trigger", "1", "--wait", "--json", "--poll", "0.02")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == 10


def test_wait_timeout_exits_4_and_can_cancel_the_run(served: Served) -> None:
    # The emulator's clock stands still: the run can never finish.
    run_id = served.emulator.trigger_run(1, cause="stuck")
    result = served.invoke(
        "runs", "wait", str(run_id), "--timeout", "0.2", "--poll", "0.05", "--cancel-on-timeout"
    )
    assert result.exit_code == ExitCode.WAIT_TIMEOUT
    assert "[exit 4]" in result.stderr
    assert served.emulator.run(run_id).status == 30


# -- artifacts -------------------------------------------------------------------------------


def finished_run(served: Served) -> int:
    return next(r.id for r in served.emulator.runs(job_id=1, status=10))


def test_artifacts_list(served: Served) -> None:
    run_id = finished_run(served)
    result = served.invoke("artifacts", "list", str(run_id))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == served.emulator.artifact_paths(run_id)
    as_json = served.invoke("artifacts", "list", str(run_id), "--json")
    assert json.loads(as_json.stdout) == served.emulator.artifact_paths(run_id)


def test_artifacts_download_to_a_file_and_to_stdout(served: Served, tmp_path: Path) -> None:
    run_id = finished_run(served)
    dest = tmp_path / "out" / "results.json"
    result = served.invoke(
        "artifacts", "download", str(run_id), "run_results.json", "-o", str(dest)
    )
    assert result.exit_code == 0, result.stderr
    saved = json.loads(dest.read_text())
    assert "results" in saved
    assert result.stderr.startswith(f"Saved {dest} (")
    assert result.stdout == ""

    to_stdout = served.invoke("artifacts", "download", str(run_id), "run_results.json", "-o", "-")
    assert json.loads(to_stdout.stdout) == saved
    assert list(dest.parent.iterdir()) == [dest], "no temporary file left behind"


def test_artifacts_download_of_a_job_reads_its_latest_successful_run(
    served: Served, tmp_path: Path
) -> None:
    emulator = served.emulator
    latest = max(r.id for r in emulator.runs(job_id=2, status=10))
    dest = tmp_path / "sources.json"
    # dbt serves the last step's file, here `dbt docs generate`'s.
    result = served.invoke(
        "artifacts", "download", "--job", "Hourly models with docs", "run_results.json",
        "-o", str(dest),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"Saved {dest} (")
    assert result.stderr.endswith("from the latest successful run of job 2\n")
    by_run = served.invoke("artifacts", "download", str(latest), "run_results.json", "-o", "-")
    assert json.loads(dest.read_text()) == json.loads(by_run.stdout)


def test_artifacts_download_of_a_job_without_a_successful_run_exits_5(served: Served) -> None:
    job_id = served.emulator.add_job("Never ran")
    result = served.invoke(
        "artifacts", "download", "--job", str(job_id), "manifest.json", "-o", "-"
    )
    assert result.exit_code == ExitCode.API_ERROR
    error_line(result.stderr)
    assert result.stdout == ""


def test_artifact_not_produced_exits_5_and_leaves_no_file(served: Served, tmp_path: Path) -> None:
    run_id = finished_run(served)
    dest = tmp_path / "catalog.json"
    result = served.invoke("artifacts", "download", str(run_id), "catalog.json", "-o", str(dest))
    assert result.exit_code == ExitCode.API_ERROR
    error_line(result.stderr)
    assert list(tmp_path.iterdir()) == []


# -- errors and the token --------------------------------------------------------------------


def test_unknown_run_is_one_line_with_exit_5(served: Served) -> None:
    result = served.invoke("runs", "get", "987654321")
    assert result.exit_code == ExitCode.API_ERROR
    line, code = error_line(result.stderr)
    assert code == 5
    assert "404" in line
    assert result.stdout == ""


def test_a_wrong_token_is_an_api_error_and_neither_token_is_printed(served: Served) -> None:
    wrong = "dbtc_WRONG_token_abcdef123"
    result = served.invoke("runs", "list", "--debug", DBT_API_KEY=wrong)
    assert result.exit_code == ExitCode.API_ERROR
    assert "Invalid token" in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert "Traceback" in result.stderr  # --debug shows it, redacted


def test_missing_token_is_a_usage_error_naming_the_variable(served: Served) -> None:
    result = served.invoke("runs", "list", DBT_API_KEY=None)
    assert result.exit_code == ExitCode.USAGE
    line, _ = error_line(result.stderr)
    assert "DBT_API_KEY" in line


def test_unreachable_api_is_exit_5(served: Served) -> None:
    result = served.invoke(
        "runs", "get", "1", "--base-url", "http://127.0.0.1:9/api/v2", "--request-timeout", "2"
    )
    assert result.exit_code == ExitCode.API_ERROR
    error_line(result.stderr)


def test_flags_override_the_environment(served: Served) -> None:
    # The environment points at a dead port; --base-url and --account-id win.
    result = served.invoke(
        "runs", "list", "--limit", "1", "--base-url", served.base_url, "--account-id", "1",
        DBT_CLOUD_BASE_URL="http://127.0.0.1:9", DBT_CLOUD_ACCOUNT_ID="77",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr


def test_another_account_is_refused_by_dbt(served: Served) -> None:
    result = served.invoke("runs", "list", "--account-id", "2")
    assert result.exit_code == ExitCode.API_ERROR
    assert "not scoped to account" in result.stderr


def test_debug_output_never_contains_the_token(served: Served) -> None:
    result = served.invoke("runs", "get", "987654321", "--debug")
    assert result.exit_code == ExitCode.API_ERROR
    assert "Traceback" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    top = served.invoke("--debug", "runs", "get", "987654321", DBT_RUNS_DEBUG=None)
    assert "Traceback" in top.stderr


def test_list_with_no_match_says_so_on_stderr(served: Served) -> None:
    result = served.invoke("runs", "list", "--job", "999")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == "No runs match.\n"
    as_json = served.invoke("runs", "list", "--job", "999", "--json")
    assert json.loads(as_json.stdout) == []


def test_retry_names_both_runs(fast: Served) -> None:
    fast.invoke("runs", "trigger", "1", "--cause", "x [fail]", "--wait", "--poll", "0.02")
    failed = fast.emulator.runs(job_id=1)[-1].id
    result = fast.invoke("runs", "retry", str(failed))
    assert result.exit_code == 0, result.stderr
    assert re.match(rf"Retrying run {failed} as run \d+ \(job 1\): http", result.stdout)


def test_debug_shows_the_sdks_requests(served: Served) -> None:
    result = served.invoke("runs", "list", "--limit", "1", "--debug")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"dbt_runs\S* DEBUG GET /accounts/1/runs/ -> 200", result.stderr)
    assert "Authorization" not in result.stderr


def test_statuses_are_coloured_on_a_terminal_unless_no_color(served: Served) -> None:
    from click.testing import CliRunner

    from dbt_runs.cli import _build

    args = ["runs", "list", "--limit", "3"]
    coloured = CliRunner().invoke(_build(), args, env=served.env(), color=True)
    assert "\x1b[" in coloured.stdout
    plain = CliRunner().invoke(_build(), args, env=served.env(NO_COLOR="1"), color=True)
    assert plain.exit_code == 0
    assert "\x1b[" not in plain.stdout
    assert "\x1b[" not in served.invoke(*args).stdout  # not a terminal: click drops colour


def test_trigger_sends_every_other_override_under_dbts_name(served: Served) -> None:
    result = served.invoke(
        "runs", "trigger", "4", "-q", "--target-name-override", "ci",
        "--dbt-version-override", "1.9.0", "--threads-override", "8",
        "--timeout-seconds-override", "600", "--no-generate-docs-override",
        "--github-pull-request-id", "123",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    trigger = served.emulator.run_json(int(result.stdout), include_related=["trigger"])["trigger"]
    assert trigger["target_name_override"] == "ci"
    assert trigger["dbt_version_override"] == "1.9.0"
    assert trigger["threads_override"] == 8
    assert trigger["timeout_seconds_override"] == 600
    assert trigger["generate_docs_override"] is False
    assert trigger["github_pull_request_id"] == 123


def test_artifacts_download_into_a_directory_keeps_the_file_name(
    served: Served, tmp_path: Path
) -> None:
    run_id = finished_run(served)
    existing = tmp_path / "existing"
    existing.mkdir()
    for target, expected in (
        (str(existing), existing / "run_results.json"),
        (str(tmp_path / "new") + "/", tmp_path / "new" / "run_results.json"),
    ):
        result = served.invoke(
            "artifacts", "download", str(run_id), "run_results.json", "-o", target
        )
        assert result.exit_code == 0, result.stderr
        assert "results" in json.loads(expected.read_text())


def test_wait_on_finished_runs_exits_by_their_outcome(served: Served) -> None:
    # A CI job can check a run someone else triggered: the exit code is the run's outcome.
    cancelled = served.emulator.trigger_run(1, cause="to cancel")
    served.emulator.cancel_run(cancelled)
    for status, code in ((10, ExitCode.SUCCESS), (20, ExitCode.RUN_FAILED), (30, 3)):
        run_id = served.emulator.runs(status=status)[0].id
        result = served.invoke("runs", "wait", str(run_id))
        assert result.exit_code == code, (status, result.stderr)
        assert result.stdout.startswith(f"run {run_id}  ")


def test_a_downloaded_file_honours_the_umask_and_a_bad_name_is_a_usage_error(
    served: Served, tmp_path: Path
) -> None:
    run_id = finished_run(served)
    previous = os.umask(0o022)
    try:
        result = served.invoke(
            "artifacts", "download", str(run_id), "run_results.json", "-o", str(tmp_path)
        )
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "run_results.json").stat().st_mode & 0o777 == 0o644  # as curl -O
    too_long = served.invoke(
        "artifacts", "download", str(run_id), "run_results.json",
        "-o", str(tmp_path / ("x" * 300 + ".json")),
    )  # fmt: skip
    assert too_long.exit_code == 2, too_long.stderr
    assert "longer than this file system's" in too_long.stderr
    assert "internal error" not in too_long.stderr
