"""One row per pipeline run in ``usajobs_ops.pipeline_runs``, and the result-count alert.

The runtime records a ``running`` row when a run starts (``RunLog.start``) and how it
ended when it is over (``RunLog.finish``), with the tap's summary (records per stream,
requests, retries, each query's reported size, what was repaired or quarantined;
written by the tap's ``run_summary_path`` setting). ``finish`` then compares each
query's size with the same query's last full scan in the same Meltano environment: when
a full scan finds USAJOBS_ALERT_DROP_PERCENT (default 50; 0 turns the check off) fewer
postings than the previous one, for a query that had at least USAJOBS_ALERT_MIN_ROWS
(20), ``finish`` returns the drop, and the run exits 65, so the execution fails and
alerting sees it. The rows were loaded and state saved: the alert asks a person to look (a changed
API, a key with fewer rights, a filter typo), it does not undo anything. On Cloud Run a
retried task (the same CLOUD_RUN_EXECUTION and task index) carries an earlier attempt's
alert over, so a retry that happens to be incremental cannot hide it.

The database is reached through libpq's PG* variables, like target-postgres. Every
statement is retried on a lost connection for up to USAJOBS_RUNLOG_RETRY_SECONDS
(default 60), so a database restart during the run does not lose the run's row. If the
database stays away, ``finish`` logs the failure and keeps the run's own exit code: the
run's data is not at stake, only its bookkeeping.
"""

from __future__ import annotations

import json
import os
import socket
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

if t.TYPE_CHECKING:
    from runtime.logs import Log

EX_DATAERR = 65  # sysexits: the run worked, but its input looks wrong
#: A run's status in the table, by its exit code (orchestrate/run.py).
STATUS_OF = {0: "succeeded", 75: "incomplete", 76: "refused"}
SCHEMA = "usajobs_ops"

DDL = f"""
create table if not exists {SCHEMA}.pipeline_runs (
    run_id uuid primary key,
    job text not null,
    mode text not null,
    environment text,
    shard text,
    host text,
    execution text,
    task_index integer,
    started_at timestamptz not null,
    ended_at timestamptz,
    status text not null,
    exit_code integer,
    records jsonb,
    total_records bigint,
    requests integer,
    retries integer,
    query_counts jsonb,
    alerts jsonb,
    tap_summary jsonb,
    schema_drift jsonb,
    versions jsonb
);
comment on table {SCHEMA}.pipeline_runs is
    'One row per usajobs-elt run (orchestrate/runtime/runlog.py). status: running, succeeded, '
    'failed, alerted (loaded, but a query''s result count dropped sharply), incomplete '
    '(exit 75: not every query was proven read whole), refused (exit 76: a changed '
    'field stopped the tap).';
"""
#: Columns added since the table was first made, for tables an older version created.
ADDED_COLUMNS = {"schema_drift": "jsonb", "versions": "jsonb"}


def ensure_table(conn: psycopg.Connection[t.Any]) -> None:
    """Create the table on first use; shards starting together take turns at it."""
    found = conn.execute("select to_regclass(%s)", [f"{SCHEMA}.pipeline_runs"]).fetchone()
    if found and found[0]:
        _add_missing_columns(conn)
        return
    # The catalog this transaction sees may predate another shard's commit, so the
    # statements themselves must tolerate what the lock holder made: IF NOT EXISTS.
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"{SCHEMA}.pipeline_runs"])
    if not conn.execute("select 1 from pg_namespace where nspname = %s", [SCHEMA]).fetchone():
        # Looked up first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even
        # when a DBA has made the schema.
        conn.execute(f"create schema if not exists {SCHEMA}")
    conn.execute(DDL)


def _add_missing_columns(conn: psycopg.Connection[t.Any]) -> None:
    """Add the columns a newer version records to a table an older one made.

    Checked first, so that an up-to-date table takes no lock.
    """
    present = {
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = %s and table_name = 'pipeline_runs'",
            [SCHEMA],
        )
    }
    for column, kind in ADDED_COLUMNS.items():
        if column not in present:
            conn.execute(
                f"alter table {SCHEMA}.pipeline_runs add column if not exists {column} {kind}"
            )


def schema_drift(summary: dict[str, t.Any] | None) -> dict[str, dict[str, int]]:
    """Fields the API sent that the tap's schema lacks: {stream: {JSON Pointer: rows}}."""
    content = (summary or {}).get("content") or {}
    drift: dict[str, dict[str, int]] = {}
    for stream, fields in content.items():
        for path, kinds in (fields or {}).items():
            if isinstance(kinds, dict) and kinds.get("unknown_field"):
                drift.setdefault(stream, {})[path] = int(kinds["unknown_field"])
    return drift


class RunLog:
    """Writes the run table, reconnecting while the database is restarting."""

    def __init__(self, retry_seconds: float, log: Log) -> None:
        """Retry lost connections for up to ``retry_seconds`` per call of ``execute``."""
        self.retry_seconds = retry_seconds
        self.log = log

    def execute(self, statements: t.Callable[[psycopg.Connection[t.Any]], t.Any]) -> t.Any:  # noqa: ANN401
        """Run ``statements`` in one transaction on a fresh connection, retrying lost ones.

        Each attempt is a whole transaction, so a retry never applies half of one.
        """
        deadline = time.monotonic() + self.retry_seconds
        wait = 0.5
        while True:
            try:
                with psycopg.connect(connect_timeout=10) as conn:
                    return statements(conn)
            except psycopg.OperationalError as exc:  # noqa: PERF203  # the retry loop's point
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                reason = " ".join(str(exc).split())
                self.log(
                    "database unavailable, retrying",
                    "WARNING",
                    component="runlog",
                    reason=reason,
                    wait=wait,
                )
                time.sleep(min(wait, left))
                wait = min(wait * 2, 10)

    def start(self, run_id: str, job: str, mode: str) -> None:
        """Create the table when needed and record a running run."""

        def insert(conn: psycopg.Connection[t.Any]) -> None:
            ensure_table(conn)
            conn.execute(
                f"insert into {SCHEMA}.pipeline_runs"  # noqa: S608  # a constant schema
                " (run_id, job, mode, environment, shard, host, execution, task_index,"
                " started_at, status)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, now(), 'running')"
                " on conflict (run_id) do nothing",
                [run_id, job, mode, *where_it_runs()],
            )

        self.execute(insert)

    def finish(
        self,
        run: dict[str, str],
        exit_code: int,
        summary: dict[str, t.Any] | None,
        settings: Settings,
        versions: dict[str, str | None] | None = None,
    ) -> list[dict[str, t.Any]]:
        """Record how the run ended; return the result-count drops it alerts on.

        An upsert: a run whose ``start`` could not be recorded still gets its row.
        """
        run_id = run["run_id"]

        def record(conn: psycopg.Connection[t.Any]) -> list[dict[str, t.Any]]:
            ensure_table(conn)
            counts = query_counts(summary)
            alerts: list[dict[str, t.Any]] = []
            if exit_code == 0 and settings.drop_percent > 0:
                alerts = find_drops(conn, run_id, counts, settings)
                alerts = alerts or carried_over_alerts(conn, run_id)
            status = "alerted" if alerts else STATUS_OF.get(exit_code, "failed")
            summary_ = summary or {}
            started = summary_.get("started_at")
            inserted = conn.execute(
                f"insert into {SCHEMA}.pipeline_runs as runs"  # noqa: S608  # a constant schema
                " (run_id, job, mode, environment, shard, host, execution, task_index,"
                "  started_at, ended_at, status, exit_code, records, total_records, requests,"
                "  retries, query_counts, alerts, tap_summary, schema_drift, versions)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s::timestamptz, now()),"
                "  now(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " on conflict (run_id) do update set ended_at = excluded.ended_at,"
                "  status = excluded.status, exit_code = excluded.exit_code,"
                "  records = excluded.records, total_records = excluded.total_records,"
                "  requests = excluded.requests, retries = excluded.retries,"
                "  query_counts = excluded.query_counts, alerts = excluded.alerts,"
                "  tap_summary = excluded.tap_summary, schema_drift = excluded.schema_drift,"
                "  versions = excluded.versions"
                " returning (xmax = 0)",
                [
                    run_id,
                    run["job"],
                    run["mode"],
                    *where_it_runs(),
                    started,
                    status,
                    EX_DATAERR if alerts else exit_code,
                    _json(summary_.get("records")),
                    summary_.get("total_records"),
                    summary_.get("total_requests"),
                    summary_.get("total_retries"),
                    _json(counts or None),
                    _json(alerts or None),
                    _json(summary),
                    _json(schema_drift(summary) or None),
                    _json(versions),
                ],
            ).fetchone()
            if inserted and inserted[0]:
                self.log(
                    "the run's start was not recorded; its row starts now",
                    "WARNING",
                    component="runlog",
                )
            return alerts

        return t.cast("list[dict[str, t.Any]]", self.execute(record))


def _json(value: t.Any) -> Jsonb | None:  # noqa: ANN401
    """A jsonb parameter, or SQL NULL (not JSON null) for nothing."""
    return None if value is None else Jsonb(value)


def where_it_runs() -> list[t.Any]:
    """Environment, shard, host, Cloud Run execution and task index of this run."""
    index = os.environ.get("CLOUD_RUN_TASK_INDEX", "")
    return [
        os.environ.get("MELTANO_ENVIRONMENT", "dev"),
        os.environ.get("USAJOBS_STATE_ID_SUFFIX") or None,
        socket.gethostname(),
        os.environ.get("CLOUD_RUN_EXECUTION") or None,
        int(index) if index.isdigit() else None,
    ]


def carried_over_alerts(conn: psycopg.Connection[t.Any], run_id: str) -> list[dict[str, t.Any]]:
    """An earlier attempt's alert, when this run is a retry of the same Cloud Run task.

    Cloud Run retries a task that exited 65. The retry is usually incremental (the first
    attempt finished its full scan), compares nothing and would succeed, and the
    execution would count as succeeded: carrying the alert over keeps it failed.
    """
    _, _, _, execution, task_index = where_it_runs()
    if execution is None:
        return []
    row = conn.execute(
        f"select run_id, alerts from {SCHEMA}.pipeline_runs"  # noqa: S608
        " where execution = %s and task_index is not distinct from %s and run_id <> %s"
        " and status = 'alerted' order by started_at desc limit 1",
        [execution, task_index, run_id],
    ).fetchone()
    if row is None:
        return []
    return [{**alert, "carried_over_from": str(row[0])} for alert in row[1] or []]


def query_counts(summary: dict[str, t.Any] | None) -> dict[str, dict[str, t.Any]]:
    """Each query's reported size from the tap's summary."""
    queries = (summary or {}).get("queries") or {}
    return {label: dict(count) for label, count in queries.items() if isinstance(count, dict)}


def find_drops(
    conn: psycopg.Connection[t.Any],
    run_id: str,
    counts: dict[str, dict[str, t.Any]],
    settings: Settings,
) -> list[dict[str, t.Any]]:
    """Queries whose full, complete scan found far fewer postings than the last one did.

    Only full scans compare: an incremental run asks for recent postings only, so its
    counts are small by design. Only runs of the same Meltano environment compare: dev
    may point at a fake API while sharing prod's database.
    """
    environment = where_it_runs()[0]
    alerts = []
    for label, count in counts.items():
        if not (count.get("full_scan") and count.get("complete")):
            continue
        row = conn.execute(
            f"select run_id, (query_counts -> %s ->> 'reported')::bigint"  # noqa: S608
            f" from {SCHEMA}.pipeline_runs"
            " where run_id <> %s and environment = %s"
            " and status in ('succeeded', 'alerted')"
            " and started_at < coalesce("
            f"   (select started_at from {SCHEMA}.pipeline_runs where run_id = %s), now())"
            " and (query_counts -> %s ->> 'full_scan')::boolean"
            " and (query_counts -> %s ->> 'complete')::boolean"
            " order by started_at desc limit 1",
            [label, run_id, environment, run_id, label, label],
        ).fetchone()
        if row is None or row[1] is None or row[1] < settings.min_rows:
            continue
        previous, now = int(row[1]), int(count.get("reported") or 0)
        if now < previous * (1 - settings.drop_percent / 100):
            alerts.append(
                {
                    "query": label,
                    "previous": previous,
                    "now": now,
                    "drop_percent": round(100 * (previous - now) / previous, 1),
                    "previous_run_id": str(row[0]),
                }
            )
    return alerts


def summary_status(path: Path) -> str:
    """The status the tap's summary gives (e.g. "incomplete"), or "" without one."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return ""
    return str(document.get("status") or "") if isinstance(document, dict) else ""


class SummaryError(Exception):
    """The tap's summary file exists but cannot be read."""


def read_summary(path: str | None) -> dict[str, t.Any] | None:
    """The tap's summary file, or None when the tap never got to write one."""
    if not path:
        return None
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        msg = f"unreadable tap summary, recording the run without it: {exc}"
        raise SummaryError(msg) from exc
    return document if isinstance(document, dict) else None


@dataclass(frozen=True)
class Settings:
    """The alert's and the run table's settings, from the environment."""

    drop_percent: float
    min_rows: int
    retry_seconds: float

    @classmethod
    def from_env(cls, environ: t.Mapping[str, str]) -> Settings:
        """Read them, or raise ValueError naming the variable and what it must be."""

        def number(name: str, default: str, low: float, high: float | None = None) -> float:
            raw = environ.get(name, default)
            try:
                value = float(raw)
            except ValueError:
                value = float("nan")
            if not (value >= low and (high is None or value <= high)):
                limit = f"from {low:g} to {high:g}" if high is not None else f"{low:g} or more"
                msg = f"{name} must be a number {limit}, got {raw!r}."
                raise ValueError(msg)
            return value

        min_rows = number("USAJOBS_ALERT_MIN_ROWS", "20", 0)
        if min_rows != int(min_rows):
            msg = f"USAJOBS_ALERT_MIN_ROWS must be a whole number, got {min_rows:g}."
            raise ValueError(msg)
        return cls(
            drop_percent=number("USAJOBS_ALERT_DROP_PERCENT", "50", 0, 100),
            min_rows=int(min_rows),
            retry_seconds=number("USAJOBS_RUNLOG_RETRY_SECONDS", "60", 0),
        )


def alert_lines(alerts: list[dict[str, t.Any]]) -> list[tuple[str, dict[str, t.Any]]]:
    """The log line for each result-count drop, with its fields."""
    lines = []
    for alert in alerts:
        carried = alert.get("carried_over_from")
        message = (
            f"result count of {alert['query']} dropped {alert['drop_percent']}% since the "
            f"last full scan ({alert['previous']} -> {alert['now']})"
            + (f", found by attempt {carried} of this task" if carried else "")
            + "; the rows are loaded, check the API, the key and the filters"
            " (docs/runbook.md)"
        )
        lines.append((message, {"event": "result_count_drop", **alert}))
    return lines
