"""End to end: tap-usajobs over HTTP -> target-postgres -> dbt, on a real PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from conftest import KEYWORD, expected_ids, search_requests

if TYPE_CHECKING:
    from conftest import Pipeline

# The rule documented in transform/macros/salary.sql, restated here independently.
LEGACY_INTERVALS = {"per year": "PA", "per hour": "PH", "per day": "PD", "per month": "PM"}


def _served_postings(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    items = pipeline.api.control("postings")["items"]
    return {item["MatchedObjectId"]: item["MatchedObjectDescriptor"] for item in items}


def _api_datetime(text: str) -> datetime:
    """The API's wall-clock time, read without the tap's code: first 19 characters."""
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")  # noqa: DTZ007


def _interval_code(raw: str) -> str:
    return LEGACY_INTERVALS.get(raw.lower(), raw)


def test_first_run_loads_every_matching_posting_exactly_once(pipeline: Pipeline) -> None:
    expected = expected_ids(pipeline.api, Keyword=KEYWORD)
    assert len(expected) > 100, "the fake should serve several pages for the default keyword"

    pipeline.run_ok("usajobs-elt")  # EL, then dbt build

    rows = pipeline.query("select control_number::text from job_listings")
    loaded = [row[0] for row in rows]
    assert len(loaded) == len(set(loaded)), "a posting appears twice"
    assert set(loaded) == expected
    pages = [request for request in search_requests(pipeline.api) if request["status"] == 200]
    assert len(pages) >= len(expected) // 50, "every page must be fetched, not just the first"


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_job_listings_name_every_keyword_that_matched_a_posting(pipeline: Pipeline) -> None:
    keywords = ["data", KEYWORD]
    matched = {k: expected_ids(pipeline.api, Keyword=k) for k in keywords}
    pipeline.run_ok(
        "tap-usajobs",
        "target-postgres",
        "dbt-postgres:run",
        TAP_USAJOBS_KEYWORDS=json.dumps(keywords),
    )

    rows = pipeline.query("select control_number::text, matched_keywords from job_listings")
    assert {control for control, _ in rows} == matched["data"]
    for control, found_by in rows:
        assert found_by == sorted(k for k in keywords if control in matched[k])


def test_salaries_dates_and_analyst_fields_match_what_the_fake_served(pipeline: Pipeline) -> None:
    pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:run")
    served = _served_postings(pipeline)
    rows = pipeline.query(
        """
        select control_number::text, salary_min, salary_max, rate_interval_code,
               annual_salary_min, annual_salary_max, published_at, closes_at, locations,
               location_display, sub_agency_name, grade_display, high_grade_number,
               total_openings_count, closing_type_option, states, is_remote
        from job_listings
        """
    )
    assert rows
    missing_optional = 0
    for row in rows:
        control, low, high, code, annual_low, annual_high, published, closes, locations = row[:9]
        (
            location_display,
            sub_agency,
            grade,
            high_grade_number,
            openings,
            closing,
            states,
            remote,
        ) = row[9:]
        posting = served[control]
        details = posting["UserArea"]["Details"]
        if "PositionLocationDisplay" not in posting:
            missing_optional += 1
            assert location_display is None
        if "SubAgency" not in posting and not details.get("SubAgencyName"):
            assert sub_agency is None
        pay = posting["PositionRemuneration"]
        assert low == min(Decimal(entry["MinimumRange"]) for entry in pay)
        assert high == max(Decimal(entry["MaximumRange"]) for entry in pay)
        assert code == _interval_code(pay[0]["RateIntervalCode"])
        # The factors of the other intervals are dbt unit tests (int_salaries).
        if code == "PA":
            assert (annual_low, annual_high) == (low, high)
        assert published == _api_datetime(posting["PublicationStartDate"])
        assert closes.replace(microsecond=0) == _api_datetime(posting["ApplicationCloseDate"])
        assert locations == [place["LocationName"] for place in posting["PositionLocation"]]
        places = {p["CountrySubDivisionCode"] for p in posting["PositionLocation"]} - {"N/A"}
        assert states == sorted(places)
        plan, low_grade, high_grade = (
            posting["JobGrade"][0]["Code"],
            details["LowGrade"],
            details["HighGrade"],
        )
        span = low_grade if low_grade == high_grade else f"{low_grade}/{high_grade}"
        assert grade == (plan if low_grade == "00" else f"{plan}-{span}")
        assert high_grade_number == int(high_grade)
        assert openings == (
            int(details["TotalOpenings"]) if details["TotalOpenings"].isdigit() else None
        )
        assert closing == details["AnnouncementClosingTypeOption"]
        assert remote == details["RemoteIndicator"]
    assert missing_optional, "the fake should serve postings without optional keys"


def test_second_run_is_incremental_and_adds_no_duplicates(pipeline: Pipeline) -> None:
    pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:run")
    first_requests = search_requests(pipeline.api)
    first_count = pipeline.query("select count(*) from job_listings")[0][0]
    assert KEYWORD in pipeline.state()

    pipeline.api.control("reset-stats", {})
    added = pipeline.api.control("postings", {"add": 6})
    pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:run")

    second_requests = search_requests(pipeline.api)
    assert all("DatePosted" in request["params"] for request in second_requests)
    assert len(second_requests) < len(first_requests)
    rows = pipeline.query("select control_number::text from job_listings")
    loaded = [row[0] for row in rows]
    assert len(loaded) == len(set(loaded))
    new_matching = expected_ids(pipeline.api, Keyword=KEYWORD) & set(added["added"])
    assert new_matching, "the fake should add postings matching the default keyword"
    assert new_matching <= set(loaded)
    assert len(loaded) == first_count + len(new_matching)


def _jsonl(folder: Any, stream: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / f"{stream}.jsonl").read_text().splitlines()]


def test_an_append_only_target_gets_each_posting_once_and_can_tell_what_closed(
    pipeline: Pipeline, tmp_path: Any
) -> None:
    # target-jsonl (singer-python, outside the MeltanoLabs family) appends every record and
    # ignores ACTIVATE_VERSION: what it holds must still answer both questions.
    broad = "data"  # every posting KEYWORD matches, and more
    out = tmp_path / "jsonl"
    out.mkdir()
    settings = {
        "TAP_USAJOBS_KEYWORDS": json.dumps([broad, KEYWORD]),
        "TAP_USAJOBS_FULL_SCAN_EVERY_HOURS": "0",
        "TARGET_JSONL_DESTINATION_PATH": str(out),
        "TARGET_JSONL_DO_TIMESTAMP_FILE": "false",
    }
    matched = {k: expected_ids(pipeline.api, Keyword=k) for k in (broad, KEYWORD)}
    assert matched[KEYWORD] < matched[broad]
    pipeline.run_ok("tap-usajobs", "target-jsonl", **settings)

    records = _jsonl(out, "jobs")
    assert sorted(r["MatchedObjectId"] for r in records) == sorted(matched[broad])
    pairs = [(m["MatchedObjectId"], m["keyword"]) for m in _jsonl(out, "jobs_keywords")]
    assert sorted(pairs) == sorted((i, k) for k, ids in matched.items() for i in ids)
    sample = records[0]
    assert isinstance(sample["PositionRemuneration"][0]["MinimumRange"], (int, float))
    assert sample["PublicationStartDate"].endswith("+00:00")

    gone = sorted(matched[KEYWORD])[:3]
    pipeline.api.control("postings", {"remove": gone})
    pipeline.run_ok("tap-usajobs", "target-jsonl", **settings)

    records = _jsonl(out, "jobs")  # both runs, appended
    scans = _jsonl(out, "jobs_scans")
    assert len(scans) == 2
    assert all(scan["closes_unseen"] for scan in scans)
    latest = max(scan["scan_version"] for scan in scans if scan["closes_unseen"])
    open_now = {r["MatchedObjectId"] for r in records if r["scan_version"] >= latest}
    assert open_now == expected_ids(pipeline.api, Keyword=broad)
    assert set(gone) <= {r["MatchedObjectId"] for r in records} - open_now


def test_discover_and_about_work_through_meltano(pipeline: Pipeline) -> None:
    discover = pipeline.meltano("invoke", "tap-usajobs", "--discover")
    assert discover.returncode == 0, discover.stderr[-3000:]
    catalog = json.loads(discover.stdout)
    streams = {stream["tap_stream_id"]: stream for stream in catalog["streams"]}
    assert streams["jobs"]["key_properties"] == ["MatchedObjectId"]
    assert streams["historic_jobs"]["key_properties"] == ["usajobsControlNumber"]
    assert streams["pay_plans"]["key_properties"] == ["Code"]

    about = pipeline.meltano("invoke", "tap-usajobs", "--about", "--format=json")
    assert about.returncode == 0, about.stderr[-3000:]
    capabilities = set(json.loads(about.stdout)["capabilities"])
    assert {"catalog", "discover", "state", "about", "stream-maps", "batch"} <= capabilities


def test_a_second_full_scan_closes_what_left_and_records_what_changed(pipeline: Pipeline) -> None:
    full_scans = {"TAP_USAJOBS_FULL_SCAN_EVERY_HOURS": "0"}
    pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:run", **full_scans)
    *gone, extended = sorted(expected_ids(pipeline.api, Keyword=KEYWORD))[:4]
    pipeline.api.control("postings", {"remove": gone})
    new_close = "2031-01-15T23:59:59.9970"
    answer = pipeline.api.control(
        "postings", {"update": {extended: {"ApplicationCloseDate": new_close}}}
    )
    assert answer["updated"] == [extended]

    pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:run", **full_scans)

    # A posting that left the results is marked closed, not lost.
    rows = pipeline.query(
        "select control_number::text, is_open, closed_detected_at, last_seen_at from job_listings"
    )
    by_id = {row[0]: row[1:] for row in rows}
    assert set(gone) <= set(by_id), "closed postings must stay in job_listings"
    for control in gone:
        is_open, closed_at, _ = by_id[control]
        assert is_open is False
        assert closed_at is not None
    still_open = [row for control, row in by_id.items() if control not in gone]
    assert still_open
    assert all(is_open for is_open, _, _ in still_open)
    # A changed close date shows in the history.
    changes = pipeline.query(
        "select field, new_value from job_listing_changes where control_number::text = %s",
        extended,
    )
    assert changes == [("closes_at", "2031-01-15 23:59:59.997")]
    versions = pipeline.query(
        "select count(*) from job_listing_versions where control_number::text = %s", extended
    )
    assert versions == [(2,)]


def _column_types(pipeline: Pipeline, table: str, *columns: str) -> dict[str, str]:
    rows = pipeline.query(
        "select column_name, udt_name from information_schema.columns "
        "where table_schema = 'usajobs' and table_name = %s and column_name = any(%s)",
        table,
        list(columns),
    )
    return dict(rows)


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_a_database_loaded_with_jsonb_arrays_is_migrated_by_the_next_run(
    pipeline: Pipeline,
) -> None:
    arrays = ("PositionLocation", "JobCategory", "PositionRemuneration")
    # As the project loaded before meltano.yml's `schema` override: an empty override
    # lets target-postgres map arrays of objects to jsonb[].
    pipeline.run_ok("tap-usajobs", "target-postgres", TAP_USAJOBS__SCHEMA="{}")
    assert _column_types(pipeline, "jobs", *arrays) == dict.fromkeys(arrays, "_jsonb")
    before = pipeline.query('select "MatchedObjectId", "JobCategory"::text from usajobs.jobs')
    state_before = pipeline.state()

    # Unmigrated, the next load stops loudly and commits nothing.
    pipeline.api.control("postings", {"add": 3})
    failed = pipeline.meltano("run", "tap-usajobs", "target-postgres")
    assert failed.returncode != 0
    assert "malformed array literal" in failed.stderr
    assert pipeline.query("select count(*) from usajobs.jobs")[0][0] == len(before)
    assert pipeline.state() == state_before

    # The runtime applies the migrations before its load, then loads as usual; the next
    # run applies them again, and they change nothing.
    upgraded = pipeline.entrypoint()
    assert upgraded.returncode == 0, upgraded.stderr[-4000:]
    assert "converted usajobs.jobs.JobCategory from jsonb[] to jsonb" in upgraded.stderr
    assert _column_types(pipeline, "jobs", *arrays) == dict.fromkeys(arrays, "jsonb")
    migrated = dict(
        pipeline.query(
            'select "MatchedObjectId", array(select x::text from '
            'jsonb_array_elements("JobCategory") as x)::text from usajobs.jobs'
        )
    )
    # Same elements in the same order: jsonb[] '{"{...}","{...}"}' reads back the same.
    for control_number, categories in before:
        assert migrated[control_number] == categories

    again = pipeline.entrypoint()
    assert again.returncode == 0, again.stderr[-4000:]
    assert "converted" not in again.stderr
    rows = pipeline.query("select control_number::text from job_listings")
    assert sorted(row[0] for row in rows) == sorted(expected_ids(pipeline.api, Keyword=KEYWORD))
    series = pipeline.query(
        "select count(*) from job_listings where cardinality(occupational_series_codes) > 0"
    )[0][0]
    assert series == len(rows)

    # Rolled back across the migration, an older image (its catalog had no override) sends
    # arrays the migrated columns refuse: it fails loudly and commits nothing, and rolling
    # forward again loads what it missed (docs/deploy-gcp.md, "Roll back").
    pipeline.api.control("postings", {"add": 2})
    loaded, state = pipeline.query("select count(*) from usajobs.jobs"), pipeline.state()
    older = pipeline.meltano("run", "tap-usajobs", "target-postgres", TAP_USAJOBS__SCHEMA="{}")
    assert older.returncode != 0
    assert "invalid input syntax for type json" in older.stderr
    assert (pipeline.query("select count(*) from usajobs.jobs"), pipeline.state()) == (
        loaded,
        state,
    )
    assert pipeline.entrypoint().returncode == 0
    rows = pipeline.query("select control_number::text from job_listings")
    assert sorted(row[0] for row in rows) == sorted(expected_ids(pipeline.api, Keyword=KEYWORD))


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_code_list_names_follow_the_codes_in_order(pipeline: Pipeline) -> None:
    pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:run")

    def names(table: str) -> dict[str, str]:
        rows = pipeline.query(f'select "Code", "Value" from usajobs.{table}')  # noqa: S608
        return {code.upper(): name for code, name in rows}

    lists = {
        table: names(table)
        for table in ("occupational_series", "pay_plans", "position_schedule_types",
                      "hiring_paths", "agency_subelements")
    }  # fmt: skip
    rows = pipeline.query(
        "select occupational_series_codes, occupational_series_names, pay_plan_codes, "
        "pay_plan_names, position_schedule_codes, position_schedule_names, hiring_paths, "
        "hiring_path_names, agency_subelement_code, agency_subelement_name from job_listings"
    )
    assert rows
    found = 0
    for row in rows:
        pairs = zip(row[0:8:2], row[1:8:2], list(lists)[:4], strict=True)
        for codes, got, table in pairs:
            # Case-insensitive (Search sends hiring paths in lower case), in code order,
            # codes missing from the list skipped.
            wanted = [lists[table][code.upper()] for code in codes if code.upper() in lists[table]]
            assert got == wanted, (table, codes)
            found += len(wanted)
        agency_code, agency_name = row[8], row[9]
        assert agency_name == lists["agency_subelements"].get((agency_code or "").upper())
        found += agency_name is not None
    assert found > 2 * len(rows), "the fake's postings should use codes the lists know"
