"""Secrets: no API key or database password in any output, state or file a run writes.

Every output and every file the runs write is searched for an API key and a database
password, including what a killed run leaves behind: each run's private folder (meltano's
plugin configs among its files) is removed by the next run, and the tap stops at once on
SIGTERM even while a page request hangs in a worker thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import devenv
import pytest
from conftest import (
    ROOT,
    SLOW_RUN,
    STATE_ID,
    Pipeline,
    runtime,
    stall,
    unstall,
    wait_until_gone,
    wait_until_mid_load,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

EX_UNAVAILABLE = 69

# Distinctive per session, so a match anywhere can only come from this module's runs.
API_KEY = f"key-canary-{uuid.uuid4().hex}"
WRONG_API_KEY = f"wrong-key-canary-{uuid.uuid4().hex}"
DB_PASSWORD = f"pw-canary-{uuid.uuid4().hex}"
SECRETS = (API_KEY, WRONG_API_KEY, DB_PASSWORD)


class SecretOnDiskError(AssertionError):
    """A file holds one of SECRETS."""


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


@pytest.mark.full  # slow; `make test-full` and CI run it
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
    # Every file written meanwhile: in the project (dbt's logs), and in this test's
    # folder: the system DB (state and run records), each run's elt.log, every process's
    # TMPDIR (where each run's private folder was) and home.
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
    stall(pipeline.api)
    run = start(pipeline, runtime(), "killed", **SLOW_RUN)
    wait_until_mid_load(pipeline, run)
    run.kill_session()
    run.process.wait(timeout=30)
    wait_until_gone(run.sid)

    unstall(pipeline.api)
    pipeline.entrypoint()  # refused (the killed run looks alive), but it has started

    assert run.config_files, "the killed run's plugins were started with no --config file?"
    config_files = [path for path in run.config_files if path.exists()]
    if left := _holding_secrets(iter(config_files)):
        msg = f"left behind by the killed run: {left}"
        raise SecretOnDiskError(msg)
