#!/usr/bin/env bash
# Start one pipeline run: what a container, cron or Cloud Run Job calls.
#
#   orchestrate/entrypoint.sh [JOB_OR_BLOCKS...]     default: usajobs-elt
#   orchestrate/entrypoint.sh --dry-run              extract and validate; load nothing
#   orchestrate/entrypoint.sh --backfill START END   historic streams for a date window
#   orchestrate/entrypoint.sh --force [...]          run despite a killed run's stale lock
#
# Configured only through the environment:
#   TAP_USAJOBS_API_KEY, TAP_USAJOBS_USER_AGENT   required (TAP_USAJOBS_* for the rest)
#   PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE    the database (libpq's variables)
#   MELTANO_ENVIRONMENT                           default: dev (the image sets prod)
#   MELTANO_DATABASE_URI                          meltano's system DB (state); ADR 0008
#   MELTANO_BIN                                   default: meltano on PATH, else .venv/bin/meltano
#   DATABASE_URL                                  instead of PG*: a postgresql:// URL (a secret)
#   CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_COUNT    set by Cloud Run Jobs: this task's shard
#   USAJOBS_LOG_FORMAT                            text (default) or json: one JSON object per
#                                                 line, Cloud Logging's keys (severity, message)
#   USAJOBS_RUN_ID                                default: a new UUID; in every log line
#   USAJOBS_ALERT_DROP_PERCENT                    default 50; 0 turns the result-count alert off
#
# Every run gets a run ID, passed to meltano (`run --run-id`, so each of its log lines
# carries it) and recorded with its outcome, record counts, requests and retries in
# usajobs_ops.pipeline_runs (orchestrate/runlog.py).
#
# Modes:
#   --dry-run   runs the tap from the saved bookmark, validates every record against its
#               stream's schema and prints counts per stream (orchestrate/dry_run.py).
#               Nothing is loaded and no state is saved. Exit 65 if a record is invalid.
#   --backfill  reads historic_jobs and announcement_texts for opening dates START..END
#               (YYYY-MM-DD) under their own state ID (<env>:...:backfill), from scratch
#               each time, so the regular bookmark is neither used nor moved; then dbt
#               builds and tests historic_job_listings and the models it reads.
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
#   65  the run loaded its data, but a query's result count dropped sharply since the
#       last full scan (an alert, see docs/runbook.md); or, with --dry-run, invalid records
#   69  the database is unreachable, or meltano's system schema cannot be created
#       (nothing was fetched)
#   75  the tap could not prove a query or a window read whole (a lying count, a short,
#       empty or repeated page, a quarantined row, a request budget spent): what it read
#       is loaded and the marts are built, nothing is closed, the bookmark stays, and
#       the next run reads it again
#   76  the API changed a field's format (unreadable on most of a page): the tap stopped
#       before writing that page, so no good value was replaced by null
#   *   the run failed: meltano's own exit code (1, also after SIGINT: "Aborted!"),
#       143 after SIGTERM, or 128+N when signal N arrived before meltano started.
#       State is only advanced for data the target committed, so the next run resumes.
set -euo pipefail

readonly EX_CONFIG=64
readonly EX_DATAERR=65
readonly EX_UNAVAILABLE=69
readonly EX_INCOMPLETE=75
readonly EX_REFUSED=76
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log_format="${USAJOBS_LOG_FORMAT:-text}"
run_id="${USAJOBS_RUN_ID:-}"
# One line per message on stderr; in JSON for log collectors that read fields.
log() {
  local severity=INFO
  if [[ "$1" == ERROR || "$1" == WARNING ]]; then severity="$1"; shift; fi
  if [[ "$log_format" == json ]]; then
    local message="$*"
    message="${message//\\/\\\\}"
    message="${message//\"/\\\"}"
    message="${message//$'\n'/\\n}"
    message="${message//$'\r'/\\r}"
    message="${message//$'\t'/\\t}"
    message="${message//[[:cntrl:]]/ }"
    printf '{"severity":"%s","message":"%s","component":"entrypoint","run_id":"%s"}\n' \
      "$severity" "$message" "$run_id" >&2
  else
    printf '%s entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
  fi
}
case "$log_format" in
  text | json) ;;
  *)
    log_format=text
    log ERROR "USAJOBS_LOG_FORMAT must be text or json, got '${USAJOBS_LOG_FORMAT}'."
    exit "$EX_CONFIG"
    ;;
esac

# --force: run even though Meltano's system database says a run of this pipeline is still
# going (a killed run's record, until it is 5 minutes stale). Check first that none is.
force=()
if [[ "${1:-}" == --force ]]; then
  force=(--force)
  shift
fi
mode=run
backfill_start="" backfill_end=""
case "${1:-}" in
  --dry-run)
    mode=dry-run
    if (($# != 1)); then
      log ERROR "--dry-run takes no other arguments (it runs the tap as the next run would)."
      exit "$EX_CONFIG"
    fi
    shift
    ;;
  --backfill)
    mode=backfill
    if (($# != 3)); then
      log ERROR "usage: entrypoint.sh --backfill START END (dates as YYYY-MM-DD)."
      exit "$EX_CONFIG"
    fi
    backfill_start="$2" backfill_end="$3"
    for day in "$backfill_start" "$backfill_end"; do
      if ! [[ "$day" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || ! date -d "$day" +%F >/dev/null 2>&1; then
        log ERROR "--backfill dates must be YYYY-MM-DD, got '$day'."
        exit "$EX_CONFIG"
      fi
    done
    if [[ "$backfill_end" < "$backfill_start" ]]; then
      log ERROR "--backfill END ($backfill_end) is before START ($backfill_start)."
      exit "$EX_CONFIG"
    fi
    shift 3
    ;;
  --*)
    log ERROR "unknown option '$1' (expected --force, --dry-run or --backfill START END)."
    exit "$EX_CONFIG"
    ;;
esac
# Jobs and blocks only from here: an option after a job name would reach `meltano run`
# (whose own --dry-run runs nothing and succeeds).
for arg in "$@"; do
  if [[ "$arg" == -* ]]; then
    log ERROR "options go first: '$arg' after a job or block name is not accepted."
    exit "$EX_CONFIG"
  fi
done
if [[ -n "$run_id" && ! "$run_id" =~ ^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$ ]]; then
  run_id=""
  log ERROR "USAJOBS_RUN_ID must be a UUID (meltano run --run-id takes only that)."
  exit "$EX_CONFIG"
fi

# SIGTERM/SIGINT: before meltano starts, stop here (as a container's PID 1, bash would
# otherwise ignore SIGTERM); once it runs, forward the signal to meltano (see below).
child=""
phase=starting
stop() {
  if [[ -z "$child" && "$phase" == recording ]]; then
    # The run itself is over (its data committed or not, as its status says); only its
    # record in usajobs_ops.pipeline_runs may be missing.
    log WARNING "received $1 while recording the run; exiting with the run's status"
    exit "$status"
  fi
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
  log ERROR "meltano not found (looked on PATH and at .venv/bin/meltano); run 'make install'."
  exit "$EX_CONFIG"
fi
python_bin="$(dirname "$meltano_bin")/python"

missing=()
for name in TAP_USAJOBS_API_KEY TAP_USAJOBS_USER_AGENT; do
  [[ -n "${!name:-}" ]] || missing+=("$name")
done
if ((${#missing[@]})); then
  log ERROR "missing required settings: ${missing[*]} (set them in the environment or the env file)."
  exit "$EX_CONFIG"
fi
if [[ ! "$TAP_USAJOBS_USER_AGENT" =~ ^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$ ]]; then
  log ERROR "TAP_USAJOBS_USER_AGENT must be the email address the API key was issued to."
  exit "$EX_CONFIG"
fi

# The run table's and the alert's own settings (USAJOBS_ALERT_*, USAJOBS_RUNLOG_*).
if ! "$python_bin" "$root/orchestrate/runlog.py" check; then
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

if [[ "$mode" == backfill && -n "${USAJOBS_STATE_ID_SUFFIX:-}" ]]; then
  log ERROR "--backfill runs as a single task: set the job's task count to 1 (it is $USAJOBS_STATE_ID_SUFFIX)."
  exit "$EX_CONFIG"
fi

# Fail before extracting anything when the database cannot be reached, with libpq's
# own reason, and make sure meltano's system schema exists (orchestrate/preflight.py).
if ! preflight="$("$python_bin" "$root/orchestrate/preflight.py" 2>&1)"; then
  log ERROR "$preflight"
  exit "$EX_UNAVAILABLE"
fi
[[ -z "$preflight" ]] || log "$preflight"

environment="${MELTANO_ENVIRONMENT:-dev}"
if [[ -z "$run_id" ]]; then
  run_id="$("$python_bin" -c 'import uuid; print(uuid.uuid4())')"
fi
export USAJOBS_RUN_ID="$run_id"
meltano=("$meltano_bin" --environment "$environment")
[[ "$log_format" != json ]] || meltano+=(--log-config "$root/orchestrate/logging-json.yaml")

# Each run gets a meltano system folder of its own, with the installed plugins linked in:
# catalogs, state files and the per-run plugin configs (the API key among them) are
# written there, so runs on one host (shards, a backfill beside the daily run) never
# read each other's. A SIGKILLed run leaves its folder behind; the next run removes it.
umask 077
for stale in "${TMPDIR:-/tmp}"/usajobs-run.*; do
  [[ -d "$stale" ]] || continue
  owner="$(cat "$stale/pid" 2>/dev/null || true)"
  if [[ -z "$owner" ]] || ! kill -0 "$owner" 2>/dev/null; then
    rm -rf -- "$stale"
    log WARNING "removed $stale, left behind by a run that was killed"
  fi
done
unset stale owner
work="$(mktemp -d "${TMPDIR:-/tmp}/usajobs-run.XXXXXX")"
echo "$$" >"$work/pid"
trap 'rm -rf "$work"' EXIT
installed="${MELTANO_SYS_DIR_ROOT:-$root/.meltano}"
mkdir "$work/meltano"
for plugins in extractors loaders utilities; do
  ln -s "$installed/$plugins" "$work/meltano/$plugins"
done
export MELTANO_DATABASE_URI="${MELTANO_DATABASE_URI:-sqlite:///$installed/meltano.db}"
export MELTANO_SYS_DIR_ROOT="$work/meltano"
# dbt's manifest, partial-parse cache and run results, likewise this run's own.
export DBT_TARGET_PATH="$work/dbt-target"

# Shards start together: they take turns at meltano's own migrations, which any meltano
# command (the settings check below included) would otherwise run all at once.
if [[ -n "${USAJOBS_STATE_ID_SUFFIX:-}" ]]; then
  if ! "$python_bin" "$root/orchestrate/pg_lock.py" usajobs-migrate -- "$meltano_bin" upgrade database; then
    log ERROR "meltano's system database could not be migrated (MELTANO_DATABASE_URI, ADR 0008)."
    exit "$EX_UNAVAILABLE"
  fi
fi

# Every other setting (numbers, lists, URLs, dates, shards, stream selection) is checked by
# the tap itself, as a run would check it, without a request: --test=schema only writes
# the schemas. Its log lines name each bad setting and its variable.
if ! "${meltano[@]}" invoke tap-usajobs --test=schema >/dev/null; then
  log ERROR "tap-usajobs rejected its settings (the lines above say which and why); nothing was fetched."
  exit "$EX_CONFIG"
fi

if (($# == 0)); then
  set -- usajobs-elt
fi
# The tap writes what it did here when it ends; runlog.py records it with the run.
export TAP_USAJOBS_RUN_SUMMARY_PATH="$work/tap-summary.json"

# Run meltano as a child in its own process group, so a terminal's Ctrl-C reaches only
# this script, and forward SIGTERM/SIGINT to meltano alone (stop() above). Meltano 4.4.1+
# stops the running block by signalling its plugins once: the target then commits what
# it has, emits the matching state, and meltano saves it. Signalling the whole group
# instead would hand the target a second SIGTERM while it drains, and abort that commit.
run() {
  log "starting: $*"
  set -m  # job control: the background child leads its own process group
  # A copy of meltano's own lines, to tell a failed loader from a failed extractor.
  "$@" 2> >(tee "$work/last-step.log" >&2) &
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

runlog=("$python_bin" "$root/orchestrate/runlog.py")
if [[ "$mode" != dry-run ]]; then
  # A run that cannot be recorded still runs: its data matters more than its bookkeeping.
  job="$*"
  [[ "$mode" != backfill ]] || job="historic backfill $backfill_start..$backfill_end"
  "${runlog[@]}" start --run-id "$run_id" --job "$job" --mode "$mode" \
    || log WARNING "could not record the start of the run in usajobs_ops.pipeline_runs"
fi

# The tap exits 75 when it could not prove a query or window read whole, and 76 when a
# changed field stopped it before a page was written. Either way what it did write is
# correct and committed, so the marts are still built from it; the run then ends with
# that code. When the loader failed too, nothing is known to be committed: no dbt.
tap_status() {
  "$python_bin" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("status", ""))' \
    "$TAP_USAJOBS_RUN_SUMMARY_PATH" 2>/dev/null || true
}
read_status=""
declare -A EXIT_OF=([incomplete]=$EX_INCOMPLETE [refused]=$EX_REFUSED)
# Run meltano; when the tap alone failed because its read was incomplete or refused, what
# it wrote is committed: carry on (status 0), and let finish_status give the run its code.
meltano_step() {
  status=0
  run "$@" || status=$?
  read_status="$(tap_status)"
  if ((status != 0)) && [[ -n "$read_status" && -n "${EXIT_OF[$read_status]:-}" ]] &&
    ! grep -q "oader failed" "$work/last-step.log"; then
    log WARNING "the tap's read was $read_status; what it wrote is loaded"
    status=0
  fi
}
extract_load() {
  meltano_step "$@"
  # Shards load at the same time, and target-postgres inserts new keys without ON
  # CONFLICT: when two shards insert one posting at once, the later batch fails and is
  # rolled back, and state stays before it. Run the load once more: the row exists now.
  if ((status != 0)) && [[ -n "${USAJOBS_STATE_ID_SUFFIX:-}" ]] &&
    grep -q "UniqueViolation" "$work/last-step.log"; then
    log WARNING "another shard inserted the same posting at the same moment; loading again"
    meltano_step "$@"
  fi
}
transform() {
  ((status == 0)) || return 0
  run "$@" || status=$?
}
# The run's exit code: a step's failure, else 75 or 76 when the tap's read was
# incomplete or refused, else 0.
finish_status() {
  if ((status == 0)) && [[ -n "$read_status" && -n "${EXIT_OF[$read_status]:-}" ]]; then
    status="${EXIT_OF[$read_status]}"
  fi
}

status=0
load=(tap-usajobs target-postgres)
if [[ "$mode" == dry-run ]]; then
  run "$python_bin" "$root/orchestrate/dry_run.py" --environment "$environment" || status=$?
elif [[ "$mode" == backfill ]]; then
  # Its own state ID and --full-refresh: the window is read whole every time, and the
  # regular runs' bookmark is never read or written.
  extract_load env TAP_USAJOBS_START_DATE="$backfill_start" TAP_USAJOBS_HISTORIC_END_DATE="$backfill_end" \
    TAP_USAJOBS__SELECT='["historic_jobs.*", "announcement_texts.*", "quarantine.*"]' \
    "${meltano[@]}" run "${force[@]}" --run-id "$run_id" --state-id-suffix backfill --full-refresh \
    "${load[@]}"
  transform "${meltano[@]}" run --run-id "$run_id" dbt-postgres:build-historic
elif [[ -n "${USAJOBS_STATE_ID_SUFFIX:-}" && "$*" == "usajobs-elt" ]]; then
  # One shard of a sharded execution: load this shard's queries under its own state ID,
  # then run dbt while holding a lock, so shards that finish together take turns and
  # the last one builds the models over everything loaded.
  lock=("$python_bin" "$root/orchestrate/pg_lock.py")
  extract_load "${lock[@]}" usajobs-first-load --until usajobs.jobs -- \
    "${meltano[@]}" run "${force[@]}" --run-id "$run_id" \
    --state-id-suffix "$USAJOBS_STATE_ID_SUFFIX" "${load[@]}"
  transform "${lock[@]}" usajobs-dbt -- \
    "${meltano[@]}" run --run-id "$run_id" dbt-postgres:run dbt-postgres:test
elif [[ -n "${USAJOBS_STATE_ID_SUFFIX:-}" ]]; then
  meltano_step "${meltano[@]}" run "${force[@]}" --run-id "$run_id" \
    --state-id-suffix "$USAJOBS_STATE_ID_SUFFIX" "$@"
elif [[ "$*" == "usajobs-elt" ]]; then
  # The job in orchestrate/jobs.meltano.yml, as its two steps: EL, then dbt.
  extract_load "${meltano[@]}" run "${force[@]}" --run-id "$run_id" "${load[@]}"
  transform "${meltano[@]}" run --run-id "$run_id" dbt-postgres:run dbt-postgres:test
else
  meltano_step "${meltano[@]}" run "${force[@]}" --run-id "$run_id" "$@"
fi
[[ "$mode" == dry-run ]] || finish_status

phase=recording
if [[ "$mode" != dry-run ]]; then
  # Record the outcome. A sharp drop in a query's result count fails a run that otherwise
  # succeeded with 65, so the scheduler's failure alert fires; any other trouble
  # recording the run is logged by runlog.py and leaves the run's own status alone.
  finish=0
  "${runlog[@]}" finish --run-id "$run_id" --exit-code "$status" --job "$job" --mode "$mode" \
    --summary "$TAP_USAJOBS_RUN_SUMMARY_PATH" || finish=$?
  if ((finish == EX_DATAERR && status == 0)); then
    status=$EX_DATAERR
  elif ((finish != 0 && finish != EX_DATAERR)); then
    log WARNING "could not record the outcome in usajobs_ops.pipeline_runs (runlog.py exited $finish)"
  fi
fi

if ((status == 0)); then
  log "run succeeded"
else
  log ERROR "run failed with exit code $status"
fi
exit "$status"
