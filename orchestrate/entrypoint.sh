#!/usr/bin/env bash
# Start one pipeline run: what a container, cron or Cloud Run Job calls.
#
#   orchestrate/entrypoint.sh [JOB_OR_BLOCKS...]     default: usajobs-elt
#
# Configured only through the environment:
#   TAP_USAJOBS_API_KEY, TAP_USAJOBS_USER_AGENT   required (TAP_USAJOBS_* for the rest)
#   PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE    the database (libpq's variables)
#   MELTANO_ENVIRONMENT                           default: dev
#   MELTANO_BIN                                   default: meltano on PATH, else .venv/bin/meltano
#
# Exit codes:
#   0   the run succeeded
#   64  configuration is missing or malformed (nothing was fetched)
#   69  the database is unreachable (nothing was fetched)
#   *   the run failed: meltano's own exit code (1), or 128+N when stopped by signal N.
#       State is only advanced for data the target committed, so the next run resumes.
set -euo pipefail

readonly EX_CONFIG=64
readonly EX_UNAVAILABLE=69
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf '%s entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

meltano_bin="${MELTANO_BIN:-$(command -v meltano || echo "$root/.venv/bin/meltano")}"
if [[ ! -x "$meltano_bin" ]]; then
  log "meltano not found (looked on PATH and at .venv/bin/meltano); run 'make install'."
  exit "$EX_CONFIG"
fi
python_bin="$(dirname "$meltano_bin")/python"

missing=()
for name in TAP_USAJOBS_API_KEY TAP_USAJOBS_USER_AGENT; do
  [[ -n "${!name:-}" ]] || missing+=("$name")
done
if ((${#missing[@]})); then
  log "missing required settings: ${missing[*]} (set them in the environment or the env file)."
  exit "$EX_CONFIG"
fi
if [[ ! "$TAP_USAJOBS_USER_AGENT" =~ ^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$ ]]; then
  log "TAP_USAJOBS_USER_AGENT must be the email address the API key was issued to."
  exit "$EX_CONFIG"
fi

# Fail before extracting anything when the database cannot be reached, with libpq's
# own reason (the password never appears: libpq does not echo it).
if ! db_error="$("$python_bin" - <<'PY' 2>&1
import sys
import psycopg
try:
    psycopg.connect(connect_timeout=10).close()
except psycopg.Error as exc:
    sys.exit(" ".join(str(exc).split()))
PY
)"; then
  log "cannot connect to PostgreSQL (PGHOST=${PGHOST:-<unset>} PGPORT=${PGPORT:-<unset>} PGDATABASE=${PGDATABASE:-<unset>}): ${db_error}"
  exit "$EX_UNAVAILABLE"
fi

if (($# == 0)); then
  set -- usajobs-elt
fi
environment="${MELTANO_ENVIRONMENT:-dev}"
log "starting: meltano --environment $environment run $*"

# Run meltano as a child in its own process group and forward SIGTERM/SIGINT to the
# whole group, so the tap and target get the signal and stop cleanly.
set -m  # job control: the background child leads its own process group
"$meltano_bin" --environment "$environment" run "$@" &
child=$!
set +m
forward() {
  log "received $1, stopping the run"
  kill -s "$1" -- "-$child" 2>/dev/null || kill -s "$1" "$child" 2>/dev/null || true
}
trap 'forward TERM' TERM
trap 'forward INT' INT
set +e
wait "$child"
status=$?
# wait returns early when a trapped signal arrives; wait again for the real exit code.
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
  status=$?
done
set -e
if ((status == 0)); then
  log "run succeeded"
else
  log "run failed with exit code $status"
fi
exit "$status"
