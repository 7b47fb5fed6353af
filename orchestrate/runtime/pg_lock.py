"""Holding a PostgreSQL advisory lock around a step that must not overlap with another run's.

Sharded runs load in parallel, but some steps must not overlap: meltano's migrations of
a new system database, target-postgres creating the raw tables on a first load, and the
dbt steps that rebuild the same models. The runtime runs those while holding a lock in
the database PG* points at; it is released when the step ends, whatever happens to it
(the session closes). With ``until``, the first run to get the lock keeps it while it
creates that table, and the others, finding the table there, go on in parallel.
"""

from __future__ import annotations

import contextlib
import typing as t

import psycopg

if t.TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def advisory_lock(name: str, until: str | None = None) -> Iterator[None]:
    """Hold the session lock ``name`` for the block (or only until table ``until`` exists)."""
    with psycopg.connect(autocommit=True, application_name="usajobs-pg-lock") as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (name,))
        row = conn.execute("select to_regclass(%s)", (until,)).fetchone() if until else None
        if row and row[0]:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (name,))
        yield
