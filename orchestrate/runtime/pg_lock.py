"""Run a command while holding a PostgreSQL advisory lock.

    pg_lock.py NAME -- CMD ...                  hold the lock for the whole command
    pg_lock.py NAME --until TABLE -- CMD ...    hold it only while TABLE does not exist

Sharded runs load in parallel, but some steps must not overlap: meltano's migrations of a
new system database, target-postgres creating the raw tables on a first load, and the
dbt steps that rebuild the same models. entrypoint.sh runs those under this lock. With
``--until``, the first task to get the lock runs alone while it creates TABLE, and the
others, finding it there, go on in parallel. The lock lives in the database PG* points
at and is released when the command ends, whatever happens to it (the session closes).

SIGTERM and SIGINT are passed on to the command, and this waits for it to end: the
entrypoint signals this process, and meltano must get the signal to stop its plugins
cleanly (otherwise it would be orphaned, then killed with the container, leaving its
run record alive for 5 minutes).
"""

from __future__ import annotations

import signal
import subprocess
import sys

import psycopg

USAGE = "usage: pg_lock.py NAME [--until SCHEMA.TABLE] -- COMMAND [ARGS...]"


def main(argv: list[str]) -> int:
    """Take the lock named ``argv[0]``, run the command after ``--``, return its code."""
    if "--" not in argv or argv.index("--") not in {1, 3} or argv[-1] == "--":
        print(USAGE, file=sys.stderr)
        return 64
    split = argv.index("--")
    name, options, command = argv[0], argv[1:split], argv[split + 1 :]
    until = options[1] if options[:1] == ["--until"] else None
    with psycopg.connect(autocommit=True, application_name="usajobs-pg-lock") as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (name,))
        if until and conn.execute("select to_regclass(%s)", (until,)).fetchone()[0]:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (name,))
        return run_forwarding_signals(command)


def run_forwarding_signals(command: list[str]) -> int:
    """Run ``command``, pass SIGTERM/SIGINT on to it, return its exit code (128+N if killed)."""
    child = subprocess.Popen(command)  # noqa: S603  # our own entrypoint's command
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: child.send_signal(number))
    code = child.wait()
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
