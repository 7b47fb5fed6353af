"""Fixtures for the end-to-end suite: a real PostgreSQL, the fake API over HTTP, meltano.

Every test gets its own database, its own Meltano system database (state) and its own
.meltano folder (plugin configs, catalogs) and dbt target, so tests never see each
other's rows, bookmarks or files, and can run in parallel (pytest -n).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pty
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "orchestrate"))  # the runtime package
sys.path.insert(0, str(ROOT / "scripts"))  # devenv: local services for the demo and tests
sys.path.insert(0, str(ROOT / ".ci"))  # containers: the CI image builder (tests/container)

import devenv  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

MELTANO = str(Path(sys.executable).with_name("meltano"))
KEYWORD = "data engineering"
STATE_ID = "dev:tap-usajobs-to-target-postgres"
#: What a container, cron or Cloud Run job runs: the runtime's one command.
RUN = [sys.executable, str(ROOT / "orchestrate" / "run.py")]
RUN_TIMEOUT = 300


def pytest_configure(config: pytest.Config) -> None:
    """Tiers: `make test` skips `full` cases, `make test-full` runs them; `live` is opt-in."""
    config.addinivalue_line(
        "markers", "full: a slow case that only the full loop runs (make test-full, CI)"
    )
    config.addinivalue_line(
        "markers", "live: reads the real USAJobs API; only `make live-check` runs it"
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[devenv.Postgres]:
    """The PG* server, or an embedded one when PGHOST is unset."""
    with devenv.server_data_dir() as data_dir, devenv.postgres(data_dir) as server:
        yield server


@pytest.fixture
def database(pg_server: devenv.Postgres) -> Iterator[str]:
    """A fresh, empty database for one test."""
    name = f"usajobs_test_{uuid.uuid4().hex[:10]}"
    pg_server.create_database(name)
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def fake() -> Iterator[devenv.FakeApi]:
    """The fake USAJobs API in its own process, reached over real HTTP."""
    with devenv.fake_api("--postings", "900", "--seed", "11") as api:
        yield api


@dataclass
class Pipeline:
    """Runs meltano in this repo against one test database, fake API and state store."""

    server: devenv.Postgres
    database: str
    api: devenv.FakeApi
    state_dir: Path
    overrides: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """A .meltano of this test's own, with the installed plugins linked in."""
        self.sys_dir = self.state_dir / "meltano-sys"
        if not self.sys_dir.exists():
            self.sys_dir.mkdir(parents=True)
            for plugins in ("extractors", "loaders", "utilities"):
                (self.sys_dir / plugins).symlink_to(ROOT / ".meltano" / plugins)

    def env(self, **overrides: str | None) -> dict[str, str]:
        """The environment a run sees; a None value removes the variable."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TAP_USAJOBS_", "TARGET_", "MELTANO_", "PG"))
        }
        env.update(self.server.env(self.database))
        env.update(
            {
                "MELTANO_DATABASE_URI": f"sqlite:///{self.state_dir / 'meltano.db'}",
                "MELTANO_SYS_DIR_ROOT": str(self.sys_dir),
                "DBT_TARGET_PATH": str(self.state_dir / "dbt-target"),
                "DBT_LOG_PATH": str(self.state_dir / "dbt-logs"),
                "TAP_USAJOBS_BASE_URL": self.api.url,
                "TAP_USAJOBS_API_KEY": self.api.api_key,
                "TAP_USAJOBS_USER_AGENT": "e2e-tests@example.com",
                "TAP_USAJOBS_RESULTS_PER_PAGE": "50",
                "TAP_USAJOBS_BACKOFF_BASE_MS": "50",
                "TAP_USAJOBS_MAX_RETRIES": "3",
            }
        )
        for key, value in {**self.overrides, **overrides}.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def meltano(self, *args: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
        """Run ``meltano ARGS`` from the project root; output is captured as text."""
        return subprocess.run(  # noqa: S603
            [MELTANO, *args],
            cwd=ROOT,
            env=self.env(**overrides),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )

    def entrypoint(self, *args: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
        """``orchestrate/run.py ARGS``, as a container or scheduler starts a run."""
        return subprocess.run(  # noqa: S603
            [*RUN, *args],
            cwd=ROOT,
            env=self.env(MELTANO_BIN=MELTANO, **overrides),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )

    def run_ok(self, *args: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
        """``meltano run ARGS``, failing the test with the log if it does not exit 0."""
        result = self.meltano("run", *args, **overrides)
        assert result.returncode == 0, result.stderr[-6000:]
        return result

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` in the test database."""
        with self.server.connect(self.database) as conn:
            return conn.execute(sql, params).fetchall()

    def runs(self) -> list[dict[str, Any]]:
        """Rows of usajobs_ops.pipeline_runs, oldest first, as dicts."""
        with self.server.connect(self.database) as conn:
            cursor = conn.execute("select * from usajobs_ops.pipeline_runs order by started_at")
            names = [column.name for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def state(self) -> str:
        """The saved Singer state of the tap-to-postgres pipeline, as text."""
        result = self.meltano("state", "get", STATE_ID)
        return result.stdout if result.returncode == 0 else ""


@pytest.fixture
def pipeline(
    pg_server: devenv.Postgres,
    database: str,
    fake: devenv.FakeApi,
    tmp_path: Path,
) -> Pipeline:
    """A meltano runner wired to this test's database, fake API and state store."""
    return Pipeline(server=pg_server, database=database, api=fake, state_dir=tmp_path)


def expected_ids(api: devenv.FakeApi, **params: str) -> set[str]:
    """Control numbers the fake holds for a Search query, regardless of paging."""
    query = "&".join(f"{key}={value.replace(' ', '%20')}" for key, value in params.items())
    answer = api.control(f"expected?{query}")
    return set(answer["ids"])


def search_requests(api: devenv.FakeApi) -> list[dict[str, Any]]:
    """The Search requests the fake has answered since its stats were reset."""
    stats = api.control("stats")
    return [request for request in stats["requests"] if request["path"].lower() == "/api/search"]


STOP_WITHIN = 60  # seconds a signalled run may take to exit
# Sequential pages of 10 (about 21 of them) and target batches of 20: rows are committed
# two pages at a time, and a run that has committed MID_LOAD_ROWS has read 4 pages or more.
SLOW_RUN = {
    "TAP_USAJOBS_MAX_CONCURRENT_REQUESTS": "1",
    "TAP_USAJOBS_RESULTS_PER_PAGE": "10",
    "TARGET_POSTGRES_BATCH_SIZE_ROWS": "20",
}
MID_LOAD_ROWS = 40
# slow_pages: the read takes 20 s; a signal finds the tap waiting a second at most.
# (The target commits jobs rows some seconds after the tap reads them: it commits the
# code lists first, 20 rows at a time.)
SLOW_PAGE_SECONDS = 1.0
STALL_PAGE = 6
STALL_SECONDS = 45  # stall: page 6 answers 45 s late, within request_timeout (60 s)
HANG_SECONDS = 600  # hang: every attempt at page 6 outlasts request_timeout


class StillRunningError(AssertionError):
    """A signalled run did not exit within STOP_WITHIN seconds."""


# --- runs in sessions of their own, as a container runtime or scheduler starts them -------


@dataclasses.dataclass
class Run:
    """One background run in a session of its own; its output goes to a file."""

    process: subprocess.Popen[bytes]
    log: Path
    # Meltano's per-run plugin config files, seen in the plugins' command lines: a killed
    # run leaves them in its private folder, and the test removes them when it ends.
    config_files: set[Path] = dataclasses.field(default_factory=set)
    #: Copies a pseudo-terminal's output to ``log`` (runs started with terminal=True).
    copier: threading.Thread | None = None

    def finish(self, timeout: float = RUN_TIMEOUT) -> int:
        """Wait for the run to exit and its output to be copied; its exit code."""
        code = self.process.wait(timeout=timeout)
        if self.copier is not None:
            self.copier.join(timeout=30)
            assert not self.copier.is_alive(), "something still holds the terminal open"
        return code

    @property
    def sid(self) -> int:
        """Session (and first process group) id: the leader's pid."""
        return self.process.pid

    def output(self) -> str:
        """Everything the run has written so far, stdout and stderr interleaved.

        Bytes decoded, not read as text: a terminal's carriage returns (redrawn lines)
        stay as written.
        """
        return self.log.read_bytes().decode(errors="replace")

    def kill_group(self) -> None:
        """SIGKILL the leader's process group (`kill -9 -- -PGID`)."""
        self.config_files |= config_files(self.sid)
        os.killpg(self.sid, signal.SIGKILL)

    def kill_session(self) -> None:
        """SIGKILL every process of the session, as a container runtime or the OOM killer does."""
        for _ in range(50):  # processes may still be forking: repeat until none is left
            self.config_files |= config_files(self.sid)
            alive = session_processes(self.sid)
            if not alive:
                return
            for entry in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.split()[0]), signal.SIGKILL)
            time.sleep(0.1)


def session_processes(sid: int) -> list[str]:
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


def config_files(sid: int) -> set[Path]:
    """The ``--config`` files the session's processes were started with."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError, ValueError):
            if int(cmdline.parent.joinpath("stat").read_text().rsplit(")", 1)[1].split()[3]) != sid:
                continue
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
            found |= {Path(args[i + 1]) for i, arg in enumerate(args[:-1]) if arg == "--config"}
    return found


def wait_until_gone(sid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while alive := session_processes(sid):
        assert time.monotonic() < deadline, f"processes outlived the run: {alive}"
        time.sleep(0.1)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """Start runs in their own sessions; any still alive at the end are killed."""
    runs: list[Run] = []

    def _start(
        pipeline: Pipeline,
        command: list[str],
        name: str,
        *,
        terminal: bool = False,
        **overrides: str,
    ) -> Run:
        """``terminal``: its stdin, stdout and stderr are a pseudo-terminal, as in a shell."""
        log = tmp_path / f"{name}.log"
        screen = pty.openpty() if terminal else None
        with log.open("wb") as out:
            streams: dict[str, Any] = (
                {"stdin": screen[1], "stdout": screen[1], "stderr": screen[1]}
                if screen
                else {"stdout": out, "stderr": subprocess.STDOUT}
            )
            try:
                process = subprocess.Popen(  # noqa: S603
                    command,
                    cwd=ROOT,
                    env=pipeline.env(MELTANO_BIN=MELTANO, **overrides),
                    start_new_session=True,
                    **streams,
                )
            except BaseException:
                for fd in screen or ():
                    os.close(fd)
                raise
        copier = None
        if screen:
            os.close(screen[1])
            copier = threading.Thread(target=_copy_screen, args=(screen[0], log), daemon=True)
            copier.start()
        runs.append(Run(process, log, copier=copier))
        return runs[-1]

    yield _start
    for run in runs:
        run.kill_session()
        with contextlib.suppress(subprocess.TimeoutExpired):
            run.process.wait(timeout=10)
        for path in run.config_files:
            path.unlink(missing_ok=True)


def _copy_screen(terminal: int, log: Path) -> None:
    """Append what is written to a pseudo-terminal to ``log``, until its last writer exits."""
    with log.open("ab") as out:
        while True:
            try:
                data = os.read(terminal, 65536)
            except OSError:  # EIO: no process has the terminal open any more
                break
            if not data:
                break
            out.write(data)
            out.flush()
    os.close(terminal)


def meltano_run(*blocks: str) -> list[str]:
    return [MELTANO, "run", *blocks]


def runtime(*args: str) -> list[str]:
    return [*RUN, *args]


def committed_ids(pipeline: Pipeline) -> list[str]:
    """MatchedObjectIds committed to the raw table (none before it exists)."""
    try:
        return [row[0] for row in pipeline.query('select "MatchedObjectId" from usajobs.jobs')]
    except psycopg.errors.UndefinedTable:
        return []


def wait_until_mid_load(pipeline: Pipeline, run: Run) -> None:
    """Return once the run has committed MID_LOAD_ROWS rows and is still reading."""
    deadline = time.monotonic() + 120
    while len(committed_ids(pipeline)) < MID_LOAD_ROWS:
        assert run.process.poll() is None, (
            f"the run ended (exit {run.process.returncode}) before it could be interrupted:\n"
            + run.output()[-4000:]
        )
        assert time.monotonic() < deadline, (
            "no rows committed within 120 s:\n" + run.output()[-4000:]
        )
        time.sleep(0.2)


def signal_and_wait(run: Run, signum: int) -> float:
    """Send ``signum`` to the run's process group; return how long it took to exit."""
    started = time.monotonic()
    os.killpg(run.sid, signum)
    try:
        run.process.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        alive = session_processes(run.sid)
        msg = f"still running {STOP_WITHIN} s after {signal.Signals(signum).name}: {alive}\n"
        raise StillRunningError(msg + run.output()[-6000:]) from None
    return time.monotonic() - started


def slow_pages(api: devenv.FakeApi) -> None:
    api.control("faults", [{"kind": "slow", "seconds": SLOW_PAGE_SECONDS, "times": 1000}])


def stall(api: devenv.FakeApi) -> None:
    api.control("faults", [{"kind": "slow", "seconds": STALL_SECONDS, "page": STALL_PAGE}])


def hang(api: devenv.FakeApi) -> None:
    rule = {"kind": "slow", "seconds": HANG_SECONDS, "page": STALL_PAGE, "times": 100}
    api.control("faults", [rule])


def unstall(api: devenv.FakeApi) -> None:
    api.control("faults", method="DELETE")
    api.control("reset-stats", {})
