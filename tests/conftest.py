"""Fixtures for the end-to-end suite: a real PostgreSQL, the fake API over HTTP, meltano.

Every test gets its own database and its own Meltano system database (state), so tests
never see each other's rows or bookmarks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
