"""Turn a cloud runtime's variables into the ones the pipeline reads.

- ``DATABASE_URL`` (a secret, as Neon, Supabase and Cloud SQL hand it out) becomes libpq's
  PG* variables, the only database configuration the project reads (ADR 0002, ADR 0009).
  TLS with a verified certificate and host name (``verify-full``) is the default for a
  network host, also when the URL says only ``sslmode=require``, which encrypts but would
  trust any certificate. A weaker mode written in the URL (``disable``, ``prefer``) and a
  unix socket are left alone. The URL, and libpq's messages about it (which can quote
  it), never reach the output.
- ``CLOUD_RUN_TASK_INDEX``/``CLOUD_RUN_TASK_COUNT`` (set by Cloud Run Jobs on each task)
  become the tap's ``shard_index``/``shard_count`` plus ``USAJOBS_STATE_ID_SUFFIX``, so each
  shard keeps its own state. Explicit ``TAP_USAJOBS_SHARD_*`` settings win.

- ``USAJOBS_DEMO_API_URL`` (set by docker-compose.yml to its fake API) is where a run
  without ``TAP_USAJOBS_API_KEY`` reads from: demo mode, so that ``docker compose up`` works
  on a fresh clone. With a key, the run reads the real API, and refuses to when the
  compose database still has its demo password (``USAJOBS_OWN_DB_PASSWORD`` empty).

``ConfigError`` (exit 64) says in one line what is unusable. Stdlib plus psycopg.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

#: libpq connection keywords a database URL may carry, and the variables libpq reads.
CONNINFO_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "channel_binding": "PGCHANNELBINDING",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}
PG_CONNECTION_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
#: The system's trusted roots (Debian's ca-certificates): libpq's sslrootcert=system
#: would ask a psycopg wheel's own OpenSSL, which may look elsewhere.
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class ConfigError(Exception):
    """The environment cannot be turned into a usable configuration."""


def database_env(url: str) -> dict[str, str]:
    """PG* variables for a ``postgres://`` or ``postgresql://`` URL."""
    from psycopg import conninfo  # noqa: PLC0415  # only needed when a URL is given

    scheme = url.partition("://")[0]
    if scheme not in {"postgres", "postgresql"}:
        msg = "DATABASE_URL must start with postgresql:// or postgres://"
        raise ConfigError(msg)
    try:
        parts = conninfo.conninfo_to_dict(url)
    except Exception as exc:
        # libpq's message can quote the URL, password included: say only what is wrong.
        msg = "DATABASE_URL is not a valid PostgreSQL connection URL"
        raise ConfigError(msg) from exc
    unknown = sorted(set(parts) - set(CONNINFO_ENV))
    if unknown:
        msg = f"DATABASE_URL has parameters this pipeline does not pass on: {', '.join(unknown)}"
        raise ConfigError(msg)
    env = {CONNINFO_ENV[key]: str(value) for key, value in parts.items() if value is not None}
    if env.get("PGHOST", "").startswith("/"):
        return env  # a unix socket (Cloud SQL's connector): no TLS to verify
    if env.get("PGSSLMODE", "require") == "require":
        # "require" encrypts but trusts any certificate: over the internet, anyone in the
        # path could pose as the database. verify-full checks the chain and the host name.
        env["PGSSLMODE"] = "verify-full"
        env.setdefault("PGSSLROOTCERT", CA_BUNDLE if Path(CA_BUNDLE).is_file() else "system")
    return env


def shard_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Shard settings and a state ID suffix from Cloud Run's task variables."""
    count = environ.get("TAP_USAJOBS_SHARD_COUNT") or environ.get("CLOUD_RUN_TASK_COUNT")
    index = environ.get("TAP_USAJOBS_SHARD_INDEX") or environ.get("CLOUD_RUN_TASK_INDEX")
    if not count or int(count) <= 1:
        return {}
    if index is None or not 0 <= int(index) < int(count):
        msg = f"shard index {index!r} is not within 0..{int(count) - 1}"
        raise ConfigError(msg)
    return {
        "TAP_USAJOBS_SHARD_COUNT": str(int(count)),
        "TAP_USAJOBS_SHARD_INDEX": str(int(index)),
        "USAJOBS_STATE_ID_SUFFIX": f"shard-{int(index)}-of-{int(count)}",
    }


#: Set by docker-compose.yml: its fake API, read when no API key is configured.
DEMO_API_VAR = "USAJOBS_DEMO_API_URL"
#: The key the bundled fake API accepts (tap_usajobs.testing.fake_api): not a secret.
DEMO_API_KEY = "fake-key"


def demo_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The fake API's settings when compose offers it and no key is set; else nothing."""
    url = environ.get(DEMO_API_VAR)
    if not url:
        return {}
    if environ.get("TAP_USAJOBS_API_KEY"):
        if environ.get("USAJOBS_OWN_DB_PASSWORD", "yes") == "":
            msg = (
                "TAP_USAJOBS_API_KEY is set, so this run would load the real API into the "
                "compose database, which still has its demo password: set POSTGRES_PASSWORD "
                'in .env first (README, "Docker Compose")'
            )
            raise ConfigError(msg)
        return {}
    return {
        "TAP_USAJOBS_BASE_URL": url,
        "TAP_USAJOBS_API_KEY": DEMO_API_KEY,
        "TAP_USAJOBS_USER_AGENT": environ.get("TAP_USAJOBS_USER_AGENT") or "demo@example.org",
    }


def cloud_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Every variable to export for this environment."""
    env: dict[str, str] = {}
    url = environ.get("DATABASE_URL")
    if url:
        clashing = [name for name in PG_CONNECTION_VARS if environ.get(name)]
        if clashing:
            msg = f"set either DATABASE_URL or {', '.join(clashing)}, not both"
            raise ConfigError(msg)
        env.update(database_env(url))
    env.update(shard_env(environ))
    env.update(demo_env(environ))
    return env
