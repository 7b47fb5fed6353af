"""Operating the pipeline: the run table, JSON logs, dry runs, backfills, the drop alert.

Everything goes through orchestrate/entrypoint.sh, as a container or scheduler starts it,
against the fake API over HTTP and a real PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import devenv
import pytest
from conftest import KEYWORD, ROOT, STATE_ID, expected_ids, search_requests

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from conftest import Pipeline

RUNLOG = str(ROOT / "orchestrate" / "runlog.py")
EX_DATAERR = 65
RUNS = "usajobs_ops.pipeline_runs"
NURSE = '["nurse"]'


def runs(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Rows of the run table, oldest first."""
    columns = (
        "run_id, job, mode, status, exit_code, records, total_records, requests, retries,"
        " query_counts, alerts, started_at, ended_at"
    )
    names = [name.strip() for name in columns.split(",")]
    rows = pipeline.query(f"select {columns} from {RUNS} order by started_at")  # noqa: S608
    return [dict(zip(names, row, strict=True)) for row in rows]


def served_requests(pipeline: Pipeline) -> int:
    """Every request the fake answered (its log holds Search and the public endpoints)."""
    log = pipeline.api.control("stats")["requests"]
    return len([request for request in log if request["status"] is not None])


def test_each_run_is_recorded_with_what_it_did(pipeline: Pipeline) -> None:
    pipeline.api.control("faults", [{"kind": "status", "status": 503, "times": 2}])

    first = pipeline.entrypoint(TAP_USAJOBS_BACKOFF_BASE_MS="10")

    assert first.returncode == 0, first.stderr[-4000:]
    (run,) = runs(pipeline)
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
    assert str(run["run_id"]) in first.stderr

    # A failing run is recorded as failed, with meltano's exit code.
    pipeline.api.control("faults", [{"kind": "status", "status": 400}])
    second = pipeline.entrypoint()

    assert second.returncode == 1
    failed = runs(pipeline)[-1]
    assert (failed["status"], failed["exit_code"]) == ("failed", 1)
    assert failed["ended_at"] is not None


def test_json_logs_carry_the_run_id_and_the_tap_summary(pipeline: Pipeline) -> None:
    result = pipeline.entrypoint(USAJOBS_LOG_FORMAT="json", TAP_USAJOBS_KEYWORDS=NURSE)

    assert result.returncode == 0, result.stderr[-4000:]
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    (run,) = runs(pipeline)
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
    run = runs(pipeline)[-1]
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
    assert runs(pipeline)[-1]["status"] == "succeeded"


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
    (run,) = runs(pipeline)
    assert (run["mode"], run["job"]) == ("backfill", f"historic backfill {start}..{end}")

    # The same window again is read whole again, not skipped as already polled.
    again = pipeline.entrypoint("--backfill", start, end)
    assert again.returncode == 0, again.stderr[-4000:]
    assert runs(pipeline)[-1]["records"]["historic_jobs"] == len(window)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--backfill", "2026-01-01"), "usage: entrypoint.sh --backfill START END"),
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
    own_pg: devenv.EmbeddedPostgres, tmp_path: Path
) -> None:
    env = {**own_pg.server.env("postgres"), "PATH": "/usr/bin:/bin"}
    run_id = "6f1c2a4e-0000-4000-8000-000000000001"
    python = str(ROOT / ".venv" / "bin" / "python")
    started = subprocess.run(  # noqa: S603
        [python, RUNLOG, "start", "--run-id", run_id, "--job", "usajobs-elt"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"records": {"jobs": 3}, "total_records": 3, "queries": {}}))

    own_pg.stop("fast")
    finishing = subprocess.Popen(  # noqa: S603
        [
            python,
            RUNLOG,
            "finish",
            "--run-id",
            run_id,
            "--job",
            "usajobs-elt",
            "--exit-code",
            "0",
            "--summary",
            str(summary),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    assert finishing.poll() is None, "finish must wait for the database, not give up"
    own_pg.start()
    _, stderr = finishing.communicate(timeout=90)

    assert finishing.returncode == 0, stderr
    assert "database unavailable, retrying" in stderr
    with own_pg.server.connect("postgres") as conn:
        row = conn.execute(f"select status, total_records from {RUNS}").fetchone()  # noqa: S608
    assert row == ("succeeded", 3)


def test_quality_gates_fail_the_job_on_impossible_data_and_say_which(pipeline: Pipeline) -> None:
    narrow = {"TAP_USAJOBS_KEYWORDS": NURSE}
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

    result = pipeline.entrypoint(**narrow)

    assert result.returncode == 1, result.stderr[-4000:]
    failures = [line for line in result.stderr.splitlines() if "FAIL" in line]
    failed_tests = " ".join(failures)
    assert "closes_at" in failed_tests, failures
    assert "salary_min" in failed_tests, failures
    # The load itself committed: the raw rows and the bookmark are there to look at.
    loaded = pipeline.query(
        'select count(*) from usajobs.jobs where "MatchedObjectId" in (%s, %s)', first, second
    )
    assert loaded == [(2,)]
    assert json.loads(pipeline.state())["singer_state"]["bookmarks"]["jobs"]
    assert runs(pipeline)[-1]["status"] == "failed"


def _runlog(
    server: devenv.Postgres, database: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [str(ROOT / ".venv" / "bin" / "python"), RUNLOG, *args],
        env={**server.env(database), "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _full_scan(tmp_path: Path, name: str, reported: int, *, full: bool = True) -> str:
    path = tmp_path / f"{name}.json"
    query = {"reported": reported, "full_scan": full, "complete": True}
    path.write_text(json.dumps({"records": {"jobs": reported}, "queries": {"q": query}}))
    return str(path)


def test_the_drop_alert_survives_a_cloud_run_retry_and_ignores_other_environments(
    pg_server: devenv.Postgres, database: str, tmp_path: Path
) -> None:
    def finish(run_id: str, summary: str, **env: str) -> subprocess.CompletedProcess[str]:
        common = ("--run-id", run_id, "--job", "usajobs-elt")
        started = _runlog(pg_server, database, "start", *common, **env)
        assert started.returncode == 0, started.stderr
        return _runlog(
            pg_server, database, "finish", *common, "--exit-code", "0", "--summary", summary, **env
        )

    ids = [f"6f1c2a4e-0000-4000-8000-00000000000{i}" for i in range(5)]
    assert finish(ids[0], _full_scan(tmp_path, "a", 100)).returncode == 0
    # A dev run against a fake with 10 postings is not prod's baseline, nor the reverse.
    assert finish(ids[1], _full_scan(tmp_path, "b", 10), MELTANO_ENVIRONMENT="prod").returncode == 0

    task = {"CLOUD_RUN_EXECUTION": "usajobs-elt-x7k2p", "CLOUD_RUN_TASK_INDEX": "0"}
    dropped = finish(ids[2], _full_scan(tmp_path, "c", 30), **task)
    assert dropped.returncode == EX_DATAERR, dropped.stderr
    # Cloud Run retries the task; the retry is incremental and compares nothing itself.
    retried = finish(ids[3], _full_scan(tmp_path, "d", 2, full=False), **task)
    assert retried.returncode == EX_DATAERR, retried.stderr
    assert "found by attempt" in retried.stderr
    # Another execution starts clean.
    fresh = finish(ids[4], _full_scan(tmp_path, "e", 2, full=False), CLOUD_RUN_EXECUTION="y")
    assert fresh.returncode == 0, fresh.stderr

    with pg_server.connect(database) as conn:
        rows = conn.execute(
            f"select status, alerts is null from {RUNS} order by started_at"  # noqa: S608
        ).fetchall()
    assert rows == [
        ("succeeded", True),
        ("succeeded", True),
        ("alerted", False),
        ("alerted", False),
        ("succeeded", True),
    ]


def test_finish_records_a_run_whose_start_was_not_recorded(
    pg_server: devenv.Postgres, database: str, tmp_path: Path
) -> None:
    run_id = "6f1c2a4e-0000-4000-8000-0000000000aa"
    common = ("--run-id", run_id, "--job", "usajobs-elt")
    summary = _full_scan(tmp_path, "a", 40)

    result = _runlog(
        pg_server, database, "finish", *common, "--exit-code", "1", "--summary", summary
    )

    assert result.returncode == 0, result.stderr
    assert "start was not recorded" in result.stderr
    with pg_server.connect(database) as conn:
        row = conn.execute(f"select status, exit_code, total_records from {RUNS}").fetchone()  # noqa: S608
    assert row == ("failed", 1, None)


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
    # What the runbook prescribes after a killed run: tests/test_process_faults.py shows
    # meltano's refusal and its --force; this checks the entrypoint passes it on.
    result = pipeline.entrypoint(
        "--force", "tap-usajobs", "target-postgres", TAP_USAJOBS_KEYWORDS=NURSE
    )

    assert result.returncode == 0, result.stderr[-4000:]
    assert "Force option is enabled, ignoring stale job check" in result.stderr
    loaded = pipeline.query("select count(*) from usajobs.jobs")[0][0]
    assert loaded == len(expected_ids(pipeline.api, Keyword="nurse"))


def test_the_shard_lock_passes_sigterm_to_its_command(
    pg_server: devenv.Postgres, database: str, tmp_path: Path
) -> None:
    # In a sharded run the entrypoint signals pg_lock.py, which runs meltano: meltano
    # must get the SIGTERM, or it is orphaned and later killed without closing its run.
    marker = tmp_path / "got-sigterm"
    command = (
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, "
        f"lambda *_: (pathlib.Path({str(marker)!r}).touch(), sys.exit(7)))\n"
        f"pathlib.Path({str(tmp_path / 'ready')!r}).touch()\n"
        "time.sleep(60)\n"
    )
    python = str(ROOT / ".venv" / "bin" / "python")
    lock = subprocess.Popen(  # noqa: S603
        [
            python,
            str(ROOT / "orchestrate" / "pg_lock.py"),
            "test-lock",
            "--",
            python,
            "-c",
            command,
        ],
        env={**pg_server.env(database), "PATH": "/usr/bin:/bin"},
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "ready").exists():
        assert time.monotonic() < deadline, "the locked command never started"
        time.sleep(0.1)

    lock.terminate()

    assert lock.wait(timeout=30) == 7
    assert marker.exists()
