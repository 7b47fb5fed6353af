"""One row per pipeline run in ``usajobs_ops.pipeline_runs``, and the result-count alert.

``orchestrate/entrypoint.sh`` calls this around every run:

    runlog.py start  --run-id UUID --job NAME --mode run|dry-run|backfill
    runlog.py finish --run-id UUID --exit-code N [--summary tap-summary.json]

``start`` records a ``running`` row; ``finish`` records how the run ended, with the tap's
summary (records per stream, requests, retries, each query's reported size; written by
the tap's ``run_summary_path`` setting). ``finish`` then compares each query's size
with the same query's last full scan: when a full scan finds USAJOBS_ALERT_DROP_PERCENT
(default 50; 0 turns the check off) fewer postings than the previous one, the drop is
logged as an error and ``finish`` exits 65, so the execution fails and alerting sees
it. The rows were loaded and state saved: the alert asks a person to look (a changed
API, a key with fewer rights, a filter typo), it does not undo anything.

The database is reached through libpq's PG* variables, like target-postgres. Every
statement is retried on a lost connection for up to USAJOBS_RUNLOG_RETRY_SECONDS
(default 60), so a database restart during the run does not lose the run's row. If the
database stays away, ``finish`` logs the failure and keeps the run's own exit code: the
run's data is not at stake, only its bookkeeping.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import typing as t
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

EX_DATAERR = 65  # sysexits: the run worked, but its input looks wrong
SCHEMA = "usajobs_ops"

DDL = f"""
create table {SCHEMA}.pipeline_runs (
    run_id uuid primary key,
    job text not null,
    mode text not null,
    environment text,
    shard text,
    host text,
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
    tap_summary jsonb
);
comment on table {SCHEMA}.pipeline_runs is
    'One row per usajobs-elt run (orchestrate/runlog.py). status: running, succeeded, '
    'failed, alerted (loaded, but a query''s result count dropped sharply).';
"""


def ensure_table(conn: psycopg.Connection[t.Any]) -> None:
    """Create the table on first use; shards starting together take turns at it."""
    if conn.execute("select to_regclass(%s)", [f"{SCHEMA}.pipeline_runs"]).fetchone()[0]:
        return
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"{SCHEMA}.pipeline_runs"])
    if conn.execute("select to_regclass(%s)", [f"{SCHEMA}.pipeline_runs"]).fetchone()[0]:
        return
    if not conn.execute("select 1 from pg_namespace where nspname = %s", [SCHEMA]).fetchone():
        conn.execute(f"create schema {SCHEMA}")
    conn.execute(DDL)


def log(severity: str, message: str, **fields: t.Any) -> None:  # noqa: ANN401
    """One log line on stderr: JSON under USAJOBS_LOG_FORMAT=json, else plain text."""
    if os.environ.get("USAJOBS_LOG_FORMAT") == "json":
        entry = {"severity": severity, "message": message, "component": "runlog", **fields}
        print(json.dumps(entry, default=str), file=sys.stderr, flush=True)
    else:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        extra = " ".join(f"{key}={value}" for key, value in fields.items())
        print(f"{stamp} runlog: {message} {extra}".rstrip(), file=sys.stderr, flush=True)


class RunLog:
    """Writes the run table, reconnecting while the database is restarting."""

    def __init__(self, retry_seconds: float) -> None:
        self.retry_seconds = retry_seconds

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
            except psycopg.OperationalError as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                reason = " ".join(str(exc).split())
                log("WARNING", "database unavailable, retrying", reason=reason, wait=wait)
                time.sleep(min(wait, left))
                wait = min(wait * 2, 10)

    def start(self, run_id: str, job: str, mode: str) -> None:
        """Create the table when needed and record a running run."""

        def insert(conn: psycopg.Connection[t.Any]) -> None:
            ensure_table(conn)
            conn.execute(
                f"insert into {SCHEMA}.pipeline_runs"  # noqa: S608  # a constant schema
                " (run_id, job, mode, environment, shard, host, started_at, status)"
                " values (%s, %s, %s, %s, %s, %s, now(), 'running')"
                " on conflict (run_id) do nothing",
                [
                    run_id,
                    job,
                    mode,
                    os.environ.get("MELTANO_ENVIRONMENT", "dev"),
                    os.environ.get("USAJOBS_STATE_ID_SUFFIX") or None,
                    socket.gethostname(),
                ],
            )

        self.execute(insert)

    def finish(
        self,
        run_id: str,
        exit_code: int,
        summary: dict[str, t.Any] | None,
        drop_percent: float,
        min_rows: int,
    ) -> list[dict[str, t.Any]]:
        """Record how the run ended; return the result-count drops it alerts on."""

        def update(conn: psycopg.Connection[t.Any]) -> list[dict[str, t.Any]]:
            ensure_table(conn)
            counts = query_counts(summary)
            alerts: list[dict[str, t.Any]] = []
            if exit_code == 0 and drop_percent > 0:
                alerts = find_drops(conn, run_id, counts, drop_percent, min_rows)
            status = "succeeded" if exit_code == 0 else "failed"
            if alerts:
                status = "alerted"
            conn.execute(
                f"update {SCHEMA}.pipeline_runs set"  # noqa: S608  # a constant schema
                " ended_at = now(), status = %s, exit_code = %s, records = %s,"
                " total_records = %s, requests = %s, retries = %s, query_counts = %s,"
                " alerts = %s, tap_summary = %s"
                " where run_id = %s",
                [
                    status,
                    EX_DATAERR if alerts else exit_code,
                    Jsonb((summary or {}).get("records")),
                    (summary or {}).get("total_records"),
                    (summary or {}).get("total_requests"),
                    (summary or {}).get("total_retries"),
                    Jsonb(counts),
                    Jsonb(alerts or None),
                    Jsonb(summary),
                    run_id,
                ],
            )
            return alerts

        return t.cast("list[dict[str, t.Any]]", self.execute(update))


def query_counts(summary: dict[str, t.Any] | None) -> dict[str, dict[str, t.Any]]:
    """Each query's reported size from the tap's summary."""
    queries = (summary or {}).get("queries") or {}
    return {label: dict(count) for label, count in queries.items() if isinstance(count, dict)}


def find_drops(
    conn: psycopg.Connection[t.Any],
    run_id: str,
    counts: dict[str, dict[str, t.Any]],
    drop_percent: float,
    min_rows: int,
) -> list[dict[str, t.Any]]:
    """Queries whose full, complete scan found far fewer postings than the last one did.

    Only full scans compare: an incremental run asks for recent postings only, so its
    counts are small by design.
    """
    alerts = []
    for label, count in counts.items():
        if not (count.get("full_scan") and count.get("complete")):
            continue
        row = conn.execute(
            f"select run_id, (query_counts -> %s ->> 'reported')::bigint"  # noqa: S608
            f" from {SCHEMA}.pipeline_runs"
            " where run_id <> %s and status in ('succeeded', 'alerted')"
            f" and started_at < (select started_at from {SCHEMA}.pipeline_runs where run_id = %s)"
            " and (query_counts -> %s ->> 'full_scan')::boolean"
            " and (query_counts -> %s ->> 'complete')::boolean"
            " order by started_at desc limit 1",
            [label, run_id, run_id, label, label],
        ).fetchone()
        if row is None or row[1] is None or row[1] < min_rows:
            continue
        previous, now = int(row[1]), int(count.get("reported") or 0)
        if now < previous * (1 - drop_percent / 100):
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


def read_summary(path: str | None) -> dict[str, t.Any] | None:
    """The tap's summary file, or None when the tap never got to write one."""
    if not path:
        return None
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log("WARNING", "unreadable tap summary, recording the run without it", error=str(exc))
        return None
    return document if isinstance(document, dict) else None


def main(argv: list[str] | None = None) -> int:
    """Parse the command and run it; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start")
    start.add_argument("--run-id", required=True)
    start.add_argument("--job", required=True)
    start.add_argument("--mode", default="run")
    finish = commands.add_parser("finish")
    finish.add_argument("--run-id", required=True)
    finish.add_argument("--exit-code", type=int, required=True)
    finish.add_argument("--summary")
    args = parser.parse_args(argv)

    runlog = RunLog(float(os.environ.get("USAJOBS_RUNLOG_RETRY_SECONDS", "60")))
    try:
        if args.command == "start":
            runlog.start(args.run_id, args.job, args.mode)
            return 0
        summary = read_summary(args.summary)
        alerts = runlog.finish(
            args.run_id,
            args.exit_code,
            summary,
            drop_percent=float(os.environ.get("USAJOBS_ALERT_DROP_PERCENT", "50")),
            min_rows=int(os.environ.get("USAJOBS_ALERT_MIN_ROWS", "20")),
        )
    except psycopg.Error as exc:
        log(
            "ERROR",
            f"could not record the run in {SCHEMA}.pipeline_runs",
            run_id=args.run_id,
            reason=" ".join(str(exc).split()),
        )
        return 0 if args.command == "finish" else 1
    for alert in alerts:
        log(
            "ERROR",
            f"result count of {alert['query']} dropped {alert['drop_percent']}% since the "
            f"last full scan ({alert['previous']} -> {alert['now']}); the rows are loaded, "
            "check the API, the key and the filters (docs/runbook.md)",
            run_id=args.run_id,
            event="result_count_drop",
            **alert,
        )
    return EX_DATAERR if alerts else 0


if __name__ == "__main__":
    sys.exit(main())
