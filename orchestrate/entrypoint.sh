#!/usr/bin/env bash
# Start one pipeline run: what a container, cron or Cloud Run Job calls.
#
#   orchestrate/entrypoint.sh [JOB_OR_BLOCKS...]     default: usajobs-elt
#
# Configured only through the environment:
#   TAP_USAJOBS_API_KEY, TAP_USAJOBS_USER_AGENT   required (TAP_USAJOBS_* for the rest)
#   PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE    the database (libpq's variables)
#   MELTANO_ENVIRONMENT                           default: dev (the image sets prod)
#   MELTANO_DATABASE_URI                          meltano's system DB (state); ADR 0008
#   MELTANO_BIN                                   default: meltano on PATH, else .venv/bin/meltano
#   DATABASE_URL                                  instead of PG*: a postgresql:// URL (a secret)
#   CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_COUNT    set by Cloud Run Jobs: this task's shard
#
# Sharded (task count > 1): the usajobs-elt job loads this task's share of the queries
# under its own state ID (<env>:tap-usajobs-to-target-postgres:shard-I-of-N), then runs
# dbt under a database lock so tasks take turns; meltano's migrations and the first load
# (which creates the raw tables) are serialised the same way (orchestrate/pg_lock.py).
#
# Exit codes:
#   0   the run succeeded
#   64  configuration is missing or malformed: a required variable, or any tap setting
#       or stream selection the tap rejects (nothing was fetched)
#   69  the database is unreachable, or meltano's system schema cannot be created
#       (nothing was fetched)
#   *   the run failed: meltano's own exit code (1), or 128+N when stopped by signal N.
#       State is only advanced for data the target committed, so the next run resumes.
set -euo pipefail

readonly EX_CONFIG=64
readonly EX_UNAVAILABLE=69
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf '%s entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# SIGTERM/SIGINT: before meltano starts, stop here (as a container's PID 1, bash would
# otherwise ignore SIGTERM); once it runs, forward the signal to meltano (see below).
child=""
stop() {
  if [[ -z "$child" ]]; then
    log "received $1 before the run started"
    exit $((128 + $(kill -l "$1")))
  fi
  log "received $1, stopping the run"
  kill -s "$1" "$child" 2>/dev/null || true
}
trap 'stop TERM' TERM
trap 'stop INT' INT

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

# Cloud runtimes: a DATABASE_URL secret becomes libpq's PG* variables, and Cloud Run's
# task index and count pick this task's shard with its own state ID
# (orchestrate/cloud_env.py, which prints its own one-line reason on failure).
if ! cloud_exports="$("$python_bin" "$root/orchestrate/cloud_env.py")"; then
  exit "$EX_CONFIG"
fi
eval "$cloud_exports"
unset DATABASE_URL

# Fail before extracting anything when the database cannot be reached, with libpq's
# own reason, and make sure meltano's system schema exists (orchestrate/preflight.py).
if ! preflight="$("$python_bin" "$root/orchestrate/preflight.py" 2>&1)"; then
  log "$preflight"
  exit "$EX_UNAVAILABLE"
fi
[[ -z "$preflight" ]] || log "$preflight"

environment="${MELTANO_ENVIRONMENT:-dev}"

# Every other setting (numbers, lists, URLs, dates, shards, stream selection) is checked by
# the tap itself, as a run would check it, without a request: --test=schema only writes
# the schemas. Its log lines name each bad setting and its variable.
if ! "$meltano_bin" --environment "$environment" invoke tap-usajobs --test=schema >/dev/null; then
  log "tap-usajobs rejected its settings (the lines above say which and why); nothing was fetched."
  exit "$EX_CONFIG"
fi

if (($# == 0)); then
  set -- usajobs-elt
fi

# Run meltano as a child in its own process group, so a terminal's Ctrl-C reaches only
# this script, and forward SIGTERM/SIGINT to meltano alone (stop() above). Meltano 4.4.1+
# stops the running block by signalling its plugins once: the target then commits what
# it has, emits the matching state, and meltano saves it. Signalling the whole group
# instead would hand the target a second SIGTERM while it drains, and abort that commit.
run() {
  log "starting: $*"
  set -m  # job control: the background child leads its own process group
  "$@" &
  child=$!
  set +m
  set +e
  wait "$child"
  status=$?
  # wait returns early when a trapped signal arrives; wait again for the real exit code.
  while kill -0 "$child" 2>/dev/null; do
    wait "$child"
    status=$?
  done
  set -e
  child=""
  return "$status"
}

status=0
if [[ -n "${USAJOBS_STATE_ID_SUFFIX:-}" && "$*" == "usajobs-elt" ]]; then
  # One shard of a sharded execution: load this shard's queries under its own state ID,
  # then run dbt while holding a lock, so shards that finish together take turns and
  # the last one builds the models over everything loaded.
  lock=("$python_bin" "$root/orchestrate/pg_lock.py")
  run "${lock[@]}" usajobs-migrate -- "$meltano_bin" upgrade database || status=$?
  ((status != 0)) || run "${lock[@]}" usajobs-first-load --until usajobs.jobs -- \
    "$meltano_bin" --environment "$environment" run \
    --state-id-suffix "$USAJOBS_STATE_ID_SUFFIX" tap-usajobs target-postgres || status=$?
  if ((status == 0)); then
    run "$python_bin" "$root/orchestrate/pg_lock.py" usajobs-dbt -- \
      "$meltano_bin" --environment "$environment" run dbt-postgres:run dbt-postgres:test \
      || status=$?
  fi
elif [[ -n "${USAJOBS_STATE_ID_SUFFIX:-}" ]]; then
  run "$meltano_bin" --environment "$environment" run \
    --state-id-suffix "$USAJOBS_STATE_ID_SUFFIX" "$@" || status=$?
else
  run "$meltano_bin" --environment "$environment" run "$@" || status=$?
fi

if ((status == 0)); then
  log "run succeeded"
else
  log "run failed with exit code $status"
fi
exit "$status"
