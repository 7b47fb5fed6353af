"""Fixtures for the container suite: the real image, built with buildah and run with podman.

`make container-test` runs this suite. It sets USAJOBS_CONTAINER_TESTS=1 once it has
checked that buildah and podman work here. Under a plain `pytest tests` (and so under
`make test`) every test here is skipped, and pytest prints that reason.

The image is built once per session, from a copy of the work tree into which fake
secrets were planted where a careless build would pick them up (.env, venvs, .meltano).
Every run points the container (podman, host network) at a fresh database on the test
PostgreSQL and at a fake API that this suite starts on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import containers  # .ci/, on sys.path below
import devenv
import pytest
from conftest import ROOT, expected_ids, search_requests

if TYPE_CHECKING:
    from collections.abc import Iterator

# One value for every secret in the suite: planted in the build context, the API key the
# fake demands, and PGPASSWORD where the server needs none. It may end up nowhere in the
# image, and in no file a finished run leaves behind.
SECRET = f"canary-{uuid.uuid4().hex}"
TAG = "localhost/usajobs-elt:test"
STATE_ID = "prod:tap-usajobs-to-target-postgres"
KEYWORD = "data engineering"
RUN_TIMEOUT = 300

# Where a build would find secrets if .dockerignore let it: the files a developer has.
PLANTED = (
    ".env",
    ".env.local",
    "transform/.env",
    ".venv/pyvenv.cfg",
    ".venv-ops/secret.txt",
    "tap-usajobs/.venv/pyvenv.cfg",
    ".meltano/meltano.db",
    ".demo/pgdata/secret.txt",
    "transform/target/manifest.json",
    "tap-usajobs/tap_usajobs/__pycache__/secret.cpython-311.pyc",
)


SKIP_REASON = "they build and run the image: run `make container-test`"
_SKIPPED = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this directory's tests unless `make container-test` asked for them."""
    if os.environ.get("USAJOBS_CONTAINER_TESTS") == "1":
        return
    here = Path(__file__).parent
    skipped = [item for item in items if here in item.path.parents]
    for item in skipped:
        item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
    config.stash[_SKIPPED] = len(skipped)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say why the container tests were skipped, even without -rs."""
    if config.stash.get(_SKIPPED, 0):
        count = config.stash[_SKIPPED]
        terminalreporter.write_line(f"tests/container: {count} tests skipped; {SKIP_REASON}")


def _build_context(target: Path) -> Path:
    """A copy of the work tree as git sees it (tracked and untracked, not ignored), plus
    the planted secrets."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    for name in PLANTED:
        planted = target / name
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_text(f"TAP_USAJOBS_API_KEY={SECRET}\nPGPASSWORD={SECRET}\n")
    return target


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The pipeline image, built from a context that holds planted secrets."""
    context = _build_context(tmp_path_factory.mktemp("context"))
    log = tmp_path_factory.mktemp("build") / "build.log"
    try:
        containers.build(context, TAG, log=log)
    except RuntimeError:
        print(log.read_text()[-8000:])  # noqa: T201  # pytest shows it with the failure
        raise
    return TAG


def podman(
    *args: str, check: bool = True, timeout: float = RUN_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run podman on the project's container storage; output captured as text."""
    return containers.engine("podman", *args, check=check, timeout=timeout)


@pytest.fixture
def fake_factory() -> Iterator[Any]:
    """Start fake APIs (extra CLI args allowed) that demand SECRET as the API key."""
    with contextlib.ExitStack() as stack:

        def start(*args: str) -> devenv.FakeApi:
            api = stack.enter_context(
                devenv.fake_api("--postings", "900", "--seed", "11", "--api-key", SECRET, *args)
            )
            return devenv.FakeApi(url=api.url, api_key=SECRET)

        yield start


@dataclass
class ContainerPipeline:
    """Runs the image against one test database and one fake API."""

    image: str
    server: devenv.Postgres
    database: str
    api: devenv.FakeApi

    def env(self, **overrides: str | None) -> dict[str, str]:
        """What the container gets: TAP_USAJOBS_* and PG*, nothing else from here."""
        env = {
            # A server without a password (trust auth, as in CI) ignores PGPASSWORD, so it
            # carries SECRET too; a real password is passed on unchanged.
            "PGPASSWORD": SECRET,
            **self.server.env(self.database),
            "TAP_USAJOBS_BASE_URL": self.api.url,
            "TAP_USAJOBS_API_KEY": self.api.api_key,
            "TAP_USAJOBS_USER_AGENT": "container-tests@example.com",
            "TAP_USAJOBS_RESULTS_PER_PAGE": "50",
            "TAP_USAJOBS_BACKOFF_BASE_MS": "50",
        }
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def command(
        self, *args: str, extra: tuple[str, ...] = ("--rm",), **overrides: str | None
    ) -> tuple[list[str], dict[str, str]]:
        """The podman command line and its environment."""
        env = self.env(**overrides)
        return containers.run_command(self.image, env, *args, extra=extra), containers.run_env(env)

    def run(
        self, *args: str, extra: tuple[str, ...] = ("--rm",), **overrides: str | None
    ) -> subprocess.CompletedProcess[str]:
        """Run the image to completion; stdout and stderr captured together."""
        command, env = self.command(*args, extra=extra, **overrides)
        return subprocess.run(  # noqa: S603
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )

    def run_ok(self, *args: str, **overrides: Any) -> subprocess.CompletedProcess[str]:
        """Run the image and fail the test with its log unless it exits 0."""
        result = self.run(*args, **overrides)
        assert result.returncode == 0, result.stdout[-6000:]
        return result

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` in the test database."""
        with self.server.connect(self.database) as conn:
            return conn.execute(sql, params).fetchall()

    def state(self) -> dict[str, Any]:
        """Meltano's saved state for the job, read straight from its system tables."""
        rows = self.query(
            "select completed_state, partial_state from meltano.state where state_id = %s", STATE_ID
        )
        if not rows:
            return {}
        completed, partial = (json.loads(value) if value else {} for value in rows[0])
        return {"completed": completed, "partial": partial}

    def expected(self) -> set[str]:
        """Control numbers the fake holds for the default keyword."""
        return expected_ids(self.api, Keyword=KEYWORD)

    def searches(self) -> list[dict[str, Any]]:
        """Search requests the fake answered since its stats were reset."""
        return search_requests(self.api)


@pytest.fixture
def make_pipeline(image: str, pg_server: devenv.Postgres, database: str) -> Any:
    """A ContainerPipeline for this test's database and a given fake API."""

    def make(api: devenv.FakeApi) -> ContainerPipeline:
        return ContainerPipeline(image=image, server=pg_server, database=database, api=api)

    return make


@pytest.fixture
def pipeline(make_pipeline: Any, fake_factory: Any) -> ContainerPipeline:
    """The image wired to a fresh database and a fast fake API."""
    made: ContainerPipeline = make_pipeline(fake_factory())
    return made
