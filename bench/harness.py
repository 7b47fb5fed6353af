"""The benchmark's environment, shared by bench/run.py and bench/dbt_models.py.

A snapshot of the project, its plugins, the fake API, the databases and the rules for
the plugins' environment.

Both benchmarks serve a workload and configure a run the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tarfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(BENCH))

import devenv  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
MELTANO = VENV_BIN / "meltano"
UV = VENV_BIN / "uv"
TAP_EXE = "extractors/tap-usajobs/venv/bin/tap-usajobs"  # under a .meltano folder
TARGET_EXE = "loaders/target-postgres/venv/bin/target-postgres"
MSDK_VENV = BENCH / ".venv-msdk"
MSDK_EXE = MSDK_VENV / "bin" / "tap-rest-api-msdk"
MSDK_LOCK = ROOT / "requirements" / "bench-msdk.txt"
FLOOR = BENCH / "floor.py"
USER_AGENT = "bench@example.com"
RUN_TIMEOUT = 1800.0
FULL_SIZES = (5_000, 20_000, 40_000)
QUICK_SIZES = (1_000,)
VARIANTS = ("ours-meltano", "ours-pipe", "msdk-pipe", "floor", "target-replay")
#: Names of a tap setting that bounds concurrent requests (the floor uses its value).
CONCURRENCY_SETTING = re.compile(r"concurren|parallel|workers")
BATCH_METRIC = re.compile(r'"metric":\s*"batch_processing_time",\s*"value":\s*([0-9.]+)')
#: Settings --env may override: our tap's, and target-postgres's (msdk's target too).
ENV_PREFIXES = ("TAP_USAJOBS_", "TARGET_POSTGRES_")
#: Names of a tap setting that mirrors the API's 10,000-row cap per query.
ROW_CAP_SETTING = re.compile(r"row_cap")


@dataclass
class Options:
    """What one invocation measures."""

    sizes: tuple[int, ...]
    runs: int
    detail_kb: int
    latency_ms: int
    tiny: int
    variants: tuple[str, ...]
    floor_concurrency: int | None
    plugin_env: dict[str, str]
    toast: str | None
    source: str
    out: Path
    update_doc: Path | None
    quick: bool
    argv: list[str] = field(default_factory=list)


# --- setup -------------------------------------------------------------------------------


def run_checked(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:  # noqa: ANN401
    """subprocess.run that stops the benchmark with the command's own error output."""
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # noqa: S603
    if result.returncode != 0:
        sys.exit(
            f"`{shlex.join(command)}` failed (exit {result.returncode}):\n"
            f"{(result.stderr or result.stdout)[-3000:]}"
        )
    return result


def git(*args: str) -> str:
    """Read-only git in the repository."""
    command = ["git", *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    return result.stdout.strip()


def ensure_msdk_venv() -> None:
    """Create or refresh bench/.venv-msdk from requirements/bench-msdk.txt with uv."""
    digest = hashlib.sha256(MSDK_LOCK.read_bytes()).hexdigest()
    stamp = MSDK_VENV / ".installed"
    if stamp.exists() and stamp.read_text().strip() == digest and MSDK_EXE.exists():
        return
    print(f"Installing tap-rest-api-msdk into {MSDK_VENV.relative_to(ROOT)} ...", flush=True)
    run_checked([str(UV), "venv", "--quiet", "--allow-existing", "--python", str(PYTHON),
                 str(MSDK_VENV)])  # fmt: skip
    run_checked([str(UV), "pip", "sync", "--quiet", "--python", str(MSDK_VENV / "bin/python"),
                 str(MSDK_LOCK)])  # fmt: skip
    stamp.write_text(digest + "\n")


def prepare_project(source: str, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The Meltano project to measure, and what it is (commit, digest).

    A git ref is exported with ``git archive`` (read only) into ``workdir``; "worktree"
    uses the repository folder as it is, uncommitted edits included.
    """
    if source == "worktree":
        project = ROOT
        info = {
            "source": "working tree",
            "head": git("rev-parse", "--short", "HEAD"),
            "tap_commit": git("log", "-1", "--format=%h", "--", "tap-usajobs"),
            "tap_commit_subject": git("log", "-1", "--format=%s", "--", "tap-usajobs"),
            "tap_worktree_dirty": bool(git("status", "--porcelain", "--", "tap-usajobs")),
        }
    else:
        commit = git("rev-parse", "--verify", "--quiet", f"{source}^{{commit}}")
        if not commit:
            sys.exit(f"--source {source!r} is neither 'worktree' nor a git commit.")
        project = workdir / "project"
        project.mkdir()
        archive = workdir / "project.tar"
        run_checked(["git", "archive", "--format=tar", "-o", str(archive), commit], cwd=ROOT)
        with tarfile.open(archive) as tar:
            tar.extractall(project, filter="data")
        info = {
            "source": f"git archive of {source}",
            "head": commit[:7],
            "tap_commit": git("log", "-1", "--format=%h", commit, "--", "tap-usajobs"),
            "tap_commit_subject": git("log", "-1", "--format=%s", commit, "--", "tap-usajobs"),
            "tap_worktree_dirty": False,
        }
    digest = hashlib.sha256()
    for path in sorted((project / "tap-usajobs").rglob("*")):
        if path.is_file() and path.suffix in {".py", ".toml"} and ".venv" not in path.parts:
            digest.update(path.relative_to(project).as_posix().encode() + path.read_bytes())
    info["tap_source_sha256"] = digest.hexdigest()[:12]
    return project, info


def install_plugins(project: Path, sys_dir: Path, workdir: Path) -> None:
    """``meltano install`` the tap and target of ``project`` into a private .meltano.

    The same meltano.yml, pip_url and lock files as ``make install``, so the executables
    are the ones meltano installs for users; but private, so that ``make install``
    elsewhere (``--clean`` rebuilds every venv) cannot swap them mid-run, and so that
    ``meltano run`` elsewhere in the project (it writes each plugin's config and catalog
    to fixed paths under .meltano/run/) cannot delete this run's files.
    """
    print("Installing tap-usajobs and target-postgres with meltano (private copy) ...", flush=True)
    env = {
        **clean_env(),
        "MELTANO_SYS_DIR_ROOT": str(sys_dir),
        "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'install.db'}",
    }
    run_checked([str(MELTANO), "install", "tap-usajobs", "target-postgres"], cwd=project, env=env)


def clean_env() -> dict[str, str]:
    """This process's environment without any setting meant for the pipeline."""
    prefixes = ("TAP_USAJOBS_", "TAP_REST_API_MSDK_", "TARGET_", "MELTANO_", "PG")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def tap_env_vars(api_url: str, overrides: dict[str, str]) -> dict[str, str]:
    """TAP_USAJOBS_* for the benchmark's one unfiltered query, plus --env overrides."""
    return {
        "TAP_USAJOBS_BASE_URL": api_url,
        "TAP_USAJOBS_API_KEY": devenv.FAKE_API_KEY,
        "TAP_USAJOBS_USER_AGENT": USER_AGENT,
        "TAP_USAJOBS_KEYWORDS": "[]",
        **overrides,
    }


def target_batch_seconds(log: Path) -> float:
    """Seconds target-postgres spent writing batches, by its batch_processing_time metrics.

    A lower bound: the SDK times the drains of full batches and the one at the end of
    input, not a drain forced by an ACTIVATE_VERSION message (our tap's last batch).
    """
    text = log.read_text(errors="replace") if log.exists() else ""
    return round(sum(float(value) for value in BATCH_METRIC.findall(text)), 2)


def count_records(messages: Path, stream: str) -> int:
    """RECORD messages of ``stream`` in a file of Singer messages, one JSON object a line."""
    records = 0
    with messages.open("rb") as lines:
        for line in lines:
            if line.strip():
                message = json.loads(line)
                records += message.get("type") == "RECORD" and message.get("stream") == stream
    return records


def workload_tap_env(about: dict[str, Any]) -> dict[str, str]:
    """TAP_USAJOBS_<cap setting>=0 when the tap has a row-cap setting (the fake has no cap)."""
    names = (about.get("settings", {}).get("properties") or {}).keys()
    return {f"TAP_USAJOBS_{name.upper()}": "0" for name in names if ROW_CAP_SETTING.search(name)}


def floor_concurrency(tap_config: dict[str, Any], about: dict[str, Any]) -> tuple[int, str]:
    """The tap's concurrent-request setting: its configured value, else its default, else 1."""
    names = [n for n in tap_config if CONCURRENCY_SETTING.search(n)]
    if names:
        return int(tap_config[names[0]]), f"tap setting {names[0]}"
    for name, prop in (about.get("settings", {}).get("properties") or {}).items():
        if CONCURRENCY_SETTING.search(name) and "default" in prop:
            return int(prop["default"]), f"tap default of {name}"
    return 1, "the tap has no concurrency setting"


def msdk_config(api_url: str, per_page: int, search_params: dict[str, Any]) -> dict[str, Any]:
    """tap-rest-api-msdk configured for the Search API, as a careful user would.

    Paging settings are read only at the top level, the stream's own settings (path,
    params, headers, records path, keys) only in the stream. Without
    ``next_page_token_path`` page_number_paginator stops after page 1 and exits 0; with
    it, it pages until a page has no item (one request past the end). The Details
    object stays one JSON string: flattened, its keys make column names longer than
    PostgreSQL's 63 characters, and target-postgres fails on the second such column.
    """
    return {
        "api_url": api_url,
        "pagination_request_style": "page_number_paginator",
        "pagination_next_page_param": "Page",
        "next_page_token_path": "$.SearchResult.SearchResultItems[0].MatchedObjectId",
        "streams": [
            {
                "name": "jobs",
                "path": "/api/Search",
                "headers": {"Authorization-Key": devenv.FAKE_API_KEY, "User-Agent": USER_AGENT},
                "params": {**search_params, "ResultsPerPage": per_page},
                "records_path": "$.SearchResult.SearchResultItems[*]",
                "primary_keys": ["MatchedObjectId"],
                # The schema is inferred from the first response: read a whole page of it.
                "num_inference_records": per_page,
                "except_keys": ["MatchedObjectDescriptor_UserArea_Details"],
            }
        ],
    }


# --- services ----------------------------------------------------------------------------


@dataclass
class Fake:
    """A fake API process of the harness."""

    url: str
    postings: int

    def control(self, path: str, method: str = "GET") -> Any:  # noqa: ANN401
        """Call a /_fake/ endpoint."""
        request = urllib.request.Request(f"{self.url}/_fake/{path}", method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def search_requests(self) -> int:
        """Search requests answered since the last reset."""
        return int(self.control("stats")["search_requests"])

    def posting_kb(self, per_page: int) -> float:
        """Mean size of one posting as served, from page 1."""
        request = urllib.request.Request(  # noqa: S310
            f"{self.url}/api/Search?ResultsPerPage={per_page}&Page=1",
            headers={"Authorization-Key": devenv.FAKE_API_KEY, "User-Agent": USER_AGENT},
        )
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            items = json.loads(response.read())["SearchResult"]["SearchResultItems"]
        return sum(len(json.dumps(item)) for item in items) / max(1, len(items)) / 1024


@contextlib.contextmanager
def fake_api(  # noqa: PLR0913  # the workload's knobs, named
    project: Path,
    postings: int,
    detail_kb: int,
    latency_ms: int,
    workdir: Path,
    extra_args: tuple[str, ...] = (),
) -> Iterator[Fake]:
    """The project's fake API in its own process (40,000 postings of 15 KB take ~15 s).

    ``extra_args`` go to the fake's command line as they are (e.g. ``--historic``).
    """
    port_file = workdir / f"fake-{postings}.port"
    port_file.unlink(missing_ok=True)
    command = [
        str(PYTHON), "-m", "tap_usajobs.testing.fake_api", "--port", "0",
        "--port-file", str(port_file), "--postings", str(postings),
        "--detail-kb", str(detail_kb), "--latency-ms", str(latency_ms), "--row-cap", "0",
        *extra_args,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(project / "tap-usajobs")}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        deadline = time.monotonic() + 300
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"The fake API ({postings} postings) did not start.")
            time.sleep(0.2)
        yield Fake(url=f"http://127.0.0.1:{port_file.read_text().strip()}", postings=postings)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


class Databases:
    """Fresh databases on one server, each CHECKPOINTed before and dropped after use."""

    def __init__(self, server: devenv.Postgres, toast: str | None) -> None:
        """Use ``server``; ``toast`` sets default_toast_compression in each new database."""
        self.server = server
        self.toast = toast
        if toast:
            with server.connect() as conn:
                try:
                    conn.execute(f"set default_toast_compression = '{toast}'")
                except psycopg.Error as exc:  # lz4 is a build option; pgserver's lacks it
                    sys.exit(f"--toast {toast}: this PostgreSQL cannot. {exc.diag.message_hint}")

    @contextlib.contextmanager
    def fresh(self, name: str) -> Iterator[str]:
        """An empty database for one run; a CHECKPOINT flushes earlier runs' writes first."""
        self.server.create_database(name, replace=True)
        with self.server.connect() as conn:
            if self.toast:
                conn.execute(
                    f"alter database \"{name}\" set default_toast_compression = '{self.toast}'"
                )
            conn.execute("checkpoint")
        try:
            yield name
        finally:
            self.server.drop_database(name)

    def checkpoint(self) -> None:
        """Flush dirty buffers, so a run does not pay for the writes of the one before."""
        with self.server.connect() as conn:
            conn.execute("checkpoint")

    def count(self, database: str) -> tuple[int, int]:
        """Rows and distinct keys in usajobs.jobs (0, 0 when it does not exist)."""
        if self.server.value(database, "select to_regclass('usajobs.jobs')") is None:
            return 0, 0
        rows = self.server.value(database, "select count(*) from usajobs.jobs")
        keys = self.server.value(
            database, 'select count(distinct "MatchedObjectId") from usajobs.jobs'
        )
        return int(rows), int(keys)

    def describe(self) -> dict[str, Any]:
        """Version and the settings that matter for load speed."""
        settings = ("shared_buffers", "default_toast_compression", "synchronous_commit",
                    "fsync", "max_wal_size")  # fmt: skip
        info: dict[str, Any] = {"version": self.server.value("postgres", "show server_version")}
        for setting in settings:
            info[setting] = self.server.value("postgres", f"show {setting}")
        if self.toast:
            info["default_toast_compression"] = f"{self.toast} (set per database by --toast)"
        info["embedded"] = devenv.configured_postgres() is None
        return info


def machine_info(tap_exe: Path, target_exe: Path) -> dict[str, Any]:
    """CPU, memory, OS and tool versions."""
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())

    def version(python: Path, *packages: str) -> str:
        code = f"import importlib.metadata as m;print(' '.join(m.version(p) for p in {packages!r}))"
        return run_checked([str(python), "-c", code]).stdout.strip()

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu.group(1).strip() if cpu else platform.processor(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "meltano": version(PYTHON, "meltano"),
        "tap_singer_sdk": version(tap_exe.parent / "python", "singer-sdk"),
        "target_postgres": version(
            target_exe.parent / "python", "meltanolabs-target-postgres", "singer-sdk"
        ),
        "msdk": version(MSDK_EXE.parent / "python", "tap-rest-api-msdk", "singer-sdk")
        if MSDK_EXE.exists()
        else "not installed",
    }
