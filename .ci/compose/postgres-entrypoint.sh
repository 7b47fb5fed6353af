#!/bin/sh
# What the CI stand-in needs of the official image's entrypoint: on first start, a UTF-8
# cluster (as the official image makes) with POSTGRES_USER (password POSTGRES_PASSWORD,
# scram over TCP) and POSTGRES_DB; then `postgres ARGS...` as the postgres user,
# listening on every address.
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec runuser -u postgres -- "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:?}" >"$pwfile"
    "$bin/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
        --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    "$bin/createdb" -U "$POSTGRES_USER" "$POSTGRES_DB"
    "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
    echo "stand-in postgres: created database $POSTGRES_DB for $POSTGRES_USER"
fi
[ "${1:-}" = postgres ] && shift
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' "$@"
