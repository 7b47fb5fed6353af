"""Start one pipeline run: what a container, cron or a Cloud Run job calls.

    python orchestrate/run.py [JOB_OR_BLOCKS...]       default: usajobs-elt
    python orchestrate/run.py --dry-run                extract and validate; load nothing
    python orchestrate/run.py --backfill START END     historic streams for a date window
    python orchestrate/run.py --force [...]            run despite a killed run's stale lock

Configured only through the environment:
  TAP_USAJOBS_API_KEY, TAP_USAJOBS_USER_AGENT   required (TAP_USAJOBS_* for the rest)
  PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE    the database (libpq's variables)
  DATABASE_URL                                  instead of PG*: a postgresql:// URL (a secret)
  MELTANO_ENVIRONMENT                           default: dev (the image sets prod)
  MELTANO_DATABASE_URI                          meltano's system DB (state); ADR 0008
  MELTANO_BIN                                   default: meltano beside this Python, or on PATH
  CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_COUNT    set by Cloud Run Jobs: this task's shard
  USAJOBS_LOG_FORMAT                            text (default) or json (Cloud Logging's keys)
  USAJOBS_RUN_ID                                default: a new UUID; on every log line
  USAJOBS_ALERT_DROP_PERCENT, _MIN_ROWS         the result-count alert (runlog.py)
  DASHBOARD_BUCKET                              after each run, publish the dashboard there
  USAJOBS_DEMO_API_URL                          without an API key, read this fake API (compose)
  USAJOBS_WRITE_AUDIT_PUBLISH                   true (default): publish only tested marts

On a terminal (`docker run -it`, a shell) with text logs, the run shows one line per stage
with live counts, and its whole log goes to a file whose path it prints (progress.py).
Anything else (a pipe, Cloud Logging, `USAJOBS_LOG_FORMAT=json`) and a dry run, whose
result is its table on stdout, get the whole log.

Every run gets a run ID, passed to meltano (`run --run-id`, so each of its log lines
carries it) and recorded with its outcome, record counts, requests and retries in
usajobs_ops.pipeline_runs (runlog.py).

Modes:
  --dry-run   runs the tap from the saved bookmark, validates every record against its
              stream's schema and prints counts per stream (dry_run.py). Nothing is
              loaded and no state is saved.
  --backfill  reads historic_jobs and announcement_texts for opening dates START..END
              under their own state ID (<env>:...:backfill), from scratch each time, so
              the regular bookmark is neither used nor moved; then dbt builds and tests
              historic_job_listings and the models it reads. Sharded (task count > 1),
              each task reads the month windows it owns (<env>:...:backfill-shard-I-of-N).

The default job runs as its two steps, EL then dbt. When the tap's read was incomplete or
refused (exit 75 or 76) but the loader committed what it got, dbt still builds the marts,
and the run then ends with the tap's code. Sharded (task count > 1): each task loads its
share of the queries under its own state ID, and tasks take turns (advisory locks) at
meltano's migrations, the first load (which creates the raw tables) and dbt.

Exit codes (sysexits where one fits):
  0   the run succeeded
  64  configuration is missing or malformed: a required variable, or any tap setting or
      stream selection the tap rejects (nothing was fetched)
  65  the run loaded its data, but a query's result count dropped sharply since the last
      full scan (an alert, see docs/runbook.md); or, with --dry-run, invalid records
  69  the database is unreachable, or meltano's system schema cannot be created
  75  the tap could not prove a query or window read whole: what it read is loaded and
      the marts are built, nothing is closed, the bookmark stays, the next run recovers
  76  the API changed a field's format: the tap stopped before writing that page
  *   the run failed: meltano's own exit code (1, also after SIGINT: "Aborted!"), 143
      after SIGTERM, or 128+N when signal N arrived before meltano started. State only
      moves for data the target committed, so the next run resumes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import time
import typing as t
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg

from runtime import cloud_env, migrations, preflight, progress, runlog, versions
from runtime.children import Children, StoppedError
from runtime.dry_run import dry_run
from runtime.logs import FORMATS, Log
from runtime.pg_lock import advisory_lock

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

EX_CONFIG = 64
EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_INCOMPLETE = 75
EX_REFUSED = 76
#: The tap's summary status for a read that was not proven whole or was refused.
EXIT_OF_READ = {"incomplete": EX_INCOMPLETE, "refused": EX_REFUSED}
ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("TAP_USAJOBS_API_KEY", "TAP_USAJOBS_USER_AGENT")
DEFAULT_JOB = "usajobs-elt"
LOAD = ["tap-usajobs", "target-postgres"]
#: Write-audit-publish (ADR 19): build and test the marts in the audit schema, then,
#: only if every test passed, move them into public in one transaction. A failing test
#: leaves the published marts as they were. Then `dbt source freshness`: raw tables
#: that no load has touched for 72 h fail the run (its thresholds are in the sources).
TRANSFORM = ["dbt-postgres:build-audit", "dbt-postgres:publish", "dbt-postgres:freshness"]
#: USAJOBS_WRITE_AUDIT_PUBLISH=false: build and test the marts where they are read, so a
#: failing test leaves what it built published (for a database no one reads yet).
TRANSFORM_IN_PLACE = ["dbt-postgres:build", "dbt-postgres:freshness"]
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: meltano's words when the target failed (alone, or with the tap).
LOADER_FAILED = "oader failed"
#: target-postgres inserts new keys without ON CONFLICT: two shards racing on one key.
INSERT_RACE = "UniqueViolation"


class ConfigError(Exception):
    """A setting or argument the run cannot start with (exit 64)."""


@dataclass
class Request:
    """What was asked for on the command line."""

    mode: str = "run"  # run, dry-run or backfill
    force: bool = False
    window: tuple[str, str] | None = None
    blocks: list[str] = field(default_factory=lambda: [DEFAULT_JOB])
    #: The dbt steps after a load (from the environment, not the command line).
    transform: list[str] = field(default_factory=lambda: TRANSFORM)

    @property
    def job(self) -> str:
        """How the run table names the job."""
        if self.window:
            return f"historic backfill {self.window[0]}..{self.window[1]}"
        return " ".join(self.blocks)


def parse(argv: list[str]) -> Request:
    """The request in ``argv``; ConfigError names what is wrong with it."""
    request = Request()
    args = list(argv)
    if args[:1] == ["--force"]:
        request.force = True
        args.pop(0)
    if args[:1] == ["--dry-run"]:
        if len(args) != 1:
            msg = "--dry-run takes no other arguments (it runs the tap as the next run would)."
            raise ConfigError(msg)
        request.mode = "dry-run"
        return request
    if args[:1] == ["--backfill"]:
        request.mode, request.window = "backfill", _window(args[1:])
        return request
    if args[:1] and args[0].startswith("--"):
        msg = f"unknown option '{args[0]}' (expected --force, --dry-run or --backfill START END)."
        raise ConfigError(msg)
    # Jobs and blocks only from here: an option after a job name would reach `meltano run`
    # (whose own --dry-run runs nothing and succeeds).
    for arg in args:
        if arg.startswith("-"):
            msg = f"options go first: '{arg}' after a job or block name is not accepted."
            raise ConfigError(msg)
    if args:
        request.blocks = args
    return request


def _window(args: list[str]) -> tuple[str, str]:
    """A backfill's START and END; ConfigError when they are not two ordered dates."""
    if len(args) != 2:  # noqa: PLR2004
        msg = "usage: run.py --backfill START END (dates as YYYY-MM-DD)."
        raise ConfigError(msg)
    start, end = args
    for day in (start, end):
        if not _DAY.match(day) or not _is_date(day):
            msg = f"--backfill dates must be YYYY-MM-DD, got '{day}'."
            raise ConfigError(msg)
    if end < start:
        msg = f"--backfill END ({end}) is before START ({start})."
        raise ConfigError(msg)
    return start, end


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass
class Run:
    """One run: its settings, its private folder, its meltano steps and their outcome."""

    request: Request
    log: Log
    children: Children
    meltano: list[str]
    work: Path
    status: int = 0
    #: The tap's summary status after the last EL step ("incomplete", "refused", ...).
    read: str = ""

    @property
    def shard(self) -> str:
        """This task's state ID suffix when sharded, else ""."""
        return os.environ.get("USAJOBS_STATE_ID_SUFFIX", "")

    @property
    def summary_path(self) -> Path:
        """Where the tap writes what it did (run_summary_path)."""
        return self.work / "tap-summary.json"

    def meltano_run(
        self, *blocks: str, force: bool = False, state_suffix: str = "", full_refresh: bool = False
    ) -> list[str]:
        """``meltano run`` with this run's ID, and options before the blocks."""
        command = [*self.meltano, "run", "--run-id", self.log.run_id]
        command += ["--force"] if force else []
        command += ["--state-id-suffix", state_suffix] if state_suffix else []
        command += ["--full-refresh"] if full_refresh else []
        return [*command, *blocks]

    def step(self, command: list[str], env: Mapping[str, str] | None = None) -> None:
        """Run one meltano step.

        The tap failing alone on an incomplete or refused read is no failure of the step:
        what it wrote is committed, and the run ends with its code once the marts are built.
        """
        outcome = self.children.run(command, env, watch=(LOADER_FAILED, INSERT_RACE))
        self.status = outcome.code
        self.read = runlog.summary_status(self.summary_path)
        if self.status and self.read in EXIT_OF_READ and LOADER_FAILED not in outcome.seen:
            self.log(f"the tap's read was {self.read}; what it wrote is loaded", "WARNING")
            self.status = 0
        self._race = INSERT_RACE in outcome.seen

    _race = False

    def extract_load(self, command: list[str], env: Mapping[str, str] | None = None) -> None:
        """The EL step; a shard that lost an insert race to another shard loads again."""
        self.step(command, env)
        if self.status and self.shard and self._race:
            # The later of two shards inserting one posting at once fails and rolls its
            # batch back, and state stays before it. Once more: the row exists now.
            self.log(
                "another shard inserted the same posting at the same moment; loading again",
                "WARNING",
            )
            self.step(command, env)

    def transform(self, command: list[str]) -> None:
        """The dbt step, only after a successful EL, and never beside another run's.

        dbt replaces a view by renaming it and dropping the old one with CASCADE, which
        drops the views built on it; write-audit-publish moves whole tables. Two runs
        interleaving (a retry beside the daily run, a backfill, the last shards) would
        break each other, so every run's dbt step holds one lock in the database.
        """
        if self.status == 0:
            with advisory_lock("usajobs-dbt"):
                self.status = self.children.run(command).code

    def final_status(self) -> int:
        """A step's failure, else the tap's code for an incomplete or refused read, else 0."""
        if self.status == 0 and self.read in EXIT_OF_READ:
            return EXIT_OF_READ[self.read]
        return self.status


def main(argv: list[str] | None = None) -> int:
    """Parse, check, run, record; the run's exit code."""
    environ = os.environ
    log_format = environ.get("USAJOBS_LOG_FORMAT", "text")
    log = Log(log_format)
    if log_format not in FORMATS:
        log(f"USAJOBS_LOG_FORMAT must be text or json, got '{log_format}'.", "ERROR")
        return EX_CONFIG
    argv = sys.argv[1:] if argv is None else argv
    if log_format == "text" and sys.stderr.isatty() and "--dry-run" not in argv:
        # (A dry run's result is its table on stdout, for the terminal as it is.)
        return _on_a_terminal(argv)
    children = Children(log)
    try:
        return _main(argv, log, children)
    except StoppedError as stopped:
        log(f"received {stopped} before the run started")
        return stopped.exit_code


def _on_a_terminal(argv: list[str]) -> int:
    """The same run, its whole log in a file; one line per stage on the terminal."""
    # A new file of its own, readable by its owner alone (as the run's private folder).
    handle, name = tempfile.mkstemp(
        prefix=f"usajobs-log-{time.strftime('%Y%m%dT%H%M%S')}-", suffix=".log"
    )
    os.close(handle)
    log_file = Path(name)
    command = [sys.executable, str(ROOT / "orchestrate" / "run.py"), *argv]
    # The run's stderr is then a pipe, so it logs in full rather than coming back here.
    return progress.run(command, os.environ, log_file, sys.stderr, Path.cwd())


def _main(argv: list[str], log: Log, children: Children) -> int:
    try:
        request = parse(argv)
        log.run_id = _run_id()
        meltano_bin = _meltano_bin()
        exported = cloud_env.cloud_env(os.environ)
        os.environ.update(exported)
        _require(REQUIRED)
        settings = runlog.Settings.from_env(os.environ)
        request.transform = (
            TRANSFORM if _flag("USAJOBS_WRITE_AUDIT_PUBLISH", default=True) else TRANSFORM_IN_PLACE
        )
    except (ConfigError, cloud_env.ConfigError, ValueError) as exc:
        log(str(exc), "ERROR")
        return EX_CONFIG
    run_id = log.run_id
    if exported.get("TAP_USAJOBS_API_KEY") == cloud_env.DEMO_API_KEY:
        log(
            f"DEMO MODE: no TAP_USAJOBS_API_KEY is set, so this run reads the bundled fake "
            f"USAJobs API at {exported['TAP_USAJOBS_BASE_URL']}, not the real one. Put a key "
            'in .env to read the real API (README, "Docker Compose").',
            "WARNING",
        )
    os.environ.pop("DATABASE_URL", None)
    os.environ["USAJOBS_RUN_ID"] = run_id
    try:
        created = preflight.check(os.environ)
    except preflight.UnavailableError as exc:
        log(str(exc), "ERROR")
        return EX_UNAVAILABLE
    if created:
        log(created)
    with _private_folder(log) as work:
        _isolate(work)
        return _start(Run(request, log, children, _meltano(meltano_bin, log), work), settings)


def _start(run: Run, settings: runlog.Settings) -> int:
    """Migrations and the settings check, then the run itself, then its record."""
    log = run.log
    if run.shard:
        # Shards start together: they take turns at meltano's own migrations, which any
        # meltano command (the settings check below included) would otherwise run at once.
        with advisory_lock("usajobs-migrate"):
            migrated = run.children.run([run.meltano[0], "upgrade", "database"])
        if migrated.code:
            log(
                "meltano's system database could not be migrated (MELTANO_DATABASE_URI, ADR 0008).",
                "ERROR",
            )
            return EX_UNAVAILABLE
    # Every other setting (numbers, lists, URLs, dates, shards, stream selection) is
    # checked by the tap itself, as a run would, without a request: --test=schema only
    # writes the schemas. Its log lines name each bad setting and its variable.
    checked = run.children.run(
        [*run.meltano, "invoke", "tap-usajobs", "--test=schema"], on_stdout=_discard
    )
    if checked.code:
        log(
            "tap-usajobs rejected its settings (the lines above say which and why); "
            "nothing was fetched.",
            "ERROR",
        )
        return EX_CONFIG
    table = runlog.RunLog(settings.retry_seconds, log)
    request = run.request
    if request.mode == "dry-run":
        return dry_run(run.meltano, os.environ["MELTANO_ENVIRONMENT"], run.children)
    try:
        # A run that cannot be recorded still runs: its data matters more than its books.
        table.start(log.run_id, request.job, request.mode)
    except psycopg.Error:
        log("could not record the start of the run in usajobs_ops.pipeline_runs", "WARNING")
    try:
        migrations.apply(log)
        _steps(run)
    except migrations.MigrationError as exc:
        log(f"{exc}; nothing was loaded (docs/runbook.md, 'Upgrading')", "ERROR")
        run.status = 1
    except StoppedError as stopped:
        run.status = stopped.exit_code
    status = run.final_status()
    status = _record(run, table, settings, status)
    if bucket := os.environ.get("DASHBOARD_BUCKET"):
        _publish_dashboard(run, bucket)
    if status == 0:
        log("run succeeded")
    else:
        log(f"run failed with exit code {status}", "ERROR")
    return status


def _publish_dashboard(run: Run, bucket: str) -> None:
    """Rebuild the dashboard and upload it, whatever the run's outcome.

    Its health page shows this run, failed or not. A failure to publish is logged; it
    does not change the run's exit code.
    """
    command = [sys.executable, str(ROOT / "dashboard" / "publish.py"), "--bucket", bucket]
    if run.children.run(command).code:
        run.log(f"the dashboard was not published to {bucket} (the lines above say why)", "ERROR")


def _steps(run: Run) -> None:
    """The meltano steps of the requested run."""
    request, force = run.request, run.request.force
    if request.mode == "backfill" and request.window:
        start, end = request.window
        # Its own state ID and --full-refresh: the window is read whole every time, and
        # the regular runs' bookmark is never read or written.
        env = {
            **os.environ,
            "TAP_USAJOBS_START_DATE": start,
            "TAP_USAJOBS_HISTORIC_END_DATE": end,
            "TAP_USAJOBS__SELECT": '["historic_jobs.*", "announcement_texts.*", "quarantine.*"]',
        }
        # Sharded (Cloud Run tasks): each task reads the month windows it owns, under a
        # state ID of its own; the first load alone creates the tables, and dbt takes
        # turns, so the last task builds over every window.
        suffix = f"backfill-{run.shard}" if run.shard else "backfill"
        command = run.meltano_run(*LOAD, force=force, state_suffix=suffix, full_refresh=True)
        first_load = advisory_lock("usajobs-first-load", until="usajobs.historic_jobs")
        with first_load if run.shard else contextlib.nullcontext():
            run.extract_load(command, env)
        run.transform(run.meltano_run("dbt-postgres:build-historic"))
    elif request.blocks == [DEFAULT_JOB] and run.shard:
        # One shard: its queries under its own state ID; the first load alone (it creates
        # the raw tables), then dbt, in turn, so the last shard builds over everything.
        with advisory_lock("usajobs-first-load", until="usajobs.jobs"):
            run.extract_load(run.meltano_run(*LOAD, force=force, state_suffix=run.shard))
        run.transform(run.meltano_run(*request.transform))
    elif request.blocks == [DEFAULT_JOB]:
        # The job in orchestrate/jobs.meltano.yml, as its two steps: EL, then dbt.
        run.extract_load(run.meltano_run(*LOAD, force=force))
        run.transform(run.meltano_run(*request.transform))
    else:
        run.step(run.meltano_run(*request.blocks, force=force, state_suffix=run.shard))


def _record(run: Run, table: runlog.RunLog, settings: runlog.Settings, status: int) -> int:
    """Record how the run ended; a sharp drop in a result count makes it 65."""
    log, request = run.log, run.request
    # A signal now ends the run with the status it already has: its data is settled.
    run.children.stop_requested = None
    try:
        summary = runlog.read_summary(str(run.summary_path))
    except runlog.SummaryError as exc:
        log(str(exc), "WARNING", component="runlog")
        summary = None
    if drift := runlog.schema_drift(summary):
        named = ", ".join(
            f"{stream} {path} ({rows} rows)"
            for stream, paths in sorted(drift.items())
            for path, rows in sorted(paths.items())
        )
        log(
            f"the API sent fields the tap's schema does not have: {named}; they are kept in"
            " unreadable_values or the nested JSON, and counted in pipeline_runs.schema_drift"
            " (docs/runbook.md, 'Schema change in the API')",
            "WARNING",
            component="runlog",
        )
    plugins = Path(os.environ.get("MELTANO_SYS_DIR_ROOT") or ROOT / ".meltano")
    try:
        alerts = table.finish(
            {"run_id": log.run_id, "job": request.job, "mode": request.mode},
            status,
            summary,
            settings,
            versions.collect(ROOT, plugins),
        )
    except psycopg.Error as exc:
        log(
            "could not record the run in usajobs_ops.pipeline_runs",
            "ERROR",
            component="runlog",
            reason=" ".join(str(exc).split()),
        )
        return status
    for message, fields in runlog.alert_lines(alerts):
        log(message, "ERROR", component="runlog", **fields)
    return EX_DATAERR if alerts and status == 0 else status


def _run_id() -> str:
    """USAJOBS_RUN_ID, or a new UUID; ConfigError when it is not a UUID."""
    run_id = os.environ.get("USAJOBS_RUN_ID") or str(uuid.uuid4())
    if not _UUID.match(run_id):
        msg = "USAJOBS_RUN_ID must be a UUID (meltano run --run-id takes only that)."
        raise ConfigError(msg)
    return run_id


def _flag(name: str, *, default: bool) -> bool:
    """A true/false switch from the environment; ConfigError for anything else."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in ("true", "false"):
        msg = f"{name} must be true or false, got {value!r}."
        raise ConfigError(msg)
    return value == "true"


def _require(names: tuple[str, ...]) -> None:
    """ConfigError naming each of ``names`` the environment lacks."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        msg = (
            f"missing required settings: {' '.join(missing)} (set them in the environment "
            "or the env file)."
        )
        raise ConfigError(msg)


def _meltano_bin() -> str:
    """MELTANO_BIN, else the meltano beside this Python, else on PATH."""
    configured = os.environ.get("MELTANO_BIN")
    beside = Path(sys.executable).with_name("meltano")
    found = configured or (str(beside) if beside.exists() else shutil.which("meltano"))
    if not found or not os.access(found, os.X_OK):
        msg = "meltano not found (MELTANO_BIN, beside this Python, or on PATH); run 'make install'."
        raise ConfigError(msg)
    return found


def _meltano(meltano_bin: str, log: Log) -> list[str]:
    command = [meltano_bin, "--environment", os.environ.get("MELTANO_ENVIRONMENT", "dev")]
    if log.format == "json":
        command += ["--log-config", str(ROOT / "orchestrate" / "logging-json.yaml")]
    return command


def _isolate(work: Path) -> None:
    """Point meltano and dbt at the run's own folder, with the installed plugins linked in."""
    installed = Path(os.environ.get("MELTANO_SYS_DIR_ROOT") or ROOT / ".meltano")
    sys_dir = work / "meltano"
    sys_dir.mkdir()
    for plugins in ("extractors", "loaders", "utilities"):
        (sys_dir / plugins).symlink_to(installed / plugins)
    os.environ.setdefault("MELTANO_ENVIRONMENT", "dev")
    os.environ.setdefault("MELTANO_DATABASE_URI", f"sqlite:///{installed / 'meltano.db'}")
    os.environ["MELTANO_SYS_DIR_ROOT"] = str(sys_dir)
    os.environ["DBT_TARGET_PATH"] = str(work / "dbt-target")
    os.environ["TAP_USAJOBS_RUN_SUMMARY_PATH"] = str(work / "tap-summary.json")


@contextlib.contextmanager
def _private_folder(log: Log) -> Iterator[Path]:
    """A folder of this run's own under TMPDIR, removed at the end.

    Catalogs, state files and meltano's per-run plugin configs (the API key among them)
    are written there, so runs on one host never read each other's. A SIGKILLed run
    leaves its folder behind; the next run removes every folder whose run is gone.
    """
    os.umask(0o077)
    base = Path(tempfile.gettempdir())
    for stale in base.glob("usajobs-run.*"):
        if stale.is_dir() and not _alive(stale.name):
            shutil.rmtree(stale, ignore_errors=True)
            log(f"removed {stale}, left behind by a run that was killed", "WARNING")
    # The pid is in the name, so a folder is never seen without its owner (a pid file
    # written after mkdtemp would leave a moment in which a concurrent run removes it).
    path = Path(tempfile.mkdtemp(prefix=f"usajobs-run.{os.getpid()}.", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _alive(folder_name: str) -> bool:
    """Whether the run that made ``usajobs-run.<pid>.<random>`` still runs.

    Another user's process counts as alive; a name without a pid is left alone too.
    """
    try:
        os.kill(int(folder_name.split(".")[1]), 0)
    except PermissionError:
        return True
    except (IndexError, ValueError):
        return True
    except OSError:
        return False
    return True


def _discard(_line: str) -> None:
    """Drop a line of output (--test=schema prints the schemas)."""
