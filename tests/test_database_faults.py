"""Database faults on a server of the test's own: wrong password, missing database, outage.

Each test gets a throwaway embedded PostgreSQL that requires a password over TCP, so it
can be stopped mid-load and can reject a wrong password, whatever the shared server
allows.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import devenv
import pytest
from conftest import KEYWORD, MELTANO, ROOT, Pipeline, expected_ids
from psycopg.conninfo import make_conninfo
from runtime import preflight

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PASSWORD = "db-pass-7c41e2"  # noqa: S105  # a throwaway server's, asserted never to be logged
DATABASE = "usajobs"


@pytest.fixture
def own_pg() -> Iterator[devenv.EmbeddedPostgres]:
    """An embedded server that needs PASSWORD, with an empty DATABASE."""
    with devenv.server_data_dir() as data_dir:
        embedded = devenv.EmbeddedPostgres(data_dir, password=PASSWORD)
        embedded.start()
        embedded.server.create_database(DATABASE)
        yield embedded
        with contextlib.suppress(subprocess.CalledProcessError):  # a test may have stopped it
            embedded.stop("immediate")


@pytest.fixture
def own_pipeline(
    own_pg: devenv.EmbeddedPostgres,
    fake: devenv.FakeApi,
    tmp_path: Path,
) -> Pipeline:
    """The usual runner, loading into ``own_pg``."""
    return Pipeline(server=own_pg.server, database=DATABASE, api=fake, state_dir=tmp_path)


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_wrong_password_fails_clearly_and_is_never_logged(own_pipeline: Pipeline) -> None:
    wrong = "not-the-password-93b1"
    result = own_pipeline.meltano("run", "tap-usajobs", "target-postgres", PGPASSWORD=wrong)

    assert result.returncode != 0
    assert "password authentication failed" in result.stderr
    assert wrong not in _output(result)
    assert KEYWORD not in own_pipeline.state()


def test_missing_database_fails_clearly(own_pipeline: Pipeline) -> None:
    result = own_pipeline.meltano(
        "run", "tap-usajobs", "target-postgres", PGDATABASE="no_such_database"
    )

    assert result.returncode != 0
    assert 'database "no_such_database" does not exist' in result.stderr
    assert PASSWORD not in _output(result)
    assert KEYWORD not in own_pipeline.state()


def test_database_outage_mid_load_loses_nothing(
    own_pg: devenv.EmbeddedPostgres,
    own_pipeline: Pipeline,
) -> None:
    # Slow, sequential pages and small target batches: rows are being committed while
    # the tap is still reading when the server goes down.
    slow = {
        "TAP_USAJOBS_MAX_CONCURRENT_REQUESTS": "1",
        "TAP_USAJOBS_RESULTS_PER_PAGE": "10",
        "TARGET_POSTGRES_BATCH_SIZE_ROWS": "20",
    }
    own_pipeline.api.control("faults", [{"kind": "slow", "seconds": 0.4, "times": 1000}])
    run = subprocess.Popen(  # noqa: S603
        [MELTANO, "run", "tap-usajobs", "target-postgres"],
        cwd=ROOT,
        env=own_pipeline.env(**slow),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_committed_rows(own_pipeline, run)
        own_pg.stop("immediate")
        _, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0, "a run that lost its database must fail"
    assert PASSWORD not in stderr
    assert KEYWORD not in own_pipeline.state(), "no bookmark may pass uncommitted rows"

    own_pg.start()
    own_pipeline.api.control("faults", method="DELETE")
    own_pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:run")

    rows = own_pipeline.query("select control_number::text from job_listings")
    loaded = [row[0] for row in rows]
    assert len(loaded) == len(set(loaded))
    assert set(loaded) == expected_ids(own_pipeline.api, Keyword=KEYWORD)


def _wait_for_committed_rows(pipeline: Pipeline, run: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert run.poll() is None, "the run ended before the outage could be staged"
        # The table does not exist until the first batch: errors until then are expected.
        with contextlib.suppress(Exception):
            if pipeline.query("select count(*) from usajobs.jobs")[0][0] > 0:
                return
        time.sleep(0.2)
    pytest.fail("no rows were committed within 120 s")


def test_tasks_racing_to_create_meltanos_schema_both_go_on(pipeline: Pipeline) -> None:
    # Cloud Run tasks start at once: one creates meltano's schema after another looked
    # for it and found nothing. CREATE SCHEMA IF NOT EXISTS then fails on the catalog's
    # unique index instead of finding the schema; the runtime must take that as "exists".
    env = pipeline.server.env(pipeline.database)
    conninfo = make_conninfo(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        dbname=pipeline.database,
        options="-csearch_path=meltano_race",
    )
    with pipeline.server.connect(pipeline.database) as first, ThreadPoolExecutor(1) as pool:
        first.execute("begin")
        first.execute("create schema meltano_race")  # not committed: invisible to others
        racing = pool.submit(preflight.ensure_system_schema, conninfo)
        waiting = (
            "select count(*) from pg_stat_activity"
            " where wait_event_type = 'Lock' and query ilike 'create schema%%'"
        )
        deadline = time.monotonic() + 30
        while pipeline.query(waiting) != [(1,)]:  # it looked, and now waits to create
            assert time.monotonic() < deadline, "the second task never reached its create"
            time.sleep(0.05)
        first.execute("commit")
        assert racing.result(timeout=30) is None
