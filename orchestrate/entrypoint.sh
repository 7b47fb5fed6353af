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
#
# Exit codes:
#   0   the run succeeded
#   64  configuration is missing or malformed (nothing was fetched)
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

# Fail before extracting anything when the database cannot be reached, with libpq's
# own reason, and make sure meltano's system schema exists (orchestrate/preflight.py).
if ! preflight="$("$python_bin" "$root/orchestrate/preflight.py" 2>&1)"; then
  log "$preflight"
  exit "$EX_UNAVAILABLE"
fi
[[ -z "$preflight" ]] || log "$preflight"

if (($# == 0)); then
  set -- usajobs-elt
fi
environment="${MELTANO_ENVIRONMENT:-dev}"
log "starting: meltano --environment $environment run $*"

# Run meltano as a child in its own process group, so a terminal's Ctrl-C reaches only
# this script, and forward SIGTERM/SIGINT to meltano alone (stop() above). Meltano 4.4.1+
# stops the running block by signalling each plugin once: the target commits the rows it
# holds and passes on only state the tap sent after them. Signalling the whole group
# instead would hand the target a second SIGTERM while it drains, and abort that commit.
set -m  # job control: the background child leads its own process group
"$meltano_bin" --environment "$environment" run "$@" &
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
if ((status == 0)); then
  log "run succeeded"
else
  log "run failed with exit code $status"
fi
exit "$status"
