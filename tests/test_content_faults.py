"""Hostile content, end to end: what a lying or malformed API does to a real run.

The fake rewrites its Search answers the way a broken API or a proxy between us and it
could: counts that lie, pages short, empty or repeated, fields of another shape, text
with NULs and broken characters, a redirect to another host. Every run goes through
orchestrate/run.py into a real PostgreSQL through target-postgres, then dbt, as
the scheduled job does. Whatever the fake does, a run either loads correct data or says
why not (exit 75: not proven whole; 76: a field changed format), closes nothing it did
not prove closed, and never loses a value it could not read.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import devenv
import pytest
from conftest import (
    KEYWORD,
    MELTANO,
    ROOT,
    RUN,
    RUN_TIMEOUT,
    Pipeline,
    expected_ids,
    search_requests,
)

if TYPE_CHECKING:
    from pathlib import Path

EX_CONFIG = 64
EX_UNAVAILABLE = 69
EX_INCOMPLETE = 75
EX_REFUSED = 76
FULL_SCAN = {"TAP_USAJOBS_FULL_SCAN_EVERY_HOURS": "0"}
DESCRIPTOR = "/MatchedObjectDescriptor"


def open_ids(pipeline: Pipeline) -> set[str]:
    """Control numbers job_listings holds as open."""
    rows = pipeline.query("select control_number::text from job_listings where is_open")
    return {row[0] for row in rows}


def loaded_ids(pipeline: Pipeline) -> set[str]:
    """Control numbers in the raw jobs table."""
    return {row[0] for row in pipeline.query('select "MatchedObjectId" from usajobs.jobs')}


def mutate(pipeline: Pipeline, edits: dict[str, list[dict[str, Any]]]) -> None:
    """Edit what the fake serves for some postings (raw JSON Pointer edits)."""
    assert sorted(pipeline.api.control("postings", {"mutate": edits})["mutated"]) == sorted(edits)


def rewrite(pipeline: Pipeline, **rule: Any) -> None:
    """Make the fake rewrite every Search page from now on."""
    pipeline.api.control("faults", [{"kind": "rewrite", "times": 100_000, **rule}])


# --- lying counts and short reads ------------------------------------------------------------


def test_an_under_reported_count_closes_no_live_posting(pipeline: Pipeline) -> None:
    # A full scan loads every posting first (EL only: the marts are built by the next run).
    pipeline.run_ok("tap-usajobs", "target-postgres", **FULL_SCAN)
    live = set(expected_ids(pipeline.api, Keyword=KEYWORD))
    assert loaded_ids(pipeline) == live
    rewrite(pipeline, count=len(live) * 2 // 3)  # "30 of 45"

    lied_to = pipeline.entrypoint(**FULL_SCAN)

    assert lied_to.returncode == EX_INCOMPLETE, lied_to.stderr[-4000:]
    assert f"the API reported {len(live) * 2 // 3} postings but {len(live)} were read" in (
        lied_to.stderr
    )
    assert open_ids(pipeline) == live, "a scan not proven whole closed live postings"
    assert pipeline.runs()[-1]["status"] == "incomplete"


@pytest.mark.parametrize(
    "rule",
    [
        # The tap's suite covers each kind of short read; end to end, the fast loop has
        # the under-reported count above, and the full loop each of these.
        pytest.param({"rows": 35}, id="fewer-rows-per-page-than-asked", marks=pytest.mark.full),
        pytest.param({"items": "empty", "page": 2}, id="empty-page-2", marks=pytest.mark.full),
        pytest.param(
            {"items": "page1", "page": 2}, id="page-1-again-as-page-2", marks=pytest.mark.full
        ),
    ],
)
def test_a_short_read_is_never_success_and_the_next_run_recovers(
    pipeline: Pipeline, rule: dict[str, Any]
) -> None:
    live = set(expected_ids(pipeline.api, Keyword=KEYWORD))
    rewrite(pipeline, **rule)

    short = pipeline.entrypoint()

    assert short.returncode == EX_INCOMPLETE, short.stderr[-4000:]
    assert loaded_ids(pipeline) < live
    run = pipeline.runs()[-1]
    assert (run["status"], run["exit_code"]) == ("incomplete", EX_INCOMPLETE)
    assert "last_full_scan_started_at" not in pipeline.state(), "the marker moved"
    # The marts were still built from what was loaded.
    assert {row[0] for row in pipeline.query("select control_number::text from job_listings")} == (
        loaded_ids(pipeline)
    )

    pipeline.api.control("faults", method="DELETE")
    pipeline.api.control("reset-stats", {})
    recovered = pipeline.entrypoint()  # within full_scan_every_hours, yet a full scan again

    assert recovered.returncode == 0, recovered.stderr[-4000:]
    assert all("DatePosted" not in r["params"] for r in search_requests(pipeline.api))
    assert loaded_ids(pipeline) == live
    assert pipeline.runs()[-1]["status"] == "succeeded"


def test_a_dry_run_does_not_call_a_short_read_clean(pipeline: Pipeline) -> None:
    rewrite(pipeline, rows=35)

    result = pipeline.entrypoint("--dry-run")

    assert result.returncode == EX_INCOMPLETE, result.stderr[-4000:]
    assert "was not read whole" in result.stderr


def test_splitting_stops_when_the_api_ignores_the_filter(
    pg_server: devenv.Postgres, database: str, tmp_path: Path
) -> None:
    with devenv.fake_api("--postings", "900", "--seed", "11", "--row-cap", "100") as api:
        pipeline = Pipeline(server=pg_server, database=database, api=api, state_dir=tmp_path)
        rewrite(pipeline, ignore_filters=True)

        result = pipeline.entrypoint(
            "tap-usajobs",
            "target-postgres",
            TAP_USAJOBS_KEYWORDS="[]",
            TAP_USAJOBS_SEARCH_ROW_CAP="100",
            **FULL_SCAN,
        )

        assert result.returncode == EX_INCOMPLETE, result.stderr[-4000:]
        assert "did not narrow it" in result.stderr
        # Page 1, two probes of the halves, the capped pages and nothing more.
        assert len(search_requests(api)) <= 1 + 2 + 100 // 50 + 1


# --- one bad posting ---------------------------------------------------------------------------


def test_bad_postings_are_repaired_or_kept_and_every_posting_loads(pipeline: Pipeline) -> None:
    ids = sorted(expected_ids(pipeline.api, Keyword=KEYWORD))
    nul_title, nul_nested, surrogate, object_text, text_number, no_date, uri_text = ids[:7]
    mutate(
        pipeline,
        {
            nul_title: [{"path": f"{DESCRIPTOR}/PositionTitle", "value": "Data\u0000 Engineer"}],
            nul_nested: [
                {"path": f"{DESCRIPTOR}/UserArea/Details/JobSummary", "value": "a\u0000b"}
            ],
            surrogate: [{"path": f"{DESCRIPTOR}/PositionTitle", "value": "Nurse \ud83d"}],
            object_text: [{"path": f"{DESCRIPTOR}/OrganizationName", "value": {"x": 1}}],
            text_number: [
                {"path": f"{DESCRIPTOR}/PositionRemuneration/0/MinimumRange", "value": "N/A"}
            ],
            no_date: [{"path": f"{DESCRIPTOR}/PublicationStartDate", "remove": True}],
            uri_text: [{"path": f"{DESCRIPTOR}/ApplyURI", "value": "https://example.gov/a"}],
        },
    )

    result = pipeline.entrypoint()

    assert result.returncode == 0, result.stderr[-4000:]
    listings = {
        row[0]: row[1:]
        for row in pipeline.query(
            "select control_number::text, position_title, apply_uri, organization_name,"
            " salary_min, published_at from job_listings"
        )
    }
    assert set(listings) == set(ids)
    assert listings[nul_title][0] == "Data Engineer"
    assert listings[surrogate][0] == "Nurse \ufffd"
    assert listings[uri_text][1] == "https://example.gov/a", "a string split into characters"
    assert listings[object_text][2] is None
    assert listings[no_date][4] is None
    kept = dict(pipeline.query('select "MatchedObjectId", unreadable_values from usajobs.jobs'))
    assert kept[object_text] == {"/OrganizationName": {"x": 1}}
    assert kept[text_number] == {"/PositionRemuneration/0/MinimumRange": "N/A"}
    summary = pipeline.runs()[-1]["tap_summary"]
    assert summary["content"]["jobs"]["/PositionTitle"] == {
        "nul_removed": 1,
        "surrogate_replaced": 1,
    }
    assert summary["content"]["jobs"]["/ApplyURI"] == {"wrapped_in_array": 1}
    assert f"jobs MatchedObjectId={nul_title}: /PositionTitle had NUL characters" in result.stderr


#: One posting per edit: a nested field sent in a shape the schema does not declare.
ODD_SHAPES: dict[str, dict[str, Any]] = {
    "pay": {"path": "PositionRemuneration", "value": {"MinimumRange": "1"}},
    "pay-text": {"path": "PositionRemuneration", "value": "N/A"},
    "location": {"path": "PositionLocation", "value": "Denver, Colorado"},
    "paths": {"path": "UserArea/Details/HiringPath", "value": "public"},
}


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_a_nested_field_of_another_shape_never_freezes_the_marts(pipeline: Pipeline) -> None:
    ids = sorted(expected_ids(pipeline.api, Keyword=KEYWORD))
    odd = dict(zip(ODD_SHAPES, ids, strict=False))
    mutate(
        pipeline,
        {
            odd[name]: [{**edit, "path": f"{DESCRIPTOR}/{edit['path']}"}]
            for name, edit in ODD_SHAPES.items()
        },
    )

    for attempt in ("first", "second"):
        result = pipeline.entrypoint()
        assert result.returncode == 0, f"{attempt} run: {result.stderr[-4000:]}"
    listed = {
        row[0]
        for row in pipeline.query(
            "select control_number::text from job_listings where control_number::text = any(%s)",
            list(odd.values()),
        )
    }
    assert {name: posting in listed for name, posting in odd.items()} == dict.fromkeys(
        ODD_SHAPES, True
    )


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_a_non_numeric_control_number_is_read_from_the_uri(pipeline: Pipeline) -> None:
    (odd, *_) = sorted(expected_ids(pipeline.api, Keyword=KEYWORD))
    mutate(pipeline, {odd: [{"path": "/MatchedObjectId", "value": "ABC-123"}]})

    result = pipeline.entrypoint(**FULL_SCAN)

    assert result.returncode == 0, result.stderr[-4000:]
    assert odd in open_ids(pipeline)


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_a_posting_without_a_usable_key_is_quarantined_and_the_rest_load(
    pipeline: Pipeline,
) -> None:
    ids = sorted(expected_ids(pipeline.api, Keyword=KEYWORD))
    assert pipeline.entrypoint(**FULL_SCAN).returncode == 0
    keyless = ids[0]
    mutate(
        pipeline,
        {
            keyless: [
                {"path": "/MatchedObjectId", "value": "n/a"},
                {"path": f"{DESCRIPTOR}/PositionURI", "value": "about:blank"},
            ]
        },
    )

    result = pipeline.entrypoint(**FULL_SCAN)

    assert result.returncode == EX_INCOMPLETE, result.stderr[-4000:]
    assert "quarantined a row (MatchedObjectId='n/a')" in result.stderr
    assert open_ids(pipeline) == set(ids), "it may be live: nothing is closed on its account"
    (row,) = pipeline.query("select stream, record_key, reason, raw_json from usajobs.quarantine")
    assert row[:2] == ("jobs", "n/a")
    assert json.loads(row[3])["MatchedObjectDescriptor"]["PositionURI"] == "about:blank"
    assert pipeline.runs()[-1]["tap_summary"]["quarantined"] == {"jobs": 1}


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_a_format_change_on_every_posting_stops_before_it_nulls_good_dates(
    pipeline: Pipeline,
) -> None:
    assert pipeline.entrypoint().returncode == 0
    before = pipeline.query("select control_number, published_at from job_listings order by 1")
    state = pipeline.state()
    pipeline.api.control(
        "postings",
        {"mutate_all": [{"path": f"{DESCRIPTOR}/PublicationStartDate", "strftime": "%m/%d/%Y"}]},
    )

    result = pipeline.entrypoint(**FULL_SCAN)

    assert result.returncode == EX_REFUSED, result.stderr[-4000:]
    assert "/PublicationStartDate could not be read on" in result.stderr
    assert pipeline.query("select control_number, published_at from job_listings order by 1") == (
        before
    )
    bookmarks = json.loads(pipeline.state())["singer_state"]["bookmarks"]
    assert bookmarks["jobs"] == json.loads(state)["singer_state"]["bookmarks"]["jobs"]
    assert pipeline.runs()[-1]["status"] == "refused"


# --- runs side by side -------------------------------------------------------------------------


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_a_backfill_beside_the_daily_run_both_succeed(pipeline: Pipeline) -> None:
    # Both rebuild models in one database from one project folder. dbt replaces a view by
    # dropping the old one with CASCADE (taking the views built on it) and publishing
    # moves whole tables, so interleaved they would break each other: they take turns.
    assert pipeline.entrypoint().returncode == 0
    today = datetime.now(timezone.utc).date()
    window = [(today - timedelta(days=days)).isoformat() for days in (200, 120)]
    logs = [pipeline.state_dir / f"run-{index}.log" for index in range(2)]
    runs = []
    for log, args in zip(logs, [[], ["--backfill", *window]], strict=True):
        with log.open("w") as stderr:
            runs.append(
                subprocess.Popen(  # noqa: S603
                    [*RUN, *args],
                    cwd=ROOT,
                    env=pipeline.env(MELTANO_BIN=MELTANO),
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            )

    codes = [run.wait(timeout=RUN_TIMEOUT) for run in runs]

    assert codes == [0, 0], [log.read_text()[-3000:] for log in logs]
    assert {run["mode"]: run["status"] for run in pipeline.runs()[1:]} == {
        "run": "succeeded",
        "backfill": "succeeded",
    }
    assert pipeline.query("select count(*) > 0 from historic_job_listings") == [(True,)]


# --- secrets ---------------------------------------------------------------------------------


def test_the_key_never_follows_a_redirect_to_another_host(pipeline: Pipeline) -> None:
    with devenv.fake_api("--postings", "10") as elsewhere:
        pipeline.api.control(
            "faults", [{"kind": "redirect", "location": f"{elsewhere.url}/api/Search"}]
        )

        result = pipeline.meltano("run", "tap-usajobs", "target-postgres")

        assert result.returncode != 0
        assert "redirected /api/Search to another host" in result.stderr
        (followed,) = search_requests(elsewhere)
        assert followed["key_sent"] is False


def test_a_key_with_a_line_break_is_refused_and_never_shown(pipeline: Pipeline) -> None:
    result = pipeline.entrypoint(TAP_USAJOBS_API_KEY=f"{pipeline.api.api_key}\nsecret-tail-8d2e")

    assert result.returncode == EX_CONFIG, result.stderr[-4000:]
    assert "TAP_USAJOBS_API_KEY" in result.stderr
    assert "secret-tail-8d2e" not in result.stderr + result.stdout
    assert search_requests(pipeline.api) == []


def test_a_malformed_system_database_uri_is_never_echoed(pipeline: Pipeline) -> None:
    uri = "postgresql+psycopg://meltano:pw-5c1b7e@127.0.0.1:notaport/meltano"

    result = pipeline.entrypoint(MELTANO_DATABASE_URI=uri)

    assert result.returncode == EX_UNAVAILABLE, result.stderr[-4000:]
    assert "MELTANO_DATABASE_URI" in result.stderr
    assert "pw-5c1b7e" not in result.stderr + result.stdout


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_fields_the_schema_lacks_are_counted_in_the_run_record_and_named_in_the_log(
    pipeline: Pipeline,
) -> None:
    first, second = sorted(expected_ids(pipeline.api, Keyword=KEYWORD))[:2]
    mutate(
        pipeline,
        {
            first: [{"path": f"{DESCRIPTOR}/HiringIncentive", "value": "Recruitment bonus"}],
            second: [
                {"path": f"{DESCRIPTOR}/HiringIncentive", "value": "Student loan repayment"},
                {"path": f"{DESCRIPTOR}/UserArea/Details/PayTransparency", "value": "Y"},
            ],
        },
    )

    result = pipeline.entrypoint()

    assert result.returncode == 0, result.stderr[-4000:]
    ((drift,),) = pipeline.query(
        "select schema_drift from usajobs_ops.pipeline_runs order by started_at desc limit 1"
    )
    assert drift == {"jobs": {"/HiringIncentive": 2, "/UserArea/Details/PayTransparency": 1}}
    warning = next(line for line in result.stderr.splitlines() if "schema does not have" in line)
    assert "jobs /HiringIncentive (2 rows)" in warning
    # Nothing was dropped: the values are in the loaded rows.
    kept = pipeline.query(
        """select unreadable_values -> '/HiringIncentive',
                  "UserArea" -> 'Details' ->> 'PayTransparency'
           from usajobs.jobs where "MatchedObjectId" = %s""",
        second,
    )
    assert kept == [("Student loan repayment", "Y")]
