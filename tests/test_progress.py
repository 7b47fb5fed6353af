"""scripts/progress.py: what `make demo` shows of a run, from lines a real run logged."""

from __future__ import annotations

import io
from datetime import datetime

from progress import Progress

# Abridged from a real run's log (the compose stack, tests/container/test_compose.py).
LOG = """\
2026-12-07T12:31:21Z entrypoint: starting: /m/meltano invoke tap-usajobs --test=schema
2026-12-07T12:31:24Z entrypoint: starting: /m/meltano run --run-id a tap-usajobs target-postgres
2026-12-07T12:31:28Z [info] tap-usajobs  METRIC  metric_name=http_request_duration metric_value=0.01
2026-12-07T12:31:28Z [info] tap-usajobs  METRIC  metric_name=http_request_duration metric_value=0.02
2026-12-07T12:31:29Z [info] tap-usajobs  Sync succeeded in 0.9 s: 812 records (jobs=400, \
jobs_keywords=400, jobs_scans=1), 2 requests, 1 retries.
2026-12-07T12:31:30Z entrypoint: starting: /m/meltano run --run-id a dbt-postgres:build-audit
2026-12-07T12:31:47Z [info] dbt-postgres 12:31:47  Done. PASS=163 WARN=1 ERROR=0 SKIP=0 TOTAL=164
2026-12-07T12:31:50Z [info] dbt-postgres 12:31:50  Done.
2026-12-07T12:31:50Z entrypoint: run succeeded
"""


def _shown(code: int, *, live: bool) -> str:
    """What Progress writes for LOG, its clock at each line's own time stamp."""
    out = io.StringIO()
    now = [0.0]
    progress = Progress(out=out, live=live, clock=lambda: now[0])
    for line in LOG.splitlines():
        now[0] = datetime.fromisoformat(line[:19]).timestamp()
        progress.feed(line)
    progress.finish(code)
    return out.getvalue()


def test_each_stage_is_one_line_with_its_counts() -> None:
    assert _shown(0, live=False).splitlines() == [
        "  ✓ settings checked (3.0 s)",  # 12:31:21 to 12:31:24
        "  ✓ extracted and loaded: 812 records, 2 requests, 1 retries (6.0 s)",
        "  ✓ transformed: 163 models and tests passed, 1 warnings, 0 errors (20.0 s)",
    ]


def test_a_failed_run_marks_its_last_stage() -> None:
    assert _shown(1, live=False).splitlines()[-1].startswith("  ✗ transformed")


def test_on_a_terminal_the_running_stage_is_redrawn_in_place() -> None:
    shown = _shown(0, live=True)
    assert "\r  … extracted and loaded: 2 requests" in shown
    finished = [part for part in shown.split("\r") if part.strip().startswith("✓")]
    assert [part.split(" (")[0].strip() for part in finished] == [
        "✓ settings checked",
        "✓ extracted and loaded: 812 records, 2 requests, 1 retries",
        "✓ transformed: 163 models and tests passed, 1 warnings, 0 errors",
    ]
