#!/usr/bin/env bash
# Container HEALTHCHECK for one pipeline run. A run is a batch job, so "the process is
# up" says nothing: a run hung on a dead connection is up too.
#
# Healthy while the run makes progress: one of its log files was written within
# HEALTHCHECK_STALL_SECONDS (default 600). Meltano writes every tap and target line to
# $XDG_STATE_HOME/meltano/log/elt/<state_id>/<run_id>/elt.log (meltano 4 keeps logs in
# the platform's user state dir, ~/.local/state by default), dbt to transform/logs.
# The default is well above the longest quiet spell of a healthy run: one request
# timeout plus one backoff wait, 60 s + 120 s with the tap's defaults.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stall="${HEALTHCHECK_STALL_SECONDS:-600}"
since="@$(($(date +%s) - stall))"
logs=("${XDG_STATE_HOME:-$HOME/.local/state}/meltano/log" transform/logs)
if [[ -n "$(find "${logs[@]}" -type f -newermt "$since" -print -quit 2>/dev/null)" ]]; then
  exit 0
fi
echo "unhealthy: no log line from meltano or dbt in the last ${stall}s" >&2
exit 1
