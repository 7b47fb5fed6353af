"""runtime/cloud_env.py: a database URL secret and Cloud Run task variables.

That the runtime refuses a bad URL with exit 64 and never prints it: tests/test_shards_e2e.py.
"""

from __future__ import annotations

import pytest
from runtime import cloud_env


def test_a_neon_url_becomes_pg_variables_with_its_encoded_password() -> None:
    env = cloud_env.cloud_env(
        {
            "DATABASE_URL": "postgresql://app:p%40ss%2Fw@ep-x.neon.tech:5433/jobs?channel_binding=require"
        }
    )

    assert env == {
        "PGHOST": "ep-x.neon.tech",
        "PGPORT": "5433",
        "PGUSER": "app",
        "PGPASSWORD": "p@ss/w",
        "PGDATABASE": "jobs",
        "PGCHANNELBINDING": "require",
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": cloud_env.CA_BUNDLE,
    }


def test_a_cloud_sql_socket_url_needs_no_tls() -> None:
    env = cloud_env.cloud_env({"DATABASE_URL": "postgresql://app:pw@/jobs?host=/cloudsql/p:r:i"})

    assert env["PGHOST"] == "/cloudsql/p:r:i"
    assert "PGSSLMODE" not in env


def test_an_explicit_sslmode_is_kept() -> None:
    env = cloud_env.cloud_env({"DATABASE_URL": "postgres://u:pw@db/jobs?sslmode=verify-ca"})

    assert env["PGSSLMODE"] == "verify-ca"
    assert "PGSSLROOTCERT" not in env


def test_sslmode_require_is_raised_to_verify_full() -> None:
    # Providers' console strings say sslmode=require, which trusts any certificate.
    url = "postgresql://u:pw@db.example.com/jobs?sslmode=require&sslrootcert=/run/ca.pem"

    env = cloud_env.cloud_env({"DATABASE_URL": url})

    assert env["PGSSLMODE"] == "verify-full"
    assert env["PGSSLROOTCERT"] == "/run/ca.pem", "a root certificate in the URL is kept"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DATABASE_URL": "mysql://u:pw@db/jobs"}, "must start with postgresql://"),
        ({"DATABASE_URL": "postgresql://u:pw@db/jobs?bogus=1"}, "not a valid PostgreSQL"),
        ({"DATABASE_URL": "postgresql://u:pw@db/jobs", "PGHOST": "x"}, "not both"),
        ({"CLOUD_RUN_TASK_COUNT": "3", "CLOUD_RUN_TASK_INDEX": "3"}, "not within 0..2"),
    ],
)
def test_unusable_input_is_refused_without_echoing_secrets(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(cloud_env.ConfigError, match=message) as caught:
        cloud_env.cloud_env(environ)

    assert "pw" not in str(caught.value)


def test_cloud_run_task_variables_pick_a_shard_and_its_state_id() -> None:
    env = cloud_env.cloud_env({"CLOUD_RUN_TASK_INDEX": "1", "CLOUD_RUN_TASK_COUNT": "4"})

    assert env == {
        "TAP_USAJOBS_SHARD_COUNT": "4",
        "TAP_USAJOBS_SHARD_INDEX": "1",
        "USAJOBS_STATE_ID_SUFFIX": "shard-1-of-4",
    }
    assert cloud_env.cloud_env({"CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "1"}) == {}


def test_compose_without_a_key_reads_its_fake_api() -> None:
    env = cloud_env.cloud_env({"USAJOBS_DEMO_API_URL": "http://fake-api:8080"})

    assert env == {
        "TAP_USAJOBS_BASE_URL": "http://fake-api:8080",
        "TAP_USAJOBS_API_KEY": cloud_env.DEMO_API_KEY,
        "TAP_USAJOBS_USER_AGENT": "demo@example.org",
    }


def test_compose_with_a_key_reads_the_real_api_only_with_a_database_password_of_its_own() -> None:
    compose = {"USAJOBS_DEMO_API_URL": "http://fake-api:8080", "TAP_USAJOBS_API_KEY": "k"}

    assert cloud_env.cloud_env({**compose, "USAJOBS_OWN_DB_PASSWORD": "yes"}) == {}
    with pytest.raises(cloud_env.ConfigError, match=r"set POSTGRES_PASSWORD in \.env"):
        cloud_env.cloud_env({**compose, "USAJOBS_OWN_DB_PASSWORD": ""})
    # Outside compose nothing changes.
    assert cloud_env.cloud_env({"TAP_USAJOBS_API_KEY": "k"}) == {}
