"""Operating the pipeline: the run table, JSON logs, dry runs, backfills, the drop alert.

Everything goes through orchestrate/run.py, as a container or scheduler starts it,
against the fake API over HTTP and a real PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import devenv
import pytest
import tomllib
import yaml
from conftest import KEYWORD, ROOT, RUN, RUN_TIMEOUT, STATE_ID, expected_ids, search_requests
from runtime import cli, runlog
from runtime.logs import Log

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from conftest import Pipeline

EX_DATAERR = 65
RUNS = "usajobs_ops.pipeline_runs"
NURSE = '["nurse"]'


def served_requests(pipeline: Pipeline) -> int:
    """Every request the fake answered (its log holds Search and the public endpoints)."""
    log = pipeline.api.control("stats")["requests"]
    return len([request for request in log if request["status"] is not None])


def test_each_run_is_recorded_with_what_it_did(pipeline: Pipeline) -> None:
    pipeline.api.control("faults", [{"kind": "status", "status": 503, "times": 2}])

    image = "us-docker.pkg.dev/p/r/usajobs-elt@sha256:" + "0" * 64  # as Terraform passes it
    first = pipeline.entrypoint(TAP_USAJOBS_BACKOFF_BASE_MS="10", USAJOBS_IMAGE=image)

    assert first.returncode == 0, first.stderr[-4000:]
    (run,) = pipeline.runs()
    assert run["status"] == "succeeded"
    assert run["exit_code"] == 0
    assert run["mode"] == "run"
    assert run["job"] == "usajobs-elt"
    assert run["started_at"] < run["ended_at"]
    assert run["retries"] == 2
    # The tap's counts agree with what the fake served and what the target loaded.
    assert run["requests"] == served_requests(pipeline)  # the two 503s count as requests too
    loaded = pipeline.query("select count(*) from usajobs.jobs")[0][0]
    assert run["records"]["jobs"] == loaded == len(expected_ids(pipeline.api, Keyword=KEYWORD))
    assert run["total_records"] == sum(run["records"].values())
    assert run["query_counts"] == {
        f"keyword={KEYWORD!r}": {"reported": loaded, "full_scan": True, "complete": True}
    }
    assert run["alerts"] is None
    assert run["schema_drift"] is None
    assert str(run["run_id"]) in first.stderr
    # What ran: this checkout's commit and the versions of every part.
    head = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert run["versions"]["revision"].removesuffix("-dirty") == head
    assert run["versions"]["image"] == image
    tap = tomllib.loads((ROOT / "tap-usajobs" / "pyproject.toml").read_text())
    assert run["versions"]["tap_usajobs"] == tap["project"]["version"]
    for part in ("meltano", "tap_singer_sdk", "target_postgres", "dbt_core", "dbt_postgres"):
        assert re.fullmatch(r"\d+\.\d+\.\d+\S*", run["versions"][part] or ""), part
    # Every row it loaded falls within its run.
    assert pipeline.query(
        "select count(*) from usajobs.jobs where _sdc_batched_at"
        " between (%s at time zone 'utc') and (%s at time zone 'utc')",
        run["started_at"],
        run["ended_at"],
    ) == [(loaded,)]

    # A failing run is recorded as failed, with meltano's exit code.
    pipeline.api.control("faults", [{"kind": "status", "status": 400}])
    second = pipeline.entrypoint()

    assert second.returncode == 1
    failed = pipeline.runs()[-1]
    assert (failed["status"], failed["exit_code"]) == ("failed", 1)
    assert failed["ended_at"] is not None


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_json_logs_carry_the_run_id_and_the_tap_summary(pipeline: Pipeline) -> None:
    result = pipeline.entrypoint(USAJOBS_LOG_FORMAT="json", TAP_USAJOBS_KEYWORDS=NURSE)

    assert result.returncode == 0, result.stderr[-4000:]
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    (run,) = pipeline.runs()
    run_id = str(run["run_id"])
    assert {line.get("run_id") for line in lines if line.get("component")} == {run_id}
    meltano_lines = [line for line in lines if "string_id" in line]
    assert meltano_lines
    assert all(line["run_id"] == run_id for line in meltano_lines)
    assert {line["severity"] for line in lines} <= {"DEBUG", "INFO", "WARNING", "ERROR"}
    (summary,) = [line["run_summary"] for line in lines if "run_summary" in line]
    assert summary["status"] == "succeeded"
    assert summary["records"] == run["records"]
    assert summary["total_requests"] == run["requests"]


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_a_sharp_drop_in_a_query_result_count_fails_the_run_and_is_recorded(
    pipeline: Pipeline,
) -> None:
    full_scans = {"TAP_USAJOBS_FULL_SCAN_EVERY_HOURS": "0"}
    load_only = ("tap-usajobs", "target-postgres")
    assert pipeline.entrypoint(*load_only, **full_scans).returncode == 0
    ids = sorted(expected_ids(pipeline.api, Keyword=KEYWORD))
    withdrawn = ids[: len(ids) * 2 // 3]
    pipeline.api.control("postings", {"remove": withdrawn})

    result = pipeline.entrypoint(**full_scans)

    assert result.returncode == EX_DATAERR, result.stderr[-4000:]
    assert "dropped" in result.stderr
    run = pipeline.runs()[-1]
    assert run["status"] == "alerted"
    (alert,) = run["alerts"]
    assert (alert["previous"], alert["now"]) == (len(ids), len(ids) - len(withdrawn))
    # The alert asks a person to look; the run's data is loaded all the same.
    open_now = pipeline.query("select count(*) from job_listings where is_open")[0][0]
    assert open_now == len(ids) - len(withdrawn)

    # The check can be turned off, and a smaller drop than the threshold passes.
    pipeline.api.control("postings", {"remove": ids[len(withdrawn) : len(withdrawn) + 5]})
    assert pipeline.entrypoint(*load_only, **full_scans).returncode == 0
    pipeline.api.control("postings", {"remove": ids[len(withdrawn) + 5 :]})
    disabled = pipeline.entrypoint(*load_only, USAJOBS_ALERT_DROP_PERCENT="0", **full_scans)
    assert disabled.returncode == 0, disabled.stderr[-4000:]
    assert pipeline.runs()[-1]["status"] == "succeeded"


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_dry_run_validates_and_counts_but_loads_and_saves_nothing(pipeline: Pipeline) -> None:
    result = pipeline.entrypoint("--dry-run", TAP_USAJOBS_KEYWORDS=NURSE)

    assert result.returncode == 0, result.stderr[-4000:]
    table = {
        line.split()[0]: [int(cell) for cell in line.split()[1:]]
        for line in result.stdout.splitlines()
        if line and line.split()[-1].isdigit()
    }
    assert table["jobs"] == [len(expected_ids(pipeline.api, Keyword="nurse")), 0, 0]
    assert table["total"][1:] == [0, 0]
    assert "nothing was loaded and no state was saved" in result.stdout
    assert pipeline.query("select count(*) from pg_namespace where nspname = 'usajobs'") == [(0,)]
    assert json.loads(pipeline.state() or "{}") == {}
    assert pipeline.query("select to_regclass(%s)", RUNS) == [(None,)]

    # After a real run, a dry run starts from its bookmark, as the next run would.
    assert pipeline.entrypoint(TAP_USAJOBS_KEYWORDS=NURSE).returncode == 0
    saved = pipeline.state()
    pipeline.api.control("reset-stats", {})
    again = pipeline.entrypoint("--dry-run", TAP_USAJOBS_KEYWORDS=NURSE)
    assert again.returncode == 0, again.stderr[-4000:]
    (request,) = search_requests(pipeline.api)
    assert "DatePosted" in request["params"]
    assert pipeline.state() == saved


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_backfill_reads_its_window_and_leaves_the_regular_bookmark_alone(
    pipeline: Pipeline,
) -> None:
    today = datetime.now(timezone.utc).date()
    start, end = (
        (today - timedelta(days=200)).isoformat(),
        (today - timedelta(days=120)).isoformat(),
    )

    result = pipeline.entrypoint("--backfill", start, end)

    assert result.returncode == 0, result.stderr[-4000:]
    served = pipeline.api.control("historic")["items"]
    window = {r["usajobsControlNumber"] for r in served if start <= r["positionOpenDate"] <= end}
    assert window
    loaded = [row[0] for row in pipeline.query("select control_number from historic_job_listings")]
    assert sorted(loaded) == sorted(window)
    assert search_requests(pipeline.api) == []
    assert json.loads(pipeline.state() or "{}") == {}  # the regular state was not touched
    backfill_state = pipeline.meltano("state", "get", f"{STATE_ID}:backfill")
    assert backfill_state.returncode == 0
    (run,) = pipeline.runs()
    assert (run["mode"], run["job"]) == ("backfill", f"historic backfill {start}..{end}")

    # The same window again is read whole again, not skipped as already polled.
    again = pipeline.entrypoint("--backfill", start, end)
    assert again.returncode == 0, again.stderr[-4000:]
    assert pipeline.runs()[-1]["records"]["historic_jobs"] == len(window)


def test_the_meltano_job_runs_the_same_steps_as_the_runtime() -> None:
    # `meltano run usajobs-elt` by hand and the scheduled runtime must do one thing.
    jobs = yaml.safe_load((ROOT / "orchestrate" / "jobs.meltano.yml").read_text())["jobs"]
    (job,) = [job for job in jobs if job["name"] == cli.DEFAULT_JOB]
    assert job["tasks"] == [" ".join([*cli.LOAD, *cli.TRANSFORM])]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--backfill", "2026-01-01"), "usage: run.py --backfill START END"),
        (("--backfill", "2026-13-01", "2026-12-31"), "--backfill dates must be YYYY-MM-DD"),
        (("--backfill", "2026-03-01", "2026-02-01"), "is before START"),
        (("--frobnicate",), "unknown option '--frobnicate'"),
    ],
)
def test_bad_mode_arguments_are_config_errors(
    pipeline: Pipeline, args: tuple[str, ...], message: str
) -> None:
    result = pipeline.entrypoint(*args)

    assert result.returncode == 64
    assert message in result.stderr
    assert search_requests(pipeline.api) == []


@pytest.fixture
def own_pg() -> Iterator[devenv.EmbeddedPostgres]:
    """A throwaway server this test may stop and start."""
    with devenv.server_data_dir() as data_dir:
        embedded = devenv.EmbeddedPostgres(data_dir)
        embedded.start()
        yield embedded
        with contextlib.suppress(subprocess.CalledProcessError):
            embedded.stop("immediate")


def test_the_run_table_survives_a_database_restart(
    own_pg: devenv.EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    for name, value in own_pg.server.env("postgres").items():
        monkeypatch.setenv(name, value)
    table = runlog.RunLog(60, Log())
    run_id = "6f1c2a4e-0000-4000-8000-000000000001"
    table.start(run_id, "usajobs-elt", "run")
    summary = {"records": {"jobs": 3}, "total_records": 3, "queries": {}}
    settings = runlog.Settings.from_env({})

    own_pg.stop("fast")
    finished: list[Any] = []
    finishing = threading.Thread(
        target=lambda: finished.append(
            table.finish(
                {"run_id": run_id, "job": "usajobs-elt", "mode": "run"}, 0, summary, settings
            )
        )
    )
    finishing.start()
    time.sleep(2)
    assert finishing.is_alive(), "finish must wait for the database, not give up"
    own_pg.start()
    finishing.join(timeout=90)

    assert finished == [[]]
    assert "database unavailable, retrying" in capsys.readouterr().err
    with own_pg.server.connect("postgres") as conn:
        row = conn.execute(f"select status, total_records from {RUNS}").fetchone()  # noqa: S608
    assert row == ("succeeded", 3)


def _make_two_postings_impossible(pipeline: Pipeline) -> tuple[str, str]:
    """After a good run, make one posting close before it opens and one pay min > max."""
    first, second = sorted(expected_ids(pipeline.api, Keyword="nurse"))[:2]
    bad = {
        # Closes a year before it was published.
        first: {
            "PublicationStartDate": "2026-09-15T00:00:00.0000000Z",
            "ApplicationCloseDate": "2025-09-15T23:59:59.9970000Z",
        },
        # Pays at least more than at most.
        second: {
            "PositionRemuneration": [
                {
                    "MinimumRange": "90000.0",
                    "MaximumRange": "60000.0",
                    "RateIntervalCode": "Per Year",
                }
            ]
        },
    }
    assert sorted(pipeline.api.control("postings", {"update": bad})["updated"]) == sorted(bad)
    return first, second


def test_quality_gates_fail_the_job_on_impossible_data_and_say_which(pipeline: Pipeline) -> None:
    narrow = {"TAP_USAJOBS_KEYWORDS": NURSE}
    assert pipeline.entrypoint(**narrow).returncode == 0
    published = pipeline.query("select * from job_listings order by control_number")
    first, second = _make_two_postings_impossible(pipeline)

    result = pipeline.entrypoint(**narrow, TAP_USAJOBS_FULL_SCAN_EVERY_HOURS="0")

    assert result.returncode == 1, result.stderr[-4000:]
    failures = [line for line in result.stderr.splitlines() if "FAIL" in line]
    failed_tests = " ".join(failures)
    assert "closes_at" in failed_tests, failures
    assert "salary_min" in failed_tests, failures
    # The load itself committed: the raw rows and the bookmark are there to look at.
    loaded = pipeline.query(
        'select count(*) from usajobs.jobs where "MatchedObjectId" in (%s, %s)'
        ' and "ApplicationCloseDate" < "PublicationStartDate"',
        first,
        second,
    )
    assert loaded == [(1,)]
    assert json.loads(pipeline.state())["singer_state"]["bookmarks"]["jobs"]
    assert pipeline.runs()[-1]["status"] == "failed"
    # Write-audit-publish: the failed build stayed in the audit schema; what analysts
    # read is the last build that passed, row for row.
    assert pipeline.query("select * from job_listings order by control_number") == published
    assert pipeline.query(
        "select count(*) from public_audit.job_listings where closes_at < published_at"
    ) == [(1,)]


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_without_write_audit_publish_a_failing_build_stays_published(pipeline: Pipeline) -> None:
    # The feature flag off: dbt builds and tests in public, as a plain `dbt build` does.
    in_place = {"TAP_USAJOBS_KEYWORDS": NURSE, "USAJOBS_WRITE_AUDIT_PUBLISH": "false"}
    assert pipeline.entrypoint(**in_place).returncode == 0
    _make_two_postings_impossible(pipeline)

    result = pipeline.entrypoint(**in_place, TAP_USAJOBS_FULL_SCAN_EVERY_HOURS="0")

    assert result.returncode == 1, result.stderr[-4000:]
    assert pipeline.query("select count(*) from job_listings where closes_at < published_at") == [
        (1,)
    ]
    assert pipeline.query("select to_regclass('public_audit.job_listings')") == [(None,)]


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_history_stays_whole_through_write_audit_publish(pipeline: Pipeline) -> None:
    narrow = {"TAP_USAJOBS_KEYWORDS": NURSE, "TAP_USAJOBS_FULL_SCAN_EVERY_HOURS": "0"}
    posting = sorted(expected_ids(pipeline.api, Keyword="nurse"))[0]
    assert pipeline.entrypoint(**narrow).returncode == 0
    versions = pipeline.query("select count(*) from job_listing_versions")[0][0]
    later = {posting: {"ApplicationCloseDate": "2099-01-31T23:59:59.9970000Z"}}
    pipeline.api.control("postings", {"update": later})

    assert pipeline.entrypoint(**narrow).returncode == 0

    # The second build continued the published history (one new version), not a copy
    # of it made from scratch.
    assert pipeline.query("select count(*) from job_listing_versions")[0][0] == versions + 1
    changes = pipeline.query(
        "select field, new_value from job_listing_changes where control_number = %s", posting
    )
    assert changes == [("closes_at", "2099-01-31 23:59:59.997")]
    assert pipeline.query(
        "select count(*) from information_schema.tables where table_schema = 'public_audit'"
    ) == [(0,)], "a publish moves every audited mart"


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_raw_postings_no_load_touched_for_three_days_fail_the_run_after_publishing(
    pipeline: Pipeline,
) -> None:
    assert pipeline.entrypoint().returncode == 0
    pipeline.query(
        "update usajobs.jobs set _sdc_batched_at = _sdc_batched_at - interval '4 days' returning 1"
    )

    # A run that loads no postings (here, only a code list is selected): the marts are
    # rebuilt and published, and then the source's freshness fails the run.
    result = pipeline.entrypoint(TAP_USAJOBS__SELECT='["hiring_paths.*"]')

    assert result.returncode == 1, result.stderr[-4000:]
    stale = [line for line in result.stderr.splitlines() if "ERROR STALE" in line]
    assert len(stale) == 1
    assert "usajobs.jobs" in stale[0]
    assert pipeline.runs()[-1]["status"] == "failed"
    assert pipeline.query("select count(*) > 0 from job_listings") == [(True,)]


def _full_scan(reported: int, *, full: bool = True) -> dict[str, Any]:
    query = {"reported": reported, "full_scan": full, "complete": True}
    return {"records": {"jobs": reported}, "queries": {"q": query}}


@pytest.fixture
def run_table(
    pg_server: devenv.Postgres, database: str, monkeypatch: pytest.MonkeyPatch
) -> runlog.RunLog:
    """The run table of this test's database, written in-process as the runtime does."""
    for name, value in pg_server.env(database).items():
        monkeypatch.setenv(name, value)
    for name in ("MELTANO_ENVIRONMENT", "CLOUD_RUN_EXECUTION", "CLOUD_RUN_TASK_INDEX"):
        monkeypatch.delenv(name, raising=False)
    return runlog.RunLog(60, Log())


def test_the_drop_alert_survives_a_cloud_run_retry_and_ignores_other_environments(
    run_table: runlog.RunLog, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = runlog.Settings.from_env({})

    def finish(run_id: str, summary: dict[str, Any], **env: str) -> list[dict[str, Any]]:
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            run_table.start(run_id, "usajobs-elt", "run")
            run = {"run_id": run_id, "job": "usajobs-elt", "mode": "run"}
            return run_table.finish(run, 0, summary, settings)

    ids = [f"6f1c2a4e-0000-4000-8000-00000000000{i}" for i in range(5)]
    assert finish(ids[0], _full_scan(100)) == []
    # A dev run against a fake with 10 postings is not prod's baseline, nor the reverse.
    assert finish(ids[1], _full_scan(10), MELTANO_ENVIRONMENT="prod") == []

    task = {"CLOUD_RUN_EXECUTION": "usajobs-elt-x7k2p", "CLOUD_RUN_TASK_INDEX": "0"}
    (dropped,) = finish(ids[2], _full_scan(30), **task)
    assert (dropped["previous"], dropped["now"]) == (100, 30)
    # Cloud Run retries the task; the retry is incremental and compares nothing itself.
    (retried,) = finish(ids[3], _full_scan(2, full=False), **task)
    assert retried["carried_over_from"] == ids[2]
    ((line, _),) = runlog.alert_lines([retried])
    assert "found by attempt" in line
    # Another execution starts clean.
    assert finish(ids[4], _full_scan(2, full=False), CLOUD_RUN_EXECUTION="y") == []

    rows = pipeline.query(f"select status, alerts is null from {RUNS} order by started_at")  # noqa: S608
    assert rows == [
        ("succeeded", True),
        ("succeeded", True),
        ("alerted", False),
        ("alerted", False),
        ("succeeded", True),
    ]


def test_finish_records_a_run_whose_start_was_not_recorded(
    run_table: runlog.RunLog, pipeline: Pipeline, capsys: Any
) -> None:
    run = {"run_id": "6f1c2a4e-0000-4000-8000-0000000000aa", "job": "usajobs-elt", "mode": "run"}

    alerts = run_table.finish(run, 1, _full_scan(40), runlog.Settings.from_env({}))

    assert alerts == []
    assert "start was not recorded" in capsys.readouterr().err
    row = pipeline.query(f"select status, exit_code, total_records from {RUNS}")  # noqa: S608
    assert row == [("failed", 1, None)]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "USAJOBS_ALERT_DROP_PERCENT",
            "",
            "USAJOBS_ALERT_DROP_PERCENT must be a number from 0 to 100",
        ),
        ("USAJOBS_ALERT_DROP_PERCENT", "150", "got '150'"),
        ("USAJOBS_ALERT_MIN_ROWS", "2.5", "USAJOBS_ALERT_MIN_ROWS must be a whole number"),
        ("USAJOBS_RUNLOG_RETRY_SECONDS", "soon", "USAJOBS_RUNLOG_RETRY_SECONDS must be a number"),
        ("USAJOBS_WRITE_AUDIT_PUBLISH", "no", "USAJOBS_WRITE_AUDIT_PUBLISH must be true or false"),
    ],
)
def test_malformed_alert_settings_stop_the_entrypoint_before_anything_runs(
    pipeline: Pipeline, name: str, value: str, message: str
) -> None:
    result = pipeline.entrypoint(**{name: value})

    assert result.returncode == 64
    assert message in result.stderr
    assert search_requests(pipeline.api) == []


def test_force_reaches_meltano_run(pipeline: Pipeline) -> None:
    # What the runbook prescribes after a killed run: tests/test_signals.py shows
    # meltano's refusal and its --force; this checks the entrypoint passes it on.
    result = pipeline.entrypoint(
        "--force", "tap-usajobs", "target-postgres", TAP_USAJOBS_KEYWORDS=NURSE
    )

    assert result.returncode == 0, result.stderr[-4000:]
    assert "Force option is enabled, ignoring stale job check" in result.stderr
    loaded = pipeline.query("select count(*) from usajobs.jobs")[0][0]
    assert loaded == len(expected_ids(pipeline.api, Keyword="nurse"))


def test_sigterm_reaches_meltano_while_a_shard_holds_its_lock(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # A shard runs its load and dbt while holding advisory locks: a SIGTERM to the run
    # must still reach meltano, or meltano is orphaned and later killed without closing
    # its run. A stand-in meltano shows it without a real load.
    marker, ready = tmp_path / "got-sigterm", tmp_path / "ready"
    meltano = tmp_path / "meltano"
    meltano.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, signal, sys, time\n"
        "if 'run' in sys.argv:\n"
        "    signal.signal(signal.SIGTERM, "
        f"lambda *_: (pathlib.Path({str(marker)!r}).touch(), sys.exit(7)))\n"
        f"    pathlib.Path({str(ready)!r}).touch()\n"
        "    time.sleep(60)\n"
    )
    meltano.chmod(0o755)
    env = pipeline.env(MELTANO_BIN=str(meltano), CLOUD_RUN_TASK_INDEX="0", CLOUD_RUN_TASK_COUNT="2")
    run = subprocess.Popen([*RUN], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)  # noqa: S603
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert run.poll() is None, run.stderr.read() if run.stderr else ""
        assert time.monotonic() < deadline, "the stand-in meltano never started"
        time.sleep(0.1)

    run.terminate()

    assert run.wait(timeout=30) == 7
    assert marker.exists()
    assert pipeline.runs()[-1]["status"] == "failed"


def test_a_runs_dbt_step_waits_while_another_run_holds_the_dbt_lock(
    pipeline: Pipeline, start: Any
) -> None:
    # Two runs' dbt steps would break each other (a backfill beside the daily run, a
    # scheduler retry): each holds one lock in the database. The test holds it, as the
    # other run would; this run loads, then waits, building nothing, until it is free.
    waiting = (
        "select count(*) from pg_stat_activity where datname = current_database()"
        " and application_name = 'usajobs-pg-lock' and wait_event_type = 'Lock'"
    )
    with pipeline.server.connect(pipeline.database) as other_run:
        other_run.execute("select pg_advisory_lock(hashtext('usajobs-dbt'))")
        run = start(pipeline, RUN, "waits-for-dbt")
        deadline = time.monotonic() + RUN_TIMEOUT
        while pipeline.query(waiting) == [(0,)]:
            assert run.process.poll() is None, run.output()[-3000:]
            assert time.monotonic() < deadline, "the run never waited for the dbt lock"
            time.sleep(0.2)
        assert pipeline.query("select count(*) > 0 from usajobs.jobs") == [(True,)]
        assert pipeline.query("select to_regclass('job_listings')") == [(None,)]
        other_run.execute("select pg_advisory_unlock(hashtext('usajobs-dbt'))")

        assert run.finish() == 0, run.output()[-3000:]
    assert pipeline.query("select count(*) > 0 from job_listings") == [(True,)]


def test_a_run_removes_the_private_folders_of_dead_runs_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    finished = subprocess.Popen(["true"])  # noqa: S607
    finished.wait()
    dead_pid = finished.pid
    dead = tmp_path / f"usajobs-run.{dead_pid}.abc"
    # A concurrent run's folder, made a moment ago: alive by its name alone.
    running = tmp_path / f"usajobs-run.{os.getpid()}.def"
    unnamed = tmp_path / "usajobs-run.xyz"
    for folder in (dead, running, unnamed):
        folder.mkdir()

    with cli._private_folder(Log()) as mine:
        assert mine.name.startswith(f"usajobs-run.{os.getpid()}.")
        assert {path.name for path in tmp_path.iterdir()} == {
            mine.name,
            running.name,
            unnamed.name,
        }
    assert not mine.exists()
