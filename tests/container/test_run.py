"""The image runs the pipeline: exit codes, state across fresh containers, and SIGTERM."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from typing import TYPE_CHECKING, Any

from .conftest import KEYWORD, SECRET, STATE_ID, podman

if TYPE_CHECKING:
    from .conftest import ContainerPipeline

EX_CONFIG = 64
EX_UNAVAILABLE = 69
SIGTERM_EXIT = 143  # 128 + 15


def _control_numbers(pipeline: ContainerPipeline, table: str) -> list[str]:
    column = '"MatchedObjectId"' if table == "usajobs.jobs" else "control_number::text"
    return [row[0] for row in pipeline.query(f"select {column} from {table}")]  # noqa: S608


def _bookmark(state: dict[str, Any]) -> str | None:
    """The keyword partition's final bookmark in a saved state, if there is one."""
    for part in ("completed", "partial"):
        stream = state.get(part, {}).get("singer_state", {}).get("bookmarks", {}).get("jobs", {})
        for partition in stream.get("partitions", []):
            if (
                partition.get("context", {}).get("keyword") == KEYWORD
                and "replication_key_value" in partition
            ):
                return str(partition["replication_key_value"])
    return None


def _secret_files(name: str) -> list[str]:
    """Files that a stopped container added or changed and that hold SECRET."""
    mountpoint = podman("mount", name).stdout.strip()
    try:
        changed = [line.split(maxsplit=1)[1] for line in podman("diff", name).stdout.splitlines()]
        grep = [
            "grep",
            "-lsF",
            "--binary-files=text",
            SECRET,
            *(mountpoint + path for path in changed),
        ]
        found = subprocess.run(grep, capture_output=True, text=True, check=False)  # noqa: S603
    finally:
        podman("unmount", name, check=False)
    return found.stdout.split()


def test_exit_codes_name_the_problem_before_any_request(pipeline: ContainerPipeline) -> None:
    missing = pipeline.run(TAP_USAJOBS_USER_AGENT=None)
    assert missing.returncode == EX_CONFIG, missing.stdout[-3000:]
    assert "TAP_USAJOBS_USER_AGENT" in missing.stdout

    down = pipeline.run(PGPORT="1")
    assert down.returncode == EX_UNAVAILABLE, down.stdout[-3000:]
    assert "cannot connect to PostgreSQL" in down.stdout
    assert SECRET not in missing.stdout + down.stdout
    assert pipeline.searches() == []


def test_job_runs_with_no_arguments_and_state_survives_a_fresh_container(
    pipeline: ContainerPipeline,
) -> None:
    expected = pipeline.expected()
    name = f"usajobs-test-{uuid.uuid4().hex[:8]}"
    try:
        first = pipeline.run(extra=("--name", name))
        assert first.returncode == 0, first.stdout[-6000:]
        # The run's secrets lived in the container's environment and in meltano's
        # per-run config files; none may stay behind in the stopped container.
        assert _secret_files(name) == []
    finally:
        podman("rm", "--force", name, check=False)

    # Every run gets a run ID (runtime/runlog.py records it in usajobs_ops.pipeline_runs).
    assert re.search(
        r"meltano --environment prod run --run-id [0-9a-f-]{36} tap-usajobs target-postgres",
        first.stdout,
    )
    assert "dbt-postgres" in first.stdout, "the job is EL, then dbt build-audit and publish"
    first_searches = pipeline.searches()
    assert len(first_searches) > 1, "the first run must page through the whole result"
    assert all("DatePosted" not in request["params"] for request in first_searches)
    # The check from the README, against this test's database: one row per posting.
    (count,) = pipeline.query("SELECT COUNT(*) FROM job_listings;")[0]
    assert count == len(expected)
    assert set(_control_numbers(pipeline, "job_listings")) == expected
    # Meltano's own tables sit in schema "meltano", apart from the data (ADR 0008).
    tables = pipeline.query(
        "select table_schema, table_name from information_schema.tables "
        "where table_name in ('state', 'runs', 'alembic_version')"
    )
    assert sorted(tables) == [
        ("meltano", "alembic_version"),
        ("meltano", "runs"),
        ("meltano", "state"),
    ]
    assert _bookmark(pipeline.state()) is not None

    pipeline.api.control("reset-stats", {})
    added = set(pipeline.api.control("postings", {"add": 6})["added"])
    second = pipeline.run_ok()  # a new container: only PostgreSQL remembers the first run

    second_searches = pipeline.searches()
    assert second_searches, second.stdout[-3000:]
    assert all("DatePosted" in request["params"] for request in second_searches)
    assert len(second_searches) < len(first_searches)
    loaded = _control_numbers(pipeline, "job_listings")
    assert len(loaded) == len(set(loaded)), "a posting appears twice"
    new_matching = added & pipeline.expected()
    assert new_matching, "the fake should add postings matching the default keyword"
    assert set(loaded) == expected | new_matching


def test_sigterm_stops_cleanly_saves_no_state_ahead_of_data_and_the_next_run_completes(
    make_pipeline: Any, fake_factory: Any
) -> None:
    # Page 3 answers after 12 s: a window in which the run is alive but silent, to
    # check the healthcheck and to stop the run in the middle of its extract.
    slow = '{"kind": "slow", "seconds": 12, "page": 3}'
    pipeline: ContainerPipeline = make_pipeline(fake_factory("--fault", slow))
    expected = pipeline.expected()
    name = f"usajobs-test-{uuid.uuid4().hex[:8]}"
    command, env = pipeline.command(extra=("--name", name), TAP_USAJOBS_RESULTS_PER_PAGE="20")
    run = subprocess.Popen(  # noqa: S603
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not any(request["params"].get("Page") == "2" for request in pipeline.searches()):
            assert run.poll() is None, run.communicate()[0][-6000:]
            assert time.monotonic() < deadline, "the run never reached page 2"
            time.sleep(0.2)

        # Alive and logging: healthy by the image's own HEALTHCHECK.
        assert podman("healthcheck", "run", name, check=False).returncode == 0
        # Stuck on page 3 for a few seconds: unhealthy once that is longer than the limit.
        time.sleep(5)
        stalled = podman(
            "exec",
            "--env",
            "HEALTHCHECK_STALL_SECONDS=3",
            name,
            "/project/orchestrate/healthcheck.sh",
            check=False,
        )
        assert stalled.returncode == 1, stalled.stdout + stalled.stderr

        podman("kill", "--signal", "TERM", name)
        output, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
        podman("rm", "--force", name, check=False)

    assert run.returncode == SIGTERM_EXIT, output[-6000:]
    assert "received TERM, stopping the run" in output
    assert "draining all sinks" in output, "the target must get the signal and commit"
    committed = set(_control_numbers(pipeline, "usajobs.jobs"))
    assert len(committed) < len(expected), "the run should have been stopped half-way"
    # State never runs ahead of the data: no bookmark for a partition whose rows are
    # not all committed (the tap finalises a bookmark only when a partition is done).
    assert _bookmark(pipeline.state()) is None, pipeline.state()
    assert pipeline.query("select state from meltano.runs where job_name = %s", STATE_ID) == [
        ("FAIL",)
    ]

    pipeline.api.control("faults", method="DELETE")
    pipeline.api.control("reset-stats", {})
    pipeline.run_ok()

    assert all("DatePosted" not in request["params"] for request in pipeline.searches())
    loaded = _control_numbers(pipeline, "job_listings")
    assert len(loaded) == len(set(loaded)), "a posting appears twice"
    assert set(loaded) == expected
    assert sorted(_control_numbers(pipeline, "usajobs.jobs")) == sorted(expected)
    assert _bookmark(pipeline.state()) is not None
