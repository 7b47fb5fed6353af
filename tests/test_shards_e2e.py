"""Scale-out: tasks of one execution split the queries and together load everything once."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING

import pytest
from conftest import MELTANO, ROOT, RUN, expected_ids, search_requests

if TYPE_CHECKING:
    from conftest import Pipeline

KEYWORDS = ["data engineering", "nurse", "analyst", "police", "budget"]
TASKS = 3


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_cloud_run_tasks_at_once_cover_every_query_once_and_build_the_models(
    pipeline: Pipeline,
) -> None:
    env = {
        "TAP_USAJOBS_KEYWORDS": json.dumps(KEYWORDS),
        "MELTANO_BIN": MELTANO,
        # Tasks run at once: state in Postgres, as in the image (ADR 8), not in one SQLite.
        "MELTANO_DATABASE_URI": "postgresql+psycopg://?options=-csearch_path%3Dmeltano",
    }
    # At once, from one project folder: each run has its own meltano system folder, so
    # the tasks never read each other's catalog or state file. Logs go to files: a task
    # blocked on a full pipe would hold the dbt lock the others wait for.
    logs = [pipeline.state_dir / f"task-{index}.log" for index in range(TASKS)]
    tasks = []
    for index, log in enumerate(logs):
        with log.open("w") as stderr:
            tasks.append(
                subprocess.Popen(  # noqa: S603
                    RUN,
                    cwd=ROOT,
                    env=pipeline.env(
                        **env, CLOUD_RUN_TASK_INDEX=str(index), CLOUD_RUN_TASK_COUNT=str(TASKS)
                    ),
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            )
    for index, (task, log) in enumerate(zip(tasks, logs, strict=True)):
        task.wait(timeout=600)
        assert task.returncode == 0, log.read_text()[-4000:]
        assert f"shard-{index}-of-{TASKS}" in log.read_text()

    queried = [r["params"].get("Keyword") for r in search_requests(pipeline.api)]
    first_pages = [
        r["params"].get("Keyword")
        for r in search_requests(pipeline.api)
        if r["params"].get("Page") == "1"
    ]
    assert sorted(first_pages) == sorted(KEYWORDS), "each query must run exactly once"
    assert set(queried) == set(KEYWORDS)

    wanted = set().union(*(expected_ids(pipeline.api, Keyword=k) for k in KEYWORDS))
    rows = pipeline.query("select control_number::text from job_listings")
    loaded = [row[0] for row in rows]
    assert len(loaded) == len(set(loaded))
    assert set(loaded) == wanted

    listed = pipeline.meltano("state", "list", MELTANO_DATABASE_URI=env["MELTANO_DATABASE_URI"])
    assert {
        f"dev:tap-usajobs-to-target-postgres:shard-{i}-of-{TASKS}" for i in range(TASKS)
    } <= set(listed.stdout.split())


def test_entrypoint_takes_the_database_from_a_url_secret(pipeline: Pipeline) -> None:
    server = pipeline.server
    url = f"postgresql://{server.user}@{server.host}:{server.port}/{pipeline.database}?sslmode=disable"
    unset_pg = dict.fromkeys(("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"))
    entrypoint = [*RUN, "tap-usajobs", "target-postgres"]

    def run(database_url: str) -> subprocess.CompletedProcess[str]:
        env = pipeline.env(**unset_pg, DATABASE_URL=database_url, MELTANO_BIN=MELTANO)
        return subprocess.run(  # noqa: S603
            entrypoint, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
        )

    good = run(url)
    assert good.returncode == 0, good.stderr[-4000:]
    assert pipeline.query("select count(*) from usajobs.jobs")[0][0] > 0

    bad = run("postgresql://app:hunter2-secret@db/jobs?bogus=1")
    assert bad.returncode == 64
    assert "DATABASE_URL is not a valid PostgreSQL connection URL" in bad.stderr
    assert "hunter2-secret" not in bad.stdout + bad.stderr


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_a_backfill_across_cloud_run_tasks_loads_exactly_what_one_task_loads(
    pipeline: Pipeline,
) -> None:
    window = ("2024-01-01", "2026-06-30")  # 30 month windows
    env = {
        "MELTANO_BIN": MELTANO,
        "MELTANO_DATABASE_URI": "postgresql+psycopg://?options=-csearch_path%3Dmeltano",
    }
    one = subprocess.run(  # noqa: S603
        [*RUN, "--backfill", *window],
        cwd=ROOT,
        env=pipeline.env(**env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert one.returncode == 0, one.stderr[-4000:]
    counts = "select count(*), count(distinct control_number) from historic_job_listings"
    ids = "select control_number from historic_job_listings order by 1"
    unsharded = pipeline.query(ids)
    assert len(unsharded) > 100
    assert pipeline.query(counts) == [(len(unsharded), len(unsharded))]
    with pipeline.server.connect(pipeline.database) as conn:  # the same database, empty
        conn.execute("drop schema usajobs cascade")
        conn.execute("drop schema public cascade")
        conn.execute("create schema public")

    logs = [pipeline.state_dir / f"backfill-task-{index}.log" for index in range(TASKS)]
    tasks = []
    for index, log in enumerate(logs):
        with log.open("w") as stderr:
            task_env = pipeline.env(
                **env, CLOUD_RUN_TASK_INDEX=str(index), CLOUD_RUN_TASK_COUNT=str(TASKS)
            )
            tasks.append(
                subprocess.Popen(  # noqa: S603
                    [*RUN, "--backfill", *window],
                    cwd=ROOT,
                    env=task_env,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            )
    for task, log in zip(tasks, logs, strict=True):
        task.wait(timeout=600)
        assert task.returncode == 0, log.read_text()[-4000:]

    assert pipeline.query(ids) == unsharded
    assert pipeline.query(counts) == [(len(unsharded), len(unsharded))]
    # Each window was read by one task only: the tasks' records add up to the whole.
    shard_runs = [run for run in pipeline.runs() if run["mode"] == "backfill"][1:]
    assert len(shard_runs) == TASKS
    assert sum(run["records"]["historic_jobs"] for run in shard_runs) == len(unsharded)
    listed = pipeline.meltano("state", "list", MELTANO_DATABASE_URI=env["MELTANO_DATABASE_URI"])
    shards = {
        f"dev:tap-usajobs-to-target-postgres:backfill-shard-{i}-of-{TASKS}" for i in range(TASKS)
    }
    assert shards <= set(listed.stdout.split())
