"""Runs killed or stopped mid-load, as real processes: SIGKILL, SIGTERM, SIGINT; secrets.

Each run starts in a session of its own, as under a container runtime or a scheduler,
reads sequential pages of 10 while the target commits batches of 20, and is signalled
once it has committed MID_LOAD_ROWS rows. The fake API keeps it mid-extract long enough
to be interrupted even on a loaded machine: every page answers slowly, or one page
answers only after STALL_SECONDS.

What Meltano does after a SIGKILL (it records every run in its system database, and a
killed run never marks itself finished) is asserted as it really is: the next run is
refused until the killed run's heartbeat is 5 minutes old, or until it runs with
``--force``. docs/runbook.md ("A run was killed") quotes these messages.

The last tests grep every output and every file the runs write for an API key and a
database password, including what a killed run leaves in .meltano/run: the entrypoint
removes plugin configs that no live process uses, and the tap stops at once on SIGTERM
even while a page request hangs in a worker thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import devenv
import psycopg
import pytest
from conftest import (
    KEYWORD,
    MELTANO,
    ROOT,
    RUN,
    STATE_ID,
    Pipeline,
    expected_ids,
    search_requests,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

EX_UNAVAILABLE = 69
SIGTERM_EXIT = 128 + signal.SIGTERM
MELTANO_ABORTED = 1  # click's "Aborted!" on SIGINT; meltano's exit code for a failed run
STOP_WITHIN = 60  # seconds a signalled run may take to exit
HEARTBEAT_VALID = timedelta(minutes=5)  # meltano.core.job.job.HEARTBEAT_VALID_MINUTES

# Sequential pages of 10 (about 21 of them) and target batches of 20: rows are committed
# two pages at a time, and a run that has committed MID_LOAD_ROWS has read 4 pages or more.
SLOW_RUN = {
    "TAP_USAJOBS_MAX_CONCURRENT_REQUESTS": "1",
    "TAP_USAJOBS_RESULTS_PER_PAGE": "10",
    "TARGET_POSTGRES_BATCH_SIZE_ROWS": "20",
}
MID_LOAD_ROWS = 40
# _slow_pages: the read takes 20 s; a signal finds the tap waiting a second at most.
# (The target commits jobs rows some seconds after the tap reads them: it commits the
# code lists first, 20 rows at a time.)
SLOW_PAGE_SECONDS = 1.0
STALL_PAGE = 6
STALL_SECONDS = 45  # _stall: page 6 answers 45 s late, within request_timeout (60 s)
HANG_SECONDS = 600  # _hang: every attempt at page 6 outlasts request_timeout

# Distinctive per session, so a match anywhere can only come from this module's runs.
API_KEY = f"key-canary-{uuid.uuid4().hex}"
WRONG_API_KEY = f"wrong-key-canary-{uuid.uuid4().hex}"
DB_PASSWORD = f"pw-canary-{uuid.uuid4().hex}"
SECRETS = (API_KEY, WRONG_API_KEY, DB_PASSWORD)


class StillRunningError(AssertionError):
    """A signalled run did not exit within STOP_WITHIN seconds."""


class SecretOnDiskError(AssertionError):
    """A file holds one of SECRETS."""


# --- processes ------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    """One background run in a session of its own; its output goes to a file."""

    process: subprocess.Popen[bytes]
    log: Path
    # Meltano's per-run plugin config files, seen in the plugins' command lines: a killed
    # run leaves them in .meltano/run, and the test removes them when it ends.
    config_files: set[Path] = dataclasses.field(default_factory=set)

    @property
    def sid(self) -> int:
        """Session (and first process group) id: the leader's pid."""
        return self.process.pid

    def output(self) -> str:
        """Everything the run has written so far, stdout and stderr interleaved."""
        return self.log.read_text(errors="replace")

    def kill_group(self) -> None:
        """SIGKILL the leader's process group (`kill -9 -- -PGID`)."""
        self.config_files |= _config_files(self.sid)
        os.killpg(self.sid, signal.SIGKILL)

    def kill_session(self) -> None:
        """SIGKILL every process of the session, as a container runtime or the OOM killer does."""
        for _ in range(50):  # processes may still be forking: repeat until none is left
            self.config_files |= _config_files(self.sid)
            alive = _session_processes(self.sid)
            if not alive:
                return
            for entry in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.split()[0]), signal.SIGKILL)
            time.sleep(0.1)


def _session_processes(sid: int) -> list[str]:
    """Live (non-zombie) processes of a session, as "pid command" strings."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited while we looked
            continue
        # Fields after "(comm)": state, ppid, pgrp, session, ...
        state, _ppid, _pgrp, session = text[text.rindex(")") + 2 :].split()[:4]
        if int(session) == sid and state != "Z":
            found.append(f"{stat.parent.name} {text[text.index('(') + 1 : text.rindex(')')]}")
    return found


def _config_files(sid: int) -> set[Path]:
    """The ``--config`` files the session's processes were started with."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError, ValueError):
            if int(cmdline.parent.joinpath("stat").read_text().rsplit(")", 1)[1].split()[3]) != sid:
                continue
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
            found |= {Path(args[i + 1]) for i, arg in enumerate(args[:-1]) if arg == "--config"}
    return found


def _wait_until_gone(sid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while alive := _session_processes(sid):
        assert time.monotonic() < deadline, f"processes outlived the run: {alive}"
        time.sleep(0.1)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """Start runs in their own sessions; any still alive at the end are killed."""
    runs: list[Run] = []

    def _start(pipeline: Pipeline, command: list[str], name: str, **overrides: str) -> Run:
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603
                command,
                cwd=ROOT,
                env=pipeline.env(MELTANO_BIN=MELTANO, **overrides),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        runs.append(Run(process, log))
        return runs[-1]

    yield _start
    for run in runs:
        run.kill_session()
        with contextlib.suppress(subprocess.TimeoutExpired):
            run.process.wait(timeout=10)
        for path in run.config_files:
            path.unlink(missing_ok=True)


def _meltano_run(*blocks: str) -> list[str]:
    return [MELTANO, "run", *blocks]


def _entrypoint(*args: str) -> list[str]:
    return [*RUN, *args]


def _committed(pipeline: Pipeline) -> list[str]:
    """MatchedObjectIds committed to the raw table (none before it exists)."""
    try:
        return [row[0] for row in pipeline.query('select "MatchedObjectId" from usajobs.jobs')]
    except psycopg.errors.UndefinedTable:
        return []


def _wait_until_mid_load(pipeline: Pipeline, run: Run) -> None:
    """Return once the run has committed MID_LOAD_ROWS rows and is still reading."""
    deadline = time.monotonic() + 120
    while len(_committed(pipeline)) < MID_LOAD_ROWS:
        assert run.process.poll() is None, (
            f"the run ended (exit {run.process.returncode}) before it could be interrupted:\n"
            + run.output()[-4000:]
        )
        assert time.monotonic() < deadline, (
            "no rows committed within 120 s:\n" + run.output()[-4000:]
        )
        time.sleep(0.2)


def _signal_and_wait(run: Run, signum: int) -> float:
    """Send ``signum`` to the run's process group; return how long it took to exit."""
    started = time.monotonic()
    os.killpg(run.sid, signum)
    try:
        run.process.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        alive = _session_processes(run.sid)
        msg = f"still running {STOP_WITHIN} s after {signal.Signals(signum).name}: {alive}\n"
        raise StillRunningError(msg + run.output()[-6000:]) from None
    return time.monotonic() - started


def _slow_pages(api: devenv.FakeApi) -> None:
    api.control("faults", [{"kind": "slow", "seconds": SLOW_PAGE_SECONDS, "times": 1000}])


def _stall(api: devenv.FakeApi) -> None:
    api.control("faults", [{"kind": "slow", "seconds": STALL_SECONDS, "page": STALL_PAGE}])


def _hang(api: devenv.FakeApi) -> None:
    rule = {"kind": "slow", "seconds": HANG_SECONDS, "page": STALL_PAGE, "times": 100}
    api.control("faults", [rule])


def _unstall(api: devenv.FakeApi) -> None:
    api.control("faults", method="DELETE")
    api.control("reset-stats", {})


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
    committed = _committed(pipeline)
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
    raw = _committed(pipeline)
    assert len(raw) == len(set(raw)), "a posting appears twice in usajobs.jobs"
    assert set(raw) == expected
    state = _state(pipeline)
    _assert_state_not_ahead(pipeline, set(raw), state)
    partitions = state["singer_state"]["bookmarks"]["jobs"]["partitions"]
    assert [part.get("replication_key_value") is not None for part in partitions] == [True]


# --- SIGKILL ---------------------------------------------------------------------------------


def test_sigkill_mid_load_refuses_the_next_run_until_it_is_forced(
    pipeline: Pipeline, start: Any
) -> None:
    _stall(pipeline.api)
    run = start(pipeline, _meltano_run("tap-usajobs", "target-postgres"), "killed", **SLOW_RUN)
    _wait_until_mid_load(pipeline, run)

    run.kill_group()
    assert run.process.wait(timeout=30) == -signal.SIGKILL
    _wait_until_gone(run.sid)
    committed, state_after_kill = _assert_interrupted_mid_load(pipeline)
    killed = _killed_run(pipeline)

    # The immediate rerun (a retry, a user at the terminal) is refused before it starts
    # a plugin: no request, no row, no state change, and dbt does not run either.
    _unstall(pipeline.api)
    refused = pipeline.meltano("run", "tap-usajobs", "target-postgres", "dbt-postgres:run")
    assert refused.returncode == 1, refused.stderr[-4000:]
    assert _already_running(killed) in refused.stderr
    assert "dbt-postgres" not in refused.stderr
    assert search_requests(pipeline.api) == []
    assert set(_committed(pipeline)) == committed
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


def test_sigkill_of_the_entrypoint_recovers_once_the_heartbeat_is_stale(
    pipeline: Pipeline, start: Any
) -> None:
    _stall(pipeline.api)
    run = start(pipeline, _entrypoint(), "killed", **SLOW_RUN)
    _wait_until_mid_load(pipeline, run)

    # Everything in the session at once (the entrypoint and meltano's own process
    # group): what `docker kill`, the OOM killer or a lost node does.
    run.kill_session()
    assert run.process.wait(timeout=30) == -signal.SIGKILL
    _wait_until_gone(run.sid)
    committed, _ = _assert_interrupted_mid_load(pipeline)
    killed = _killed_run(pipeline)

    # A retry right away fails, and names the way out.
    _unstall(pipeline.api)
    refused = pipeline.entrypoint()
    assert refused.returncode == 1, refused.stderr[-4000:]
    assert _already_running(killed) in refused.stderr
    assert "entrypoint: run failed with exit code 1" in refused.stderr
    assert "dbt-postgres" not in refused.stderr
    assert search_requests(pipeline.api) == []
    assert set(_committed(pipeline)) == committed

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


def test_sigterm_to_the_entrypoint_stops_the_run_and_the_rerun_completes(
    pipeline: Pipeline, start: Any
) -> None:
    _slow_pages(pipeline.api)
    run = start(pipeline, _entrypoint(), "stopped", **SLOW_RUN)
    _wait_until_mid_load(pipeline, run)

    # The entrypoint's process group (what a supervisor signals); it forwards to meltano.
    _signal_and_wait(run, signal.SIGTERM)
    assert run.process.returncode == SIGTERM_EXIT, run.output()[-6000:]
    _wait_until_gone(run.sid)
    output = run.output()
    assert "entrypoint: received TERM, stopping the run" in output
    assert "target-postgres Received termination signal 15, draining all sinks" in output
    assert f"entrypoint: run failed with exit code {SIGTERM_EXIT}" in output
    _assert_interrupted_mid_load(pipeline)
    assert [(r["state"], json.loads(r["payload"]).get("error")) for r in _runs(pipeline)] == [
        ("FAIL", "The process was terminated")
    ]

    # Meltano closed the run's record, so the rerun needs no --force.
    _unstall(pipeline.api)
    rerun = pipeline.entrypoint()
    assert rerun.returncode == 0, rerun.stderr[-6000:]
    _assert_complete(pipeline)


def test_sigterm_to_the_entrypoint_stops_within_a_minute_while_a_page_hangs(
    pipeline: Pipeline, start: Any
) -> None:
    _hang(pipeline.api)
    run = start(pipeline, _entrypoint(), "stopped", **SLOW_RUN)
    _wait_until_mid_load(pipeline, run)

    _signal_and_wait(run, signal.SIGTERM)
    assert run.process.returncode == SIGTERM_EXIT, run.output()[-6000:]
    _wait_until_gone(run.sid)
    _assert_interrupted_mid_load(pipeline)


@pytest.mark.parametrize(
    ("signum", "exit_code", "recorded"),
    [
        pytest.param(signal.SIGTERM, SIGTERM_EXIT, "The process was terminated", id="SIGTERM"),
        pytest.param(signal.SIGINT, MELTANO_ABORTED, "The process was interrupted", id="SIGINT"),
    ],
)
def test_signal_to_a_meltano_run_group_stops_it_and_the_rerun_completes(
    pipeline: Pipeline, start: Any, signum: int, exit_code: int, recorded: str
) -> None:
    # `kill -- -PGID` or Ctrl-C at a terminal: meltano, the tap and the target all get
    # the signal at once, and meltano then signals its plugins a second time.
    _stall(pipeline.api)
    run = start(pipeline, _meltano_run("tap-usajobs", "target-postgres"), "stopped", **SLOW_RUN)
    _wait_until_mid_load(pipeline, run)

    _signal_and_wait(run, signum)
    assert run.process.returncode == exit_code, run.output()[-6000:]
    _wait_until_gone(run.sid)
    _assert_interrupted_mid_load(pipeline)
    assert [(r["state"], json.loads(r["payload"]).get("error")) for r in _runs(pipeline)] == [
        ("FAIL", recorded)
    ]

    _unstall(pipeline.api)
    pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:run")
    _assert_complete(pipeline)


# --- secrets ---------------------------------------------------------------------------------


@pytest.fixture
def secret_pg() -> Iterator[devenv.EmbeddedPostgres]:
    """An embedded server whose TCP logins need DB_PASSWORD, with an empty "usajobs"."""
    with devenv.server_data_dir() as data_dir:
        embedded = devenv.EmbeddedPostgres(data_dir, password=DB_PASSWORD)
        embedded.start()
        embedded.server.create_database("usajobs")
        yield embedded
        with contextlib.suppress(subprocess.CalledProcessError):  # a test may have stopped it
            embedded.stop("immediate")


@pytest.fixture
def secret_pipeline(secret_pg: devenv.EmbeddedPostgres, tmp_path: Path) -> Iterator[Pipeline]:
    """The usual runner with secrets worth finding: the fake demands API_KEY.

    Every process's temporary files and per-user files go to the test's own folder,
    which is scanned too: meltano 4 writes each run's log to the user's log folder
    ($XDG_STATE_HOME/meltano/log/elt/...), not to the project, and dbt writes to ~/.dbt.
    """
    user_dirs = {
        "TMPDIR": tmp_path / "tmp",
        "HOME": tmp_path / "home",
        "XDG_STATE_HOME": tmp_path / "home" / "state",
        "XDG_CACHE_HOME": tmp_path / "home" / "cache",
        "XDG_CONFIG_HOME": tmp_path / "home" / "config",
    }
    for folder in user_dirs.values():
        folder.mkdir(parents=True)
    with devenv.fake_api("--postings", "900", "--seed", "11", "--api-key", API_KEY) as api:
        yield Pipeline(
            server=secret_pg.server,
            database="usajobs",
            api=dataclasses.replace(api, api_key=API_KEY),
            state_dir=tmp_path,
            overrides={name: str(folder) for name, folder in user_dirs.items()},
        )


def _files_written_since(folder: Path, since: float) -> Iterator[Path]:
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = [name for name in subdirectories if name != ".git"]
        for name in files:
            path = Path(directory, name)
            with contextlib.suppress(OSError):  # removed while we walked
                if path.is_file() and not path.is_symlink() and path.stat().st_mtime >= since:
                    yield path


def _holding_secrets(paths: Iterator[Path]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            hits = [secret for secret in SECRETS if secret.encode() in data]
            if hits:
                found[str(path)] = hits
    return found


def test_secrets_appear_in_no_output_state_or_file(
    secret_pg: devenv.EmbeddedPostgres, secret_pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline = secret_pipeline
    since = time.time() - 2  # a little slack for file systems with coarse timestamps
    outputs: dict[str, str] = {}

    def record(name: str, result: Any) -> Any:
        outputs[name] = result.stdout + result.stderr
        return result

    success = record("entrypoint: usajobs-elt", pipeline.entrypoint())
    assert success.returncode == 0, success.stderr[-6000:]
    assert pipeline.query("select count(*) from job_listings")[0][0] > 0

    wrong_key = record(
        "wrong API key",
        pipeline.meltano(
            "run", "tap-usajobs", "target-postgres", TAP_USAJOBS_API_KEY=WRONG_API_KEY
        ),
    )
    assert wrong_key.returncode != 0
    assert "HTTP 401" in wrong_key.stderr

    pipeline.api.control("faults", [{"kind": "truncate", "times": 50}])
    malformed = record("malformed page", pipeline.meltano("run", "tap-usajobs", "target-postgres"))
    pipeline.api.control("faults", method="DELETE")
    assert malformed.returncode != 0
    assert "Malformed JSON" in malformed.stderr

    discover = record("discover", pipeline.meltano("invoke", "tap-usajobs", "--discover"))
    assert discover.returncode == 0, discover.stderr[-3000:]
    assert '"streams"' in discover.stdout

    listed = record("config list", pipeline.meltano("config", "list", "tap-usajobs"))
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "api_key [env: TAP_USAJOBS_API_KEY] current value: (redacted)" in listed.stdout
    printed = record("config print", pipeline.meltano("config", "print", "tap-usajobs"))
    assert printed.returncode == 0, printed.stderr[-3000:]
    assert json.loads(printed.stdout)["api_key"] == "*****"
    loader = record("config list loader", pipeline.meltano("config", "list", "target-postgres"))
    assert loader.returncode == 0, loader.stderr[-3000:]

    record("state list", pipeline.meltano("state", "list"))
    state = record("state get", pipeline.meltano("state", "get", STATE_ID))
    assert state.returncode == 0
    assert "replication_key_value" in state.stdout

    secret_pg.stop("fast")
    down = record("database down", pipeline.meltano("run", "tap-usajobs", "target-postgres"))
    assert down.returncode != 0
    assert "Connection refused" in down.stderr or "connection failed" in down.stderr
    down_entry = record("entrypoint: database down", pipeline.entrypoint())
    assert down_entry.returncode == EX_UNAVAILABLE

    leaked = {
        name: [secret for secret in SECRETS if secret in text] for name, text in outputs.items()
    }
    assert {name: hits for name, hits in leaked.items() if hits} == {}
    # Every file written meanwhile: in the project (.meltano/run, dbt's target/ and
    # logs/), and in this test's folder: the system DB (state and run records), each
    # run's elt.log, every process's TMPDIR and home.
    written = [*_files_written_since(ROOT, since), *_files_written_since(tmp_path, since)]
    names = {path.name for path in written}
    assert {"meltano.db", "elt.log", "dbt.log"} <= names, names
    assert _holding_secrets(iter(written)) == {}
    # Each entrypoint run's private folder (plugin configs, catalog, dbt's target) is gone.
    assert not list((tmp_path / "tmp").glob("usajobs-run.*"))


def test_a_killed_run_leaves_no_api_key_behind_once_the_next_run_starts(
    secret_pipeline: Pipeline, start: Any
) -> None:
    pipeline = secret_pipeline
    _stall(pipeline.api)
    run = start(pipeline, _entrypoint(), "killed", **SLOW_RUN)
    _wait_until_mid_load(pipeline, run)
    run.kill_session()
    run.process.wait(timeout=30)
    _wait_until_gone(run.sid)

    _unstall(pipeline.api)
    pipeline.entrypoint()  # refused (the killed run looks alive), but it has started

    assert run.config_files, "the killed run's plugins were started with no --config file?"
    config_files = [path for path in run.config_files if path.exists()]
    if left := _holding_secrets(iter(config_files)):
        msg = f"left behind by the killed run: {left}"
        raise SecretOnDiskError(msg)
