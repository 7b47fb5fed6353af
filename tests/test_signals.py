"""Runs killed or stopped mid-load, as real processes: SIGKILL, SIGTERM, SIGINT.

Each run starts in a session of its own, as under a container runtime or a scheduler,
reads sequential pages of 10 while the target commits batches of 20, and is signalled
once it has committed MID_LOAD_ROWS rows. The fake API keeps it mid-extract long enough
to be interrupted even on a loaded machine: every page answers slowly, or one page
answers only after STALL_SECONDS (conftest.py, "runs in sessions of their own").

What Meltano does after a SIGKILL (it records every run in its system database, and a
killed run never marks itself finished) is asserted as it really is: the next run is
refused until the killed run's heartbeat is 5 minutes old, or until it runs with
``--force``. docs/runbook.md ("A run was killed") quotes these messages.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    KEYWORD,
    MID_LOAD_ROWS,
    SLOW_RUN,
    STATE_ID,
    Pipeline,
    committed_ids,
    expected_ids,
    hang,
    meltano_run,
    runtime,
    search_requests,
    signal_and_wait,
    slow_pages,
    stall,
    unstall,
    wait_until_gone,
    wait_until_mid_load,
)

HEARTBEAT_VALID = timedelta(minutes=5)  # meltano.core.job.job.HEARTBEAT_VALID_MINUTES
SIGTERM_EXIT = 128 + signal.SIGTERM
MELTANO_ABORTED = 1  # click's "Aborted!" on SIGINT; meltano's exit code for a failed run


# --- state and meltano's run records ----------------------------------------------------


def _state(pipeline: Pipeline) -> dict[str, Any]:
    text = pipeline.state().strip()
    return json.loads(text) if text else {}


def _assert_state_not_ahead(pipeline: Pipeline, committed: set[str], state: dict[str, Any]) -> None:
    """No saved bookmark passes a posting that is not committed.

    The next run asks only for postings published since a bookmark (less the lookback),
    so every posting the fake serves for a partition's keyword, published at or before
    that partition's bookmark, must already be in the table.
    """
    published = {
        item["MatchedObjectId"]: item["MatchedObjectDescriptor"]["PublicationStartDate"]
        for item in pipeline.api.control("postings")["items"]
    }
    jobs = state.get("singer_state", {}).get("bookmarks", {}).get("jobs", {})
    for partition in jobs.get("partitions", []):
        bookmark = partition.get("replication_key_value")
        if bookmark is None:
            continue
        served = expected_ids(pipeline.api, Keyword=partition["context"]["keyword"])
        covered = {posting for posting in served if _utc(published[posting]) <= _utc(bookmark)}
        assert covered <= committed, (
            f"state is ahead of the data: bookmark {bookmark} passes "
            f"{len(covered - committed)} uncommitted postings"
        )


def _utc(text: str) -> datetime:
    """An API or meltano timestamp as an aware UTC datetime (zoneless means UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _runs(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Meltano's records of this pipeline's runs (its system DB is this test's sqlite)."""
    with contextlib.closing(sqlite3.connect(pipeline.state_dir / "meltano.db")) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "select id, state, started_at, ended_at, last_heartbeat_at, payload from runs "
            "where job_name = ? order by id",
            (STATE_ID,),
        ).fetchall()
    return [dict(row) for row in rows]


def _age_running_runs(pipeline: Pipeline, by: timedelta) -> None:
    """Move RUNNING records back in time, as if the next run came ``by`` later."""
    storage = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy keeps DateTime in sqlite
    with contextlib.closing(sqlite3.connect(pipeline.state_dir / "meltano.db")) as db, db:
        rows = db.execute(
            "select id, started_at, last_heartbeat_at from runs where state = 'RUNNING'"
        ).fetchall()
        for run_id, started_at, heartbeat in rows:
            db.execute(
                "update runs set started_at = ?, last_heartbeat_at = ? where id = ?",
                (
                    (datetime.fromisoformat(started_at) - by).strftime(storage),
                    (datetime.fromisoformat(heartbeat) - by).strftime(storage),
                    run_id,
                ),
            )


def _already_running(killed: dict[str, Any]) -> str:
    """Meltano's refusal while ``killed`` is recorded as running and not yet stale."""
    started = _utc(killed["started_at"])
    stale_at = _utc(killed["last_heartbeat_at"]) + HEARTBEAT_VALID
    return (
        f"Another '{STATE_ID}' pipeline is already running which started at {started}. "
        f"Wait until {stale_at} when the job will be automatically cancelled if stale, "
        "or ignore this check using the '--force' option."
    )


def _killed_run(pipeline: Pipeline) -> dict[str, Any]:
    """The one record the killed run left: RUNNING, with no end."""
    runs = _runs(pipeline)
    assert [(run["state"], run["ended_at"]) for run in runs] == [("RUNNING", None)], runs
    return runs[0]


# --- outcomes ------------------------------------------------------------------------------


def _assert_interrupted_mid_load(pipeline: Pipeline) -> tuple[set[str], dict[str, Any]]:
    """Some, not all, postings committed, none twice; state not past them.

    Returns the committed postings and the saved state.
    """
    committed = committed_ids(pipeline)
    expected = expected_ids(pipeline.api, Keyword=KEYWORD)
    assert len(committed) == len(set(committed)), "a posting was committed twice"
    assert MID_LOAD_ROWS <= len(committed) < len(expected), (
        f"{len(committed)} of {len(expected)} committed: the run was not stopped mid-load"
    )
    assert set(committed) <= expected
    state = _state(pipeline)
    _assert_state_not_ahead(pipeline, set(committed), state)
    return set(committed), state


def _assert_complete(pipeline: Pipeline) -> None:
    """job_listings holds exactly what the fake serves: nothing lost, nothing twice."""
    expected = expected_ids(pipeline.api, Keyword=KEYWORD)
    listed = [row[0] for row in pipeline.query("select control_number::text from job_listings")]
    assert len(listed) == len(set(listed)), "a posting appears twice in job_listings"
    assert set(listed) == expected
    raw = committed_ids(pipeline)
    assert len(raw) == len(set(raw)), "a posting appears twice in usajobs.jobs"
    assert set(raw) == expected
    state = _state(pipeline)
    _assert_state_not_ahead(pipeline, set(raw), state)
    partitions = state["singer_state"]["bookmarks"]["jobs"]["partitions"]
    assert [part.get("replication_key_value") is not None for part in partitions] == [True]


# --- SIGKILL ---------------------------------------------------------------------------------


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_sigkill_mid_load_refuses_the_next_run_until_it_is_forced(
    pipeline: Pipeline, start: Any
) -> None:
    stall(pipeline.api)
    run = start(pipeline, meltano_run("tap-usajobs", "target-postgres"), "killed", **SLOW_RUN)
    wait_until_mid_load(pipeline, run)

    run.kill_group()
    assert run.process.wait(timeout=30) == -signal.SIGKILL
    wait_until_gone(run.sid)
    committed, state_after_kill = _assert_interrupted_mid_load(pipeline)
    killed = _killed_run(pipeline)

    # The immediate rerun (a retry, a user at the terminal) is refused before it starts
    # a plugin: no request, no row, no state change, and dbt does not run either.
    unstall(pipeline.api)
    refused = pipeline.meltano("run", "tap-usajobs", "target-postgres", "dbt-postgres:run")
    assert refused.returncode == 1, refused.stderr[-4000:]
    assert _already_running(killed) in refused.stderr
    assert "dbt-postgres" not in refused.stderr
    assert search_requests(pipeline.api) == []
    assert set(committed_ids(pipeline)) == committed
    assert _state(pipeline) == state_after_kill
    assert [r["state"] for r in _runs(pipeline)] == ["RUNNING"], "a refused run is not recorded"

    # --force runs at once, and loads everything exactly once.
    forced = pipeline.meltano(
        "run", "--force", "tap-usajobs", "target-postgres", "dbt-postgres:run"
    )
    assert forced.returncode == 0, forced.stderr[-6000:]
    assert "Force option is enabled, ignoring stale job check." in forced.stderr
    _assert_complete(pipeline)

    # --force does not clear the killed run's record: it stays RUNNING, and the next
    # run without --force is refused again until that record goes stale.
    assert [r["state"] for r in _runs(pipeline)] == ["RUNNING", "SUCCESS"]
    again = pipeline.meltano("run", "tap-usajobs", "target-postgres")
    assert again.returncode == 1
    assert _already_running(killed) in again.stderr


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_sigkill_of_the_entrypoint_recovers_once_the_heartbeat_is_stale(
    pipeline: Pipeline, start: Any
) -> None:
    stall(pipeline.api)
    run = start(pipeline, runtime(), "killed", **SLOW_RUN)
    wait_until_mid_load(pipeline, run)

    # Everything in the session at once (the entrypoint and meltano's own process
    # group): what `docker kill`, the OOM killer or a lost node does.
    run.kill_session()
    assert run.process.wait(timeout=30) == -signal.SIGKILL
    wait_until_gone(run.sid)
    committed, _ = _assert_interrupted_mid_load(pipeline)
    killed = _killed_run(pipeline)

    # A retry right away fails, and names the way out.
    unstall(pipeline.api)
    refused = pipeline.entrypoint()
    assert refused.returncode == 1, refused.stderr[-4000:]
    assert _already_running(killed) in refused.stderr
    assert "entrypoint: run failed with exit code 1" in refused.stderr
    assert "dbt-postgres" not in refused.stderr
    assert search_requests(pipeline.api) == []
    assert set(committed_ids(pipeline)) == committed

    # The next scheduled run, a day later: meltano marks the killed run failed and goes on.
    _age_running_runs(pipeline, timedelta(days=1))
    aged = _killed_run(pipeline)
    next_day = pipeline.entrypoint()
    assert next_day.returncode == 0, next_day.stderr[-6000:]
    assert (
        f"Marked stale run that started at {_utc(aged['started_at'])} "
        "as failed: No heartbeat recorded for 5 minutes. "
        "The process was likely killed unceremoniously."
    ) in next_day.stderr
    _assert_complete(pipeline)
    runs = _runs(pipeline)
    assert [r["state"] for r in runs] == ["FAIL", "SUCCESS"]
    assert json.loads(runs[0]["payload"])["error"] == (
        "No heartbeat recorded for 5 minutes. The process was likely killed unceremoniously."
    )


# --- SIGTERM and SIGINT -----------------------------------------------------------------------


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_sigterm_to_the_entrypoint_stops_the_run_and_the_rerun_completes(
    pipeline: Pipeline, start: Any
) -> None:
    slow_pages(pipeline.api)
    run = start(pipeline, runtime(), "stopped", **SLOW_RUN)
    wait_until_mid_load(pipeline, run)

    # The entrypoint's process group (what a supervisor signals); it forwards to meltano.
    signal_and_wait(run, signal.SIGTERM)
    assert run.process.returncode == SIGTERM_EXIT, run.output()[-6000:]
    wait_until_gone(run.sid)
    output = run.output()
    assert "entrypoint: received TERM, stopping the run" in output
    assert "target-postgres Received termination signal 15, draining all sinks" in output
    assert f"entrypoint: run failed with exit code {SIGTERM_EXIT}" in output
    _assert_interrupted_mid_load(pipeline)
    assert [(r["state"], json.loads(r["payload"]).get("error")) for r in _runs(pipeline)] == [
        ("FAIL", "The process was terminated")
    ]

    # Meltano closed the run's record, so the rerun needs no --force.
    unstall(pipeline.api)
    rerun = pipeline.entrypoint()
    assert rerun.returncode == 0, rerun.stderr[-6000:]
    _assert_complete(pipeline)


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_ctrl_c_at_a_terminal_reaches_the_run_once_and_the_rerun_completes(
    pipeline: Pipeline, start: Any
) -> None:
    # On a terminal the entrypoint shows stages and runs the run under it in a process
    # group of its own (runtime/progress.py); Ctrl-C signals the terminal's group.
    slow_pages(pipeline.api)
    run = start(pipeline, runtime(), "terminal", terminal=True, **SLOW_RUN)
    wait_until_mid_load(pipeline, run)

    signal_and_wait(run, signal.SIGINT)
    assert run.finish() == MELTANO_ABORTED, run.output()[-6000:]
    wait_until_gone(run.sid)
    (path,) = re.findall(r"The whole log: (\S+)", run.output())
    log = Path(path).read_text()
    assert log.count("entrypoint: received INT, stopping the run") == 1, log[-6000:]
    _assert_interrupted_mid_load(pipeline)

    unstall(pipeline.api)
    rerun = pipeline.entrypoint()
    assert rerun.returncode == 0, rerun.stderr[-6000:]
    _assert_complete(pipeline)


def test_sigterm_to_the_entrypoint_stops_within_a_minute_while_a_page_hangs(
    pipeline: Pipeline, start: Any
) -> None:
    hang(pipeline.api)
    run = start(pipeline, runtime(), "stopped", **SLOW_RUN)
    wait_until_mid_load(pipeline, run)

    signal_and_wait(run, signal.SIGTERM)
    assert run.process.returncode == SIGTERM_EXIT, run.output()[-6000:]
    wait_until_gone(run.sid)
    _assert_interrupted_mid_load(pipeline)


#: Ctrl-C reaches meltano and its plugins at once. The tap and the target stop cleanly
#: (STATE for what was committed, exit 0); when both have exited before meltano's own
#: handler cancels the run, meltano reports it completed. Either way the state saved is
#: not past what was committed, and the rerun loads the rest (checked below): only
#: meltano's verdict races.
SIGINT_OUTCOMES = [
    (MELTANO_ABORTED, ("FAIL", "The process was interrupted")),
    (0, ("SUCCESS", None)),
]


@pytest.mark.full  # slow; `make test-full` and CI run it
@pytest.mark.parametrize(
    ("signum", "outcomes"),
    [
        pytest.param(
            signal.SIGTERM, [(SIGTERM_EXIT, ("FAIL", "The process was terminated"))], id="SIGTERM"
        ),
        pytest.param(signal.SIGINT, SIGINT_OUTCOMES, id="SIGINT"),
    ],
)
def test_signal_to_a_meltano_run_group_stops_it_and_the_rerun_completes(
    pipeline: Pipeline, start: Any, signum: int, outcomes: list[tuple[int, tuple[str, Any]]]
) -> None:
    # `kill -- -PGID` or Ctrl-C at a terminal: meltano, the tap and the target all get
    # the signal at once, and meltano then signals its plugins a second time.
    stall(pipeline.api)
    run = start(pipeline, meltano_run("tap-usajobs", "target-postgres"), "stopped", **SLOW_RUN)
    wait_until_mid_load(pipeline, run)

    signal_and_wait(run, signum)
    wait_until_gone(run.sid)
    recorded = [(r["state"], json.loads(r["payload"]).get("error")) for r in _runs(pipeline)]
    assert (run.process.returncode, *recorded) in outcomes, run.output()[-6000:]
    _assert_interrupted_mid_load(pipeline)

    unstall(pipeline.api)
    pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:run")
    _assert_complete(pipeline)
