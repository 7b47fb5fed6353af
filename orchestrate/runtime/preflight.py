"""Database checks before a run, before meltano starts.

1. The database that PG* points at must accept a connection. Otherwise the run exits 69
   with libpq's own reason, before anything is fetched. libpq never echoes a password.
2. If ``MELTANO_DATABASE_URI`` keeps meltano's system database in PostgreSQL, the first
   schema on that URI's ``search_path`` must exist, and this creates it when it does not.
   The image uses ``postgresql+psycopg://?options=-csearch_path%3Dmeltano``
   (ADR 0008). Meltano's migrations create tables but not schemas. Without the schema,
   they stop with "no schema has been selected to create in".

Run with meltano's Python, which has psycopg (meltano[postgres]).
"""

from __future__ import annotations

import typing as t

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _where(environ: t.Mapping[str, str]) -> str:
    return " ".join(
        f"{name}={environ.get(name) or '<unset>'}" for name in ("PGHOST", "PGPORT", "PGDATABASE")
    )


def system_db_conninfo(uri: str) -> str | None:
    """The libpq form of a PostgreSQL ``MELTANO_DATABASE_URI``; None for other databases."""
    scheme, separator, rest = uri.partition("://")
    if not separator or scheme.split("+")[0] not in {"postgresql", "postgres"}:
        return None
    # "postgresql+psycopg://?options=..." -> "postgresql://?options=...": libpq reads
    # the URI's parts and takes whatever is missing from PG*.
    return f"postgresql://{rest}"


def first_schema(search_path: str) -> str | None:
    """The schema that new tables go to: the first entry of ``search_path`` except "$user"."""
    for entry in search_path.split(","):
        name = entry.strip()
        if name and name != '"$user"':
            return name.strip('"')
    return None


def ensure_system_schema(conninfo: str) -> str | None:
    """Create the first schema on the connection's ``search_path`` if missing; its name if so."""
    with psycopg.connect(conninfo, connect_timeout=10, autocommit=True) as conn:
        row = conn.execute("select current_setting('search_path')").fetchone()
        schema = first_schema(row[0] if row else "")
        if schema is None:
            return None
        # Look before creating: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege
        # even when the schema exists, and a DBA may have made it for a restricted user.
        if conn.execute("select 1 from pg_namespace where nspname = %s", [schema]).fetchone():
            return None
        try:
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        except psycopg.errors.UniqueViolation:
            # Another task created it between the look and the create: IF NOT EXISTS
            # does not cover that race in PostgreSQL's catalog. It exists, as wanted.
            return None
        return schema


class UnavailableError(Exception):
    """The database cannot be used; the message says why (exit 69)."""


def check(environ: t.Mapping[str, str]) -> str | None:
    """Run both checks; raise ``UnavailableError`` with the reason, or say what was created."""
    try:
        psycopg.connect(connect_timeout=10).close()
    except psycopg.Error as exc:
        msg = f"cannot connect to PostgreSQL ({_where(environ)}): {_one_line(exc)}"
        raise UnavailableError(msg) from None
    uri = environ.get("MELTANO_DATABASE_URI", "")
    conninfo = system_db_conninfo(uri)
    if conninfo is None:
        return None
    try:
        created = ensure_system_schema(conninfo)
    except psycopg.Error as exc:
        msg = (
            "cannot prepare meltano's system database (MELTANO_DATABASE_URI, ADR 0008): "
            f"{_without_secrets(_one_line(exc), uri)}"
        )
        raise UnavailableError(msg) from None
    return f"created schema {created!r} for meltano's system database" if created else None


def _without_secrets(message: str, uri: str) -> str:
    """Libpq's message about ``uri``, which it may quote, password and all: say less."""
    if uri and (uri in message or "://" in message or "invalid" in message.lower()):
        return "it is not a usable PostgreSQL connection URI (not shown: it may hold a password)"
    try:
        password = conninfo_to_dict(system_db_conninfo(uri) or "").get("password")
    except psycopg.Error:
        password = None
    return message.replace(str(password), "***") if password else message
