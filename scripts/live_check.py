"""``make live-check``: does the real USAJobs API still match the tap's schemas?

The first thing to run after obtaining a key, and the check that the fake we test against
still tells the truth. It runs the installed tap (``meltano invoke tap-usajobs``) with every
stream selected and one request per query (``max_requests_per_query=1``): a page of each
keyword's Search results, of this month's Historic JOA announcements and announcement
texts, and each code list. A query or month with more than one page therefore stops at
its budget, and the tap exits 75 (incomplete): expected here, and reported as such.
Records are discarded; nothing is loaded and no state is saved.
Then it reads the tap's run summary, which conformed every record to its schema, and
reports per stream:

- **shape changes** (exit 1): values the tap could not read into their type, single
  values where arrays belong, a stream that returned nothing, a read left incomplete for
  any reason but the one-request budget, or the tap failing;
- **new fields** (reported, exit 0): fields the schema lacks, kept in ``unreadable_values``
  by a real run (docs/runbook.md, "Schema change in the API", says how to adopt one).

Needs USAJOBS_API_KEY and USAJOBS_USER_AGENT (exit 64 without them). TAP_USAJOBS_BASE_URL
points it elsewhere (the tests point it at the fake).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MELTANO = str(Path(sys.executable).with_name("meltano"))
EX_CONFIG = 64
#: The tap's exit code for a read it could not complete (tap_usajobs/summary.py).
EX_INCOMPLETE = 75
#: How the tap names a stop at max_requests_per_query among an incomplete read's reasons.
BUDGET_STOP = "(max_requests_per_query)"
#: How the tap says a historic window got fewer rows than the API counted.
SHORT_OF_COUNT = re.compile(r"received (\d+) distinct rows, the API counted (\d+)")
#: Conformer findings (tap_usajobs/conform.py) that mean the API's shape changed.
SHAPE_CHANGES = ("unreadable", "wrapped_in_array")
NEW_FIELD = "unknown_field"


def main() -> int:
    """Run the tap once against the API; print the report; 0, 1 or 64."""
    missing = [
        name for name in ("USAJOBS_API_KEY", "USAJOBS_USER_AGENT") if not os.environ.get(name)
    ]
    if missing:
        print(
            f"live check skipped: set {' and '.join(missing)} (a key from "
            "https://developer.usajobs.gov/apirequest/ and the email it was issued to)",
            file=sys.stderr,
        )
        return EX_CONFIG
    with tempfile.TemporaryDirectory(prefix="usajobs-live-check.") as work:
        summary_path = Path(work) / "summary.json"
        env = {
            **os.environ,
            "TAP_USAJOBS_API_KEY": os.environ["USAJOBS_API_KEY"],
            "TAP_USAJOBS_USER_AGENT": os.environ["USAJOBS_USER_AGENT"],
            "TAP_USAJOBS__SELECT": '["*.*"]',
            "TAP_USAJOBS_MAX_REQUESTS_PER_QUERY": "1",
            "TAP_USAJOBS_HISTORIC_LOOKBACK_DAYS": "1",
            "TAP_USAJOBS_RUN_SUMMARY_PATH": str(summary_path),
            "MELTANO_DATABASE_URI": f"sqlite:///{Path(work) / 'meltano.db'}",
        }
        tap = subprocess.run(  # noqa: S603
            [MELTANO, "invoke", "tap-usajobs"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    if summary is None:
        print(tap.stderr[-4000:], file=sys.stderr)
        print(
            f"live check failed: the tap exited {tap.returncode} with no summary", file=sys.stderr
        )
        return 1
    return report(summary, tap.returncode)


def _budget(reason: str) -> bool:
    """The tap stopped a read at max_requests_per_query."""
    return BUDGET_STOP in reason


def _fewer(reason: str) -> bool:
    """A read that got fewer rows than the API counted (tap_usajobs/historic.py's words)."""
    found = SHORT_OF_COUNT.fullmatch(reason)
    return found is not None and int(found.group(1)) < int(found.group(2))


def report(summary: dict[str, Any], exit_code: int) -> int:
    """Print what each stream returned and what did not match; 1 on a shape change."""
    content: dict[str, dict[str, dict[str, int]]] = summary.get("content") or {}
    records: dict[str, int] = summary.get("records") or {}
    problems = []
    incomplete: dict[str, list[str]] = summary.get("incomplete") or {}
    # One request a query is the check's own limit: a read it cut short is expected, and
    # so is its consequence, fewer rows than the API counted. Any other reason, in the
    # same read or another (a lying count, a short page, no count at all), is a change.
    cut_short = sorted(label for label, why in incomplete.items() if any(map(_budget, why)))
    unexplained = {
        label: [r for r in why if not _budget(r) and not (label in cut_short and _fewer(r))]
        for label, why in incomplete.items()
    }
    problems += [
        f"{label}: read incompletely: {'; '.join(why)}"
        for label, why in sorted(unexplained.items())
        if why
    ]
    only_cut_short = bool(cut_short) and not any(unexplained.values())
    if exit_code and not (exit_code == EX_INCOMPLETE and only_cut_short):
        problems.append(f"the tap exited {exit_code} (its log above says why)")
    if cut_short:
        print(f"stopped at the one request a read this check allows: {', '.join(cut_short)}")
    streams = set(summary.get("requests") or {}) | set(records) | set(content)
    for stream in sorted(streams):
        fields = content.get(stream, {})
        print(f"{stream}: {records.get(stream, 0)} records")
        for path, kinds in sorted(fields.items()):
            for kind, rows in sorted(kinds.items()):
                if kind in SHAPE_CHANGES:
                    problems.append(f"{stream} {path}: {kind.replace('_', ' ')} in {rows} rows")
                elif kind == NEW_FIELD:
                    print(f"  new field {path} in {rows} rows (not in the schema)")
                else:
                    print(f"  {path}: {kind.replace('_', ' ')} in {rows} rows")
    problems += [f"{stream}: no records" for stream in sorted(streams) if not records.get(stream)]
    quarantined = summary.get("quarantined") or {}
    problems += [
        f"{stream}: {rows} rows could not be loaded" for stream, rows in quarantined.items()
    ]
    if problems:
        print("the API's shape changed:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("the API matches the tap's schemas")
    return 0


if __name__ == "__main__":
    sys.exit(main())
