"""The raw schema's migrations (orchestrate/migrations/*.sql), applied before every load.

A migration changes what an older load left in the raw tables so that this version's
target can load into them (001: arrays of objects from jsonb[] to jsonb). Each is written
to be run again safely: it looks for what it changes and finds nothing the second time.
So the runtime runs them all, in file order, before every load, one run at a time (an
advisory lock), and there is no table of applied versions to keep. Each one's NOTICEs
reach the run's log.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from runtime.logs import Log

FOLDER = Path(__file__).resolve().parents[1] / "migrations"


class MigrationError(Exception):
    """A migration failed; nothing of it was committed."""


def apply(log: Log, folder: Path = FOLDER) -> None:
    """Run every migration of ``folder`` against the database PG* points at."""
    raw_schema = os.environ.get("TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA") or "usajobs"
    if not folder.is_dir():  # an image built without them must not pass for migrated
        msg = f"the migrations folder {folder} is missing"
        raise MigrationError(msg)
    name = "(connecting)"
    try:
        with psycopg.connect(autocommit=True, application_name="usajobs-migrations") as conn:
            conn.add_notice_handler(
                lambda notice: log(notice.message_primary or "", component="migrate")
            )
            conn.execute("select pg_advisory_lock(hashtext('usajobs-migrations'))")
            conn.execute("select set_config('usajobs.raw_schema', %s, false)", (raw_schema,))
            for path in sorted(folder.glob("*.sql")):
                name = path.name
                conn.execute(path.read_text().encode())  # one DO block: all or nothing
    except psycopg.Error as exc:
        msg = f"migration {name} failed on schema {raw_schema}: {exc}"
        raise MigrationError(msg) from exc
