"""Local services for the demo and the tests: a Postgres to load into and the fake API.

Used by ``scripts/local.py`` (``make demo``/``make run``) and by ``tests/conftest.py``,
so the demo and the suite set themselves up the same way. Not used in production: the
runtime (``orchestrate/run.py``) only talks to what PG* points at.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    import psycopg

ROOT = Path(__file__).resolve().parent.parent
TAP_DIR = ROOT / "tap-usajobs"
FAKE_API_KEY = "fake-key"  # the fake server's default; not a secret
PG_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Postgres:
    """Where to reach a PostgreSQL server, as libpq variables."""

    host: str
    port: int
    user: str
    password: str | None = None

    def env(self, database: str) -> dict[str, str]:
        """PG* variables for ``database`` on this server."""
        env = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": database,
        }
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
        """A psycopg connection in autocommit mode."""
        import psycopg  # noqa: PLC0415  # only the project venv has it

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def value(self, database: str, sql: str) -> Any:  # noqa: ANN401  # a query's one value
        """The first column of the first row of ``sql`` in ``database``."""
        with self.connect(database) as conn:
            row = conn.execute(sql).fetchone()
        if row is None:
            msg = f"{sql!r} returned no row"
            raise LookupError(msg)
        return row[0]

    def create_database(self, name: str, *, replace: bool = False) -> None:
        """Create ``name`` unless it exists (or drop and recreate it with ``replace``)."""
        with self.connect() as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (name,)
            ).fetchone()
            if exists and replace:
                conn.execute(f'drop database "{name}" with (force)')
                exists = None
            if not exists:
                conn.execute(f'create database "{name}"')

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists."""
        with self.connect() as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def configured_postgres() -> Postgres | None:
    """The server PG* variables point at, or None when PGHOST is not set."""
    host = os.environ.get("PGHOST")
    if not host:
        return None
    return Postgres(
        host=host,
        port=int(os.environ.get("PGPORT") or 5432),
        user=os.environ.get("PGUSER") or "postgres",
        password=os.environ.get("PGPASSWORD") or None,
    )


@contextlib.contextmanager
def _machine_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock shared by every process on this machine."""
    import fcntl  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    with (Path(tempfile.gettempdir()) / f"usajobs-{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


@contextlib.contextmanager
def server_data_dir() -> Iterator[Path]:
    """A fresh folder for an embedded cluster's data, removed afterwards.

    Not under pytest's tmp_path: pytest resets its base folder to mode 0700 whenever a
    session starts, which locks out the non-root user the server runs as.
    """
    import shutil  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    folder = Path(tempfile.mkdtemp(prefix="usajobs-pg-"))
    try:
        yield folder / "pgdata"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class EmbeddedPostgres:
    """A throwaway PostgreSQL 16 from the ``pgserver`` wheel, listening on loopback TCP.

    pgserver starts servers on a unix socket only, and target-postgres needs a host and
    port, so the cluster it initialises is restarted here on a free TCP port. Tests
    also stop and start it to simulate an outage; with ``password`` set, TCP logins
    need that password (scram-sha-256), so a wrong one can be tested.
    """

    def __init__(self, data_dir: Path, password: str | None = None) -> None:
        """Initialise the cluster in ``data_dir`` (reused if it exists)."""
        import pgserver  # noqa: PLC0415  # only the project venv has it

        self._pgserver = pgserver
        self.data_dir = data_dir
        self.password = password
        data_dir.mkdir(parents=True, exist_ok=True)
        # Under root, pgserver first adds the system user the server runs as; parallel
        # test workers on a fresh machine would race to add it (useradd exits 9).
        with _machine_lock("pgserver-setup"):
            server = pgserver.get_server(data_dir, cleanup_mode=None)
        self._run_as = server.system_user  # pgserver runs postgres as non-root under root
        if password:
            # Set over the trusted unix socket, before TCP logins start to need it.
            server.psql(f"alter role postgres password '{password}'")
            hba = data_dir / "pg_hba.conf"
            hba.write_text(
                "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
            )
        self._ctl("-m", "fast", "stop")
        self.port = free_port()
        self._socket_dir = data_dir / "socket"
        self._socket_dir.mkdir(exist_ok=True)
        if self._run_as:
            import shutil  # noqa: PLC0415

            shutil.chown(self._socket_dir, user=self._run_as)

    @property
    def server(self) -> Postgres:
        """How to reach it."""
        return Postgres(host="127.0.0.1", port=self.port, user="postgres", password=self.password)

    def start(self) -> None:
        """Start (or restart) the server on its port."""
        self._ctl(
            "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self._socket_dir}",
            "-l",
            str(self.data_dir / "server.log"),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; mode "immediate" is a crash, as far as clients can tell."""
        self._ctl("-m", mode, "stop")

    def _ctl(self, *args: str) -> None:
        self._pgserver.pg_ctl(["-w", *args], pgdata=self.data_dir, user=self._run_as, timeout=60)


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, password: str | None = None) -> Iterator[Postgres]:
    """Run an ``EmbeddedPostgres`` for the duration of the block."""
    embedded = EmbeddedPostgres(data_dir, password=password)
    embedded.start()
    try:
        yield embedded.server
    finally:
        embedded.stop()


@contextlib.contextmanager
def postgres(data_dir: Path) -> Iterator[Postgres]:
    """The configured server when PGHOST is set, else an embedded one."""
    configured = configured_postgres()
    if configured is not None:
        yield configured
        return
    print(f"PGHOST is not set: starting a throwaway PostgreSQL in {data_dir}", flush=True)
    with embedded_postgres(data_dir) as server:
        yield server


@dataclass(frozen=True)
class FakeApi:
    """A running fake USAJobs API."""

    url: str
    api_key: str = FAKE_API_KEY

    def control(self, path: str, body: object | None = None, method: str | None = None) -> Any:  # noqa: ANN401  # the fake's JSON
        """Call one of the fake's ``/_fake/...`` control endpoints."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310  # our own loopback server
            f"{self.url}/_fake/{path}",
            data=data,
            method=method or ("POST" if data is not None else "GET"),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
        return json.loads(raw) if raw else None


@contextlib.contextmanager
def fake_api(*args: str, python: str = sys.executable) -> Iterator[FakeApi]:
    """Run the fake USAJobs API in a subprocess on a free port; extra CLI ``args`` pass on.

    It runs under any Python: the fake is stdlib-only and found through PYTHONPATH.
    """
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(TAP_DIR)}
    process = subprocess.Popen(  # noqa: S603
        [python, "-m", "tap_usajobs.testing.fake_api", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    api = FakeApi(url=f"http://127.0.0.1:{port}")
    try:
        _wait_until_listening(api, process)
        yield api
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_listening(api: FakeApi, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"the fake API exited with code {process.returncode} before listening"
            raise RuntimeError(msg)
        try:
            api.control("stats")
        except OSError:
            time.sleep(0.1)
        else:
            return
    msg = "the fake API did not start listening within 20 s"
    raise RuntimeError(msg)
