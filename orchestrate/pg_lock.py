"""Run a command while holding a PostgreSQL advisory lock: ``pg_lock.py NAME -- CMD ...``.

Sharded runs load in parallel, but their dbt steps rebuild the same tables, so
entrypoint.sh runs dbt under this lock: shards take turns, and the last one to finish
builds the models over everything loaded. The lock lives in the database PG* points at
and is released when the command ends, whatever happens to it (the session closes).
"""

from __future__ import annotations

import subprocess
import sys

import psycopg


def main(argv: list[str]) -> int:
    """Take the lock named ``argv[0]``, run the command after ``--``, return its code."""
    if len(argv) < 3 or argv[1] != "--":  # noqa: PLR2004
        print("usage: pg_lock.py NAME -- COMMAND [ARGS...]", file=sys.stderr)
        return 64
    name, command = argv[0], argv[2:]
    with psycopg.connect(autocommit=True, application_name="usajobs-pg-lock") as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (name,))
        return subprocess.call(command)  # noqa: S603  # our own entrypoint's command


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
