"""The live check (scripts/live_check.py): the real API against the tap's schemas.

`make live-check` runs the `live` test against the real API when USAJOBS_API_KEY and
USAJOBS_USER_AGENT are set. The others prove, against the fake, that the check passes a
matching API and fails, naming the field, on a changed one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import devenv
import pytest
from conftest import ROOT, expected_ids
from live_check import EX_INCOMPLETE, report

CHECK = [sys.executable, str(ROOT / "scripts" / "live_check.py")]


def _check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        CHECK,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.live
def test_the_real_api_matches_the_tap_schemas() -> None:
    if not (os.environ.get("USAJOBS_API_KEY") and os.environ.get("USAJOBS_USER_AGENT")):
        pytest.skip("set USAJOBS_API_KEY and USAJOBS_USER_AGENT to check the real API")
    env = {key: value for key, value in os.environ.items() if key != "TAP_USAJOBS_BASE_URL"}

    result = _check(**env)

    sys.stdout.write(result.stdout)  # the report (make live-check runs with -s)
    assert result.returncode == 0, result.stderr[-4000:]


def test_without_a_key_the_check_says_what_to_set() -> None:
    result = _check(USAJOBS_API_KEY="", USAJOBS_USER_AGENT="")

    assert result.returncode == 64
    assert "set USAJOBS_API_KEY and USAJOBS_USER_AGENT" in result.stderr


def test_a_changed_field_fails_the_check_and_a_new_one_is_reported() -> None:
    with devenv.fake_api("--postings", "30") as api:
        env = {
            "USAJOBS_API_KEY": api.api_key,
            "USAJOBS_USER_AGENT": "live-check@example.com",
            "TAP_USAJOBS_BASE_URL": api.url,
        }
        matching = _check(**env)
        posting = sorted(expected_ids(api, Keyword="data engineering"))[0]
        edits = [
            {
                "path": "/MatchedObjectDescriptor/PositionRemuneration/0/MinimumRange",
                "value": "competitive",
            },
            {"path": "/MatchedObjectDescriptor/HiringIncentive", "value": "Relocation bonus"},
        ]
        api.control("postings", {"mutate": {posting: edits}})
        changed = _check(**env)

    assert matching.returncode == 0, matching.stderr[-4000:]
    assert "jobs: " in matching.stdout
    assert "the API matches the tap's schemas" in matching.stdout
    assert changed.returncode == 1, changed.stdout + changed.stderr[-4000:]
    assert "jobs /PositionRemuneration/*/MinimumRange: unreadable in 1 rows" in changed.stderr
    assert "new field /HiringIncentive in 1 rows" in changed.stdout


def test_a_read_cut_short_by_the_one_request_budget_passes_and_a_short_page_fails() -> None:
    # The real API has more than one page for most queries and months: the check reads
    # one, and the tap calls that incomplete (exit 75). Only that reason is forgiven.
    # A month of announcements (about 13 a day) in pages of one: this month's window has
    # more than one page on any day of the month.
    fake = ("--postings", "30", "--historic-days", "30", "--historic-page-size", "1")
    with devenv.fake_api(*fake) as api:
        env = {
            "USAJOBS_API_KEY": api.api_key,
            "USAJOBS_USER_AGENT": "live-check@example.com",
            "TAP_USAJOBS_BASE_URL": api.url,
        }
        paged = _check(**env, TAP_USAJOBS_RESULTS_PER_PAGE="10")
        api.control("faults", [{"kind": "short", "times": 100_000}])
        short = _check(**env)

    assert paged.returncode == 0, paged.stdout + paged.stderr[-4000:]
    cut_short = next(
        line for line in paged.stdout.splitlines() if line.startswith("stopped at the one")
    )
    assert "keyword='data engineering'" in cut_short  # a Search query
    assert "historic_jobs 20" in cut_short  # a month window
    assert "the API matches the tap's schemas" in paged.stdout
    assert short.returncode == 1, short.stdout + short.stderr[-4000:]
    assert "read incompletely" in short.stderr
    assert "the tap exited 75" in short.stderr


def test_only_what_the_budget_explains_is_forgiven(capsys: pytest.CaptureFixture[str]) -> None:
    # In-process, on the tap's summary: a month cut at one page says so and that it got
    # fewer rows than counted; anything else in the same month is still a change.
    month = "historic_jobs 2026-11-01..2026-11-30"
    cut = ["stopped after 1 pages (max_requests_per_query)"]
    summary: dict[str, Any] = {
        "records": {"historic_jobs": 500},
        "incomplete": {month: [*cut, "received 500 distinct rows, the API counted 31000"]},
    }
    assert report(summary, EX_INCOMPLETE) == 0

    for extra in (
        "the API gave no readable totalCount",
        "received 600 distinct rows, the API counted 500",  # more than counted
    ):
        summary["incomplete"] = {month: [*cut, extra]}
        assert report(summary, EX_INCOMPLETE) == 1, extra
        assert f"{month}: read incompletely: {extra}" in capsys.readouterr().err
    summary["incomplete"] = {month: ["received 500 distinct rows, the API counted 31000"]}
    assert report(summary, EX_INCOMPLETE) == 1  # fewer than counted, with no budget stop
    summary["incomplete"] = {}
    assert report(summary, EX_INCOMPLETE) == 1  # exit 75 that names no read
