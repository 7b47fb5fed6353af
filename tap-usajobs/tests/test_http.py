"""The tap over real HTTP against the fake API: paging, retries, failures, state, output."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import requests
from conftest import (  # the module pytest already imported
    API_KEY,
    NOW,
    capture,
    control,
    expected_ids,
    inject,
    search_requests,
    sync,
    tap_config_for,
)
from jsonschema import Draft7Validator, FormatChecker
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError

from tap_usajobs import streams
from tap_usajobs.client import retry_after_seconds
from tap_usajobs.tap import TapUsaJobs

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_usajobs.testing.fake_api import FakeUsaJobsServer

    MakeConfig = Callable[..., dict[str, Any]]

KEYWORD = "data engineering"
DATE_FIELDS = (
    "PositionStartDate",
    "PositionEndDate",
    "PublicationStartDate",
    "ApplicationCloseDate",
)
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00$")


def bookmark_state(*bookmarks: tuple[str, datetime]) -> dict[str, Any]:
    """Singer state holding a PublicationStartDate bookmark per keyword."""
    partitions = [
        {
            "context": {"keyword": keyword},
            "replication_key": "PublicationStartDate",
            "replication_key_value": moment.isoformat(),
        }
        for keyword, moment in bookmarks
    ]
    # A recent full scan, as every state this tap writes records: runs resume incrementally.
    stream_state = {"partitions": partitions, "last_full_scan_started_at": NOW.isoformat()}
    return {"bookmarks": {"jobs": stream_state}}


# --- paging -----------------------------------------------------------------------------


def test_fetches_every_page_once_and_every_matching_id_exactly_once(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    expected = expected_ids(fake_api, Keyword=KEYWORD)
    pages = math.ceil(len(expected) / 25)
    assert pages >= 3, "the query must span several pages to test paging"

    result = sync(tap_config(keywords=[KEYWORD], results_per_page=25))

    assert len(result.ids) == len(set(result.ids))
    assert sorted(result.ids) == sorted(expected)
    requests = search_requests(fake_api)
    assert [r["params"]["Page"] for r in requests] == [str(p) for p in range(1, pages + 1)]
    assert {(r["params"]["Keyword"], r["params"]["ResultsPerPage"]) for r in requests} == {
        (KEYWORD, "25")
    }
    assert API_KEY not in json.dumps(requests)  # the key travels in a header only


def test_empty_keywords_runs_one_query_without_a_keyword(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    result = sync(tap_config(keywords=[], results_per_page=100))

    assert sorted(result.ids) == sorted(expected_ids(fake_api))
    assert len(result.ids) == 300
    requests = search_requests(fake_api)
    # Three full pages hold the 300; only the empty page 4 proves there is no fourth.
    assert [r["params"]["Page"] for r in requests] == ["1", "2", "3", "4"]
    assert all("Keyword" not in r["params"] for r in requests)


def _series_codes(api: FakeUsaJobsServer) -> list[str]:
    """Every occupational series the fake's postings carry, as the code list would give."""
    items = control(api, "postings")["items"]
    codes = {c["Code"] for item in items for c in item["MatchedObjectDescriptor"]["JobCategory"]}
    return sorted(codes)


def test_query_over_the_row_cap_is_split_and_every_posting_read_once(
    start_fake_api: Callable[..., FakeUsaJobsServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 300 matches behind a 100-row cap stand in for the real API's 10,000.
    api = start_fake_api(row_cap=100)
    codes = _series_codes(api)
    monkeypatch.setattr(streams.SearchJobsStream, "split_values", lambda _self, _param: codes)

    result = sync(tap_config_for(api.url, keywords=[], results_per_page=25, search_row_cap=100))

    assert len(result.ids) == len(set(result.ids)), "a posting in two series came twice"
    assert sorted(result.ids) == sorted(expected_ids(api))
    requests = search_requests(api)
    assert {"JobCategoryCode"} <= {name for r in requests for name in r["params"]}
    assert len(requests) <= 2 * math.ceil(300 / 25) + 20, "the split must stay within budget"


def test_a_cap_that_splitting_cannot_beat_is_reported_with_numbers(
    start_fake_api: Callable[..., FakeUsaJobsServer],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = start_fake_api(row_cap=100)
    # One code per filter: nothing left to split by.
    monkeypatch.setattr(streams.SearchJobsStream, "split_values", lambda _self, _param: ["X"])

    with caplog.at_level(logging.WARNING):
        result = sync(tap_config_for(api.url, keywords=[], results_per_page=25, search_row_cap=100))

    assert len(result.ids) == 100
    assert "the API reported 300 postings but 100 were read" in caplog.text
    assert "100 rows were read, the most the API serves of one query" in caplog.text
    assert not [m for m in result.messages if m["type"] == "ACTIVATE_VERSION"]


def test_pages_past_the_announced_ones_are_asked_for_one_at_a_time_until_one_is_empty(
    start_fake_api: Callable[..., FakeUsaJobsServer],
) -> None:
    # The tap's own cap stays at 10,000; the fake announces only the 4 pages it serves,
    # and counts 300. Page 5 is the evidence that nothing more is served.
    api = start_fake_api(row_cap=100)

    result = sync(tap_config_for(api.url, keywords=[], results_per_page=25))

    assert len(result.ids) == 100
    pages = [r["params"]["Page"] for r in search_requests(api)]
    assert sorted(pages, key=int) == ["1", "2", "3", "4", "5"]


def test_search_row_cap_zero_reads_every_page_of_an_uncapped_server(
    start_fake_api: Callable[..., FakeUsaJobsServer],
) -> None:
    api = start_fake_api(row_cap=0)

    result = sync(tap_config_for(api.url, keywords=[], results_per_page=25, search_row_cap=0))

    assert sorted(result.ids) == sorted(expected_ids(api))
    assert len(result.ids) == 300


def test_concurrent_pages_yield_records_in_sequential_order(
    fake_api: FakeUsaJobsServer,
    tap_config: MakeConfig,
) -> None:
    sequential = sync(tap_config(max_concurrent_requests=1))
    control(fake_api, "reset-stats", {})

    concurrent = sync(tap_config(max_concurrent_requests=4))

    assert concurrent.ids == sequential.ids
    assert len(search_requests(fake_api)) == math.ceil(len(sequential.ids) / 25)


def test_a_failing_page_stops_a_concurrent_sync(
    fake_api: FakeUsaJobsServer,
    tap_config: MakeConfig,
) -> None:
    inject(fake_api, {"kind": "status", "status": 503, "page": 3, "times": 10})

    with pytest.raises(RetriableAPIError, match="503"):
        sync(tap_config(max_concurrent_requests=4, max_retries=2))


# --- retries ----------------------------------------------------------------------------


def test_retries_429_after_retry_after_seconds(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    inject(fake_api, {"kind": "status", "status": 429, "retry_after": 1})

    started = time.monotonic()
    result = sync(tap_config())
    elapsed = time.monotonic() - started

    # Without Retry-After the wait would be at most backoff_base_ms (10 ms).
    assert elapsed >= 1.0
    statuses = [r["status"] for r in search_requests(fake_api)]
    assert statuses[:2] == [429, 200]
    assert sorted(result.ids) == sorted(expected_ids(fake_api, Keyword=KEYWORD))


def test_a_retry_after_counts_only_on_an_answer_that_refuses_service() -> None:
    response = requests.Response()
    response.headers["Retry-After"] = "120"
    for status, seconds in ((429, 120.0), (503, 120.0), (500, None), (200, None), (408, None)):
        response.status_code = status
        assert retry_after_seconds(response) == seconds, status


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        pytest.param("30", 30.0, id="seconds"),
        pytest.param("-5", 0.0, id="negative"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="date-past"),
        pytest.param("Fri, 01 Jan 2100 00:00:00 -0000", "future", id="date-in-no-zone"),
        pytest.param("Fri, 01 Jan 2100 00:00:00 +0000", "future", id="date-utc"),
        pytest.param("soon", None, id="words"),
        pytest.param("Fri, 99 Foo 2100", None, id="broken-date"),
        pytest.param("01 Jan 2030 00:00:00 +999999999999999999", None, id="zone-overflows"),
        pytest.param("01 Jan 99999999999999999999 00:00:00 GMT", None, id="year-overflows"),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date_whatever_the_server_sends(
    header: str, seconds: float | str | None
) -> None:
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = header

    found = retry_after_seconds(response)

    if seconds == "future":
        assert found is not None
        assert found > 365 * 24 * 3600
    else:
        assert found == seconds


def test_caps_retry_after_at_backoff_max_seconds(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    inject(fake_api, {"kind": "status", "status": 429, "retry_after": 30})

    started = time.monotonic()
    sync(tap_config(backoff_max_seconds=0))

    assert time.monotonic() - started < 5
    assert [r["status"] for r in search_requests(fake_api)][:2] == [429, 200]


def test_retries_a_burst_of_503s_and_completes(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    inject(fake_api, {"kind": "status", "status": 503, "times": 3})

    result = sync(tap_config(max_retries=3))

    statuses = [r["status"] for r in search_requests(fake_api)]
    assert statuses[:4] == [503, 503, 503, 200]
    assert sorted(result.ids) == sorted(expected_ids(fake_api, Keyword=KEYWORD))


def test_fails_with_the_status_after_more_503s_than_max_retries(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    inject(fake_api, {"kind": "status", "status": 503, "times": 10})

    with pytest.raises(RetriableAPIError, match="503"):
        sync(tap_config(max_retries=2))

    assert [r["status"] for r in search_requests(fake_api)] == [503, 503, 503]


def test_retries_a_truncated_json_body(fake_api: FakeUsaJobsServer, tap_config: MakeConfig) -> None:
    inject(fake_api, {"kind": "truncate", "page": 2})

    result = sync(tap_config())

    faults = [(r["params"]["Page"], r["fault"]) for r in search_requests(fake_api)]
    assert faults[:3] == [("1", None), ("2", "truncate"), ("2", None)]
    assert sorted(result.ids) == sorted(expected_ids(fake_api, Keyword=KEYWORD))


def test_fails_loudly_when_a_page_stays_truncated(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    inject(fake_api, {"kind": "truncate", "page": 2, "times": 10})

    with pytest.raises(RetriableAPIError, match="Malformed JSON"):
        sync(tap_config(max_retries=2))

    pages = [r["params"]["Page"] for r in search_requests(fake_api)]
    assert pages == ["1", "2", "2", "2"]


def test_retries_a_response_slower_than_request_timeout(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    inject(fake_api, {"kind": "slow", "seconds": 1.5})

    started = time.monotonic()
    with caplog.at_level(logging.INFO):
        result = sync(tap_config(request_timeout=1))

    assert time.monotonic() - started >= 1.0
    assert "ReadTimeout" in caplog.text
    assert control(fake_api, "stats")["pending_faults"] == 0
    assert sorted(result.ids) == sorted(expected_ids(fake_api, Keyword=KEYWORD))


def test_retries_a_reset_connection(fake_api: FakeUsaJobsServer, tap_config: MakeConfig) -> None:
    inject(fake_api, {"kind": "reset"})

    result = sync(tap_config())

    requests = search_requests(fake_api)
    assert [(r["status"], r["fault"]) for r in requests[:2]] == [(None, "reset"), (200, None)]
    assert sorted(result.ids) == sorted(expected_ids(fake_api, Keyword=KEYWORD))


# --- fatal errors and settings ------------------------------------------------------------


def test_wrong_api_key_fails_at_once_without_leaking_the_key(
    fake_api: FakeUsaJobsServer,
    tap_config: MakeConfig,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong_key = "wrong-key-3f9a7c1e"

    with caplog.at_level(logging.DEBUG), pytest.raises(FatalAPIError) as failure:
        sync(tap_config(api_key=wrong_key))

    assert "HTTP 401" in str(failure.value)
    assert "api_key" in str(failure.value)  # names the setting to fix
    assert [r["status"] for r in search_requests(fake_api)] == [401]
    captured = capsys.readouterr()
    for text in (str(failure.value), repr(failure.value), caplog.text, captured.out, captured.err):
        assert wrong_key not in text


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        pytest.param({"api_key": None}, "api_key", id="no-api-key"),
        pytest.param({"user_agent": "data team"}, "user_agent", id="user-agent-not-an-email"),
        pytest.param({"results_per_page": 501}, "results_per_page", id="page-size-over-500"),
    ],
)
def test_invalid_settings_fail_validation_naming_the_setting(
    overrides: dict[str, Any], setting: str
) -> None:
    config = tap_config_for("http://fake-usajobs.invalid", **overrides)
    config = {name: value for name, value in config.items() if value is not None}  # None: unset

    with pytest.raises(ConfigValidationError) as failure:
        TapUsaJobs(config=config)

    assert any(setting in error for error in failure.value.errors), failure.value.errors


# --- incremental windows ----------------------------------------------------------------


@pytest.mark.usefixtures("frozen_tap_clock")
@pytest.mark.parametrize(
    ("bookmark_days_ago", "date_posted"),
    [
        pytest.param(3, "5", id="recent-bookmark-plus-2-days-lookback"),
        pytest.param(58, "60", id="window-of-exactly-60-days"),
        pytest.param(59, None, id="window-of-61-days-scans-in-full"),
        pytest.param(90, None, id="bookmark-older-than-60-days"),
    ],
)
def test_bookmark_narrows_requests_by_date_posted_with_lookback(
    fake_api: FakeUsaJobsServer,
    tap_config: MakeConfig,
    bookmark_days_ago: int,
    date_posted: str | None,
) -> None:
    state = bookmark_state((KEYWORD, NOW - timedelta(days=bookmark_days_ago)))

    result = sync(tap_config(keywords=[KEYWORD], lookback_days=2), state=state)

    requests = search_requests(fake_api)
    assert len(requests) >= 1
    assert {r["params"].get("DatePosted") for r in requests} == {date_posted}
    window = {"Keyword": KEYWORD} | ({} if date_posted is None else {"DatePosted": date_posted})
    assert sorted(result.ids) == sorted(expected_ids(fake_api, **window))


@pytest.mark.usefixtures("frozen_tap_clock")
def test_first_run_without_start_date_sends_no_date_posted(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    sync(tap_config())

    assert all("DatePosted" not in r["params"] for r in search_requests(fake_api))


@pytest.mark.usefixtures("frozen_tap_clock")
def test_first_run_with_start_date_reaches_back_to_it_plus_lookback(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    start_date = (NOW - timedelta(days=10)).isoformat()

    sync(tap_config(start_date=start_date, lookback_days=2))

    assert {r["params"].get("DatePosted") for r in search_requests(fake_api)} == {"12"}


@pytest.mark.usefixtures("frozen_tap_clock")
def test_each_keyword_uses_its_own_bookmark(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    state = bookmark_state((KEYWORD, NOW - timedelta(days=3)))

    sync(tap_config(keywords=[KEYWORD, "nurse"], lookback_days=2), state=state)

    windows = {
        (r["params"]["Keyword"], r["params"].get("DatePosted")) for r in search_requests(fake_api)
    }
    assert windows == {(KEYWORD, "5"), ("nurse", None)}


# --- what the tap writes ----------------------------------------------------------------


def test_records_carry_numbers_utc_dates_and_booleans(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    records = sync(tap_config(keywords=[], results_per_page=500)).records
    sent = {
        item["MatchedObjectId"]: item["MatchedObjectDescriptor"]
        for item in control(fake_api, "postings")["items"]
    }

    assert sorted(r["MatchedObjectId"] for r in records) == sorted(sent)
    for record in records:
        raw_pay = sent[record["MatchedObjectId"]]["PositionRemuneration"]
        for pay, raw in zip(record["PositionRemuneration"], raw_pay, strict=True):
            for bound in ("MinimumRange", "MaximumRange"):
                assert isinstance(pay[bound], (int, float))
                assert pay[bound] == float(raw[bound])  # "134751.0" -> 134751
        for field in DATE_FIELDS:
            assert RFC3339_UTC.match(record[field]), record[field]
        details = record["UserArea"]["Details"]
        for flag in ("Relocation", "WithinArea", "DrugTestRequired", "TeleworkEligible"):
            assert isinstance(details[flag], bool), (flag, details[flag])
    # The fake sends Relocation as "True" on some postings and "False" on others.
    assert {r["UserArea"]["Details"]["Relocation"] for r in records} == {True, False}


def test_every_record_validates_against_the_stream_schema(
    start_fake_api: Callable[..., FakeUsaJobsServer],
) -> None:
    # target-postgres runs with validate_records off (a 2x load speed-up), because this
    # test holds the tap to its schema: every emitted record, strictly, with formats.
    api = start_fake_api(postings=600)
    result = sync(tap_config_for(api.url, keywords=[], results_per_page=500))
    (schema_message,) = [
        m for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == "jobs"
    ]
    validator = Draft7Validator(schema_message["schema"], format_checker=FormatChecker())

    problems = [
        f"{record['MatchedObjectId']}: {error.message}"
        for record in result.records
        for error in validator.iter_errors(record)
    ]

    assert len(result.records) == 600
    assert problems == []


def test_state_has_one_bookmark_per_keyword_at_its_newest_posting(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    result = sync(tap_config(keywords=[KEYWORD, "nurse"]))

    published = {r["MatchedObjectId"]: r["PublicationStartDate"] for r in result.records}
    partitions = result.final_state["bookmarks"]["jobs"]["partitions"]
    assert [p["context"] for p in partitions] == [{"keyword": KEYWORD}, {"keyword": "nurse"}]
    for partition in partitions:
        keyword = partition["context"]["keyword"]
        newest = max(
            (published[i] for i in expected_ids(fake_api, Keyword=keyword)),
            key=datetime.fromisoformat,
        )
        assert partition["replication_key"] == "PublicationStartDate"
        assert partition["replication_key_value"] == newest
        assert "progress_markers" not in partition


def test_a_keyword_that_finished_keeps_its_bookmark_when_a_later_one_fails(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    inject(fake_api, {"kind": "status", "status": 400, "keyword": "nurse"})
    tap = TapUsaJobs(config=tap_config(keywords=[KEYWORD, "nurse"]))

    result = capture(tap, raises=FatalAPIError)

    # STATE came right after the first keyword's records, with its final bookmark, and
    # before anything of the failed one: a target commits it with those records.
    kinds = [m["type"] for m in result.messages if m["type"] in ("RECORD", "STATE")]
    assert kinds[-1] == "STATE"
    assert set(kinds[: kinds.index("STATE")]) == {"RECORD"}
    (partition,) = result.final_state["bookmarks"]["jobs"]["partitions"]
    assert partition["context"] == {"keyword": KEYWORD}
    newest = max((r["PublicationStartDate"] for r in result.records), key=datetime.fromisoformat)
    assert partition["replication_key_value"] == newest
    assert "progress_markers" not in partition
    assert sorted(result.ids) == sorted(expected_ids(fake_api, Keyword=KEYWORD))


def test_a_query_over_the_real_10000_row_cap_yields_every_posting_once(
    start_fake_api: Callable[..., FakeUsaJobsServer],
) -> None:
    # The real cap, the real code list (served by the fake from a real response) and
    # real page sizes: nothing scaled down.
    api = start_fake_api(postings=10_600, detail_kb=0)
    config = tap_config_for(api.url, keywords=[], results_per_page=500, max_concurrent_requests=4)

    result = sync(config)

    assert len(result.ids) == len(set(result.ids))
    assert sorted(result.ids) == sorted(expected_ids(api))
    requests = search_requests(api)
    assert len(requests) <= 2 * math.ceil(10_600 / 500) + 20
    assert any("JobCategoryCode" in r["params"] for r in requests)
