"""Hostile content over real HTTP: lying counts, short or repeated pages, odd fields.

The fake rewrites its answers the way a broken API or a proxy could. Whatever it does,
the tap writes what it could read, closes nothing it did not prove closed, keeps the
bookmark of a query it did not read whole, and says so (exit 75), or stops before a
page it would have to null (exit 76).
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from conftest import (
    API_KEY,
    NOW,
    Sync,
    control,
    expected_ids,
    inject,
    run_tap,
    search_requests,
    sync,
    tap_config_for,
)
from test_http import KEYWORD

from tap_usajobs import historic, streams
from tap_usajobs.client import ContentRefusedError
from tap_usajobs.codelists import CODES_READ_KEY
from tap_usajobs.summary import EX_INCOMPLETE, EX_REFUSED

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_usajobs.testing.fake_api import FakeUsaJobsServer

    MakeConfig = Callable[..., dict[str, Any]]

PER_PAGE = 25
#: What a default catalog selects: the jobs stream and the quarantine.
JOBS = ("jobs", "quarantine")
FULL_SCAN = {"full_scan_every_hours": 0}


def activations(result: Sync) -> list[dict[str, Any]]:
    """The ACTIVATE_VERSION messages of the jobs stream: the postings a scan closes."""
    return [m for m in result.messages if m["type"] == "ACTIVATE_VERSION" and m["stream"] == "jobs"]


def jobs_state(result: Sync) -> dict[str, Any]:
    """The jobs stream's part of the final state."""
    return result.final_state["bookmarks"]["jobs"]


def run_cli(config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The tap's command line, as a Singer runner starts it."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tap_usajobs", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- counts and pages that lie ------------------------------------------------------------


@pytest.mark.parametrize(
    "rewrite",
    [
        pytest.param({"count": 0.66}, id="count-under-reported"),
        pytest.param({"count": 1.5}, id="count-over-reported"),
        pytest.param({"pages": "1"}, id="number-of-pages-too-low"),
        pytest.param({"rows": PER_PAGE - 5}, id="pages-short-of-rows"),
        pytest.param({"items": "empty", "page": 2}, id="empty-page-2"),
        pytest.param({"items": "page1", "page": 2}, id="page-1-again-as-page-2"),
    ],
)
def test_a_lying_page_closes_nothing_and_keeps_the_full_scan_due(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig, rewrite: dict[str, Any]
) -> None:
    expected = expected_ids(fake_api, Keyword=KEYWORD)
    rule: dict[str, Any] = {"kind": "rewrite", "times": 999, **rewrite}
    if isinstance(rule.get("count"), float):
        rule["count"] = int(len(expected) * rule["count"])
    inject(fake_api, rule)

    result, tap = run_tap(tap_config(results_per_page=PER_PAGE, **FULL_SCAN), *JOBS)

    assert activations(result) == [], "a scan not proven whole must close nothing"
    assert streams.LAST_FULL_SCAN_KEY not in jobs_state(result)
    assert list(tap.sync_summary.incomplete) == [f"keyword={KEYWORD!r}"]
    assert len(result.ids) == len(set(result.ids)), "a repeated page must not repeat postings"
    assert set(result.ids) <= set(expected)


def test_an_under_reported_count_still_reads_every_posting(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    expected = expected_ids(fake_api, Keyword=KEYWORD)
    inject(fake_api, {"kind": "rewrite", "count": len(expected) * 2 // 3, "times": 999})

    result = sync(tap_config(results_per_page=PER_PAGE, **FULL_SCAN))

    assert sorted(result.ids) == sorted(expected), "paging goes on until a short page"


def test_each_query_logs_the_count_it_was_given_and_the_postings_it_read(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """What progress displays set against each other, whether the count lies or not."""
    expected = expected_ids(fake_api, Keyword=KEYWORD)
    told = len(expected) * 2 // 3
    inject(fake_api, {"kind": "rewrite", "count": told, "times": 999})

    with caplog.at_level(logging.INFO):
        sync(tap_config(results_per_page=PER_PAGE, **FULL_SCAN))

    pages = math.ceil(told / PER_PAGE)
    requests = len(search_requests(fake_api))
    assert f"keyword={KEYWORD!r}: the API reports {told} postings on {pages} pages." in caplog.text
    assert f"keyword={KEYWORD!r}: read {len(expected)} postings in {requests} requests." in (
        caplog.text
    )


def test_a_clean_full_scan_proves_itself_and_closes_what_it_did_not_see(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    result, tap = run_tap(tap_config(results_per_page=PER_PAGE, **FULL_SCAN), *JOBS)

    assert tap.sync_summary.incomplete == {}
    assert len(activations(result)) == 1
    assert streams.LAST_FULL_SCAN_KEY in jobs_state(result)
    assert sorted(result.ids) == sorted(expected_ids(fake_api, Keyword=KEYWORD))


def test_an_incomplete_query_keeps_its_old_bookmark(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    config = tap_config(results_per_page=PER_PAGE, full_scan_every_hours=1000)
    first = sync(config)
    bookmark = jobs_state(first)["partitions"][0]["replication_key_value"]
    control(fake_api, "postings", {"add": 10})
    inject(fake_api, {"kind": "rewrite", "items": "empty", "times": 999})

    second = sync(config, state=first.final_state)

    partition = jobs_state(second)["partitions"][0]
    assert partition["replication_key_value"] == bookmark
    assert "progress_markers" not in partition


def test_the_tap_exits_75_naming_what_it_could_not_read(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig, tmp_path: Path
) -> None:
    inject(fake_api, {"kind": "rewrite", "rows": PER_PAGE - 1, "times": 999})

    result = run_cli(tap_config(results_per_page=PER_PAGE, **FULL_SCAN), tmp_path)

    assert result.returncode == EX_INCOMPLETE, result.stderr[-3000:]
    assert f"keyword={KEYWORD!r} was not read whole" in result.stderr
    assert "held 24 of 25 rows, but later pages held more" in result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    assert messages[-1]["type"] == "STATE", "what was read is written, and its state"


# --- bounds on every loop that talks to the API -------------------------------------------


def test_splitting_stops_when_the_api_ignores_the_filter(
    start_fake_api: Callable[..., FakeUsaJobsServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = start_fake_api(row_cap=100)
    codes = [f"{code:04d}" for code in range(1, 700)]
    monkeypatch.setattr(streams.SearchJobsStream, "split_values", lambda _self, _param: codes)
    inject(api, {"kind": "rewrite", "ignore_filters": True, "times": 100_000})
    config = tap_config_for(api.url, keywords=[], results_per_page=PER_PAGE, search_row_cap=100)

    result, tap = run_tap(config, *JOBS)

    requests = search_requests(api)
    assert len(requests) <= 1 + 2 + math.ceil(100 / PER_PAGE) + 1
    (reasons,) = tap.sync_summary.incomplete.values()
    assert any("did not narrow it" in reason for reason in reasons)
    assert len(result.ids) == 100


def test_a_query_stops_at_its_request_budget(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    inject(fake_api, {"kind": "rewrite", "items": "page1", "times": 999})

    _, tap = run_tap(
        tap_config(results_per_page=PER_PAGE, max_requests_per_query=5, **FULL_SCAN), *JOBS
    )

    assert len(search_requests(fake_api)) == 5
    (reasons,) = tap.sync_summary.incomplete.values()
    assert any("stopped after 5 requests" in reason for reason in reasons)


def test_a_historic_window_stops_at_its_request_budget(
    start_fake_api: Callable[..., FakeUsaJobsServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(historic, "utc_today", NOW.date)
    api = start_fake_api(historic=120, historic_days=60, historic_page_size=2)
    config = tap_config_for(api.url, start_date="2026-11-01", max_requests_per_query=2)

    result, tap = run_tap(config, "historic_jobs")

    windows = list(tap.sync_summary.incomplete.values())
    assert windows
    assert all(any("stopped after 2 pages" in reason for reason in rows) for rows in windows)
    assert len(result.records_of("historic_jobs")) == 2 * 2 * len(windows)


# --- one bad posting ------------------------------------------------------------------------


def _first_id(api: FakeUsaJobsServer) -> str:
    return expected_ids(api, Keyword=KEYWORD)[0]


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        pytest.param(
            {"path": "/MatchedObjectDescriptor/PositionTitle", "value": "Data\u0000 Engineer"},
            lambda r: r["PositionTitle"] == "Data Engineer",
            id="nul-in-title",
        ),
        pytest.param(
            {"path": "/MatchedObjectDescriptor/UserArea/Details/JobSummary", "value": "a\u0000b"},
            lambda r: r["UserArea"]["Details"]["JobSummary"] == "ab",
            id="nul-nested",
        ),
        pytest.param(
            {"path": "/MatchedObjectDescriptor/PositionTitle", "value": "Nurse \ud83d"},
            lambda r: r["PositionTitle"] == "Nurse \ufffd",
            id="lone-surrogate",
        ),
        pytest.param(
            {"path": "/MatchedObjectDescriptor/PositionTitle", "value": {"text": "x"}},
            lambda r: r["PositionTitle"] is None
            and r["unreadable_values"] == {"/PositionTitle": {"text": "x"}},
            id="object-for-text",
        ),
        pytest.param(
            {
                "path": "/MatchedObjectDescriptor/PositionRemuneration/0/MinimumRange",
                "value": "abc",
            },
            lambda r: r["PositionRemuneration"][0]["MinimumRange"] is None
            and r["unreadable_values"] == {"/PositionRemuneration/0/MinimumRange": "abc"},
            id="text-for-number",
        ),
        pytest.param(
            {"path": "/MatchedObjectDescriptor/PublicationStartDate", "remove": True},
            lambda r: r["PublicationStartDate"] is None,
            id="no-publication-start-date",
        ),
        pytest.param(
            {"path": "/MatchedObjectDescriptor/ApplyURI", "value": "https://example.gov/apply"},
            lambda r: r["ApplyURI"] == ["https://example.gov/apply"],
            id="apply-uri-as-text",
        ),
        pytest.param(
            {"path": "/MatchedObjectDescriptor/PositionRemuneration", "value": "N/A"},
            lambda r: r["PositionRemuneration"] == []
            and r["unreadable_values"] == {"/PositionRemuneration/0": "N/A"},
            id="text-for-pay-list",
        ),
        pytest.param(
            {"path": "/MatchedObjectDescriptor/PositionLocation", "value": {"LocationName": "X"}},
            lambda r: r["PositionLocation"] == [{"LocationName": "X"}],
            id="object-for-location-list",
        ),
        pytest.param(
            {"path": "/MatchedObjectId", "value": "not-a-number"},
            lambda r: r["unreadable_values"] == {"/MatchedObjectId": "not-a-number"},
            id="control-number-taken-from-the-uri",
        ),
    ],
)
def test_one_bad_posting_is_repaired_or_kept_and_the_rest_load(
    fake_api: FakeUsaJobsServer,
    tap_config: MakeConfig,
    edit: dict[str, Any],
    check: Callable[[dict[str, Any]], bool],
) -> None:
    bad = _first_id(fake_api)
    control(fake_api, "postings", {"mutate": {bad: [edit]}})

    result, tap = run_tap(tap_config(results_per_page=PER_PAGE, **FULL_SCAN), *JOBS)

    assert sorted(result.ids) == sorted(expected_ids(fake_api, Keyword=KEYWORD))
    (record,) = [r for r in result.records if r["MatchedObjectId"] == bad]
    assert check(record), record
    assert tap.sync_summary.incomplete == {}, "a repaired posting is read whole"
    assert len(activations(result)) == 1
    # The bookmark still moves, even when one posting has no date.
    assert jobs_state(result)["partitions"][0]["replication_key_value"]


def test_a_posting_without_any_usable_key_is_quarantined_and_the_scan_closes_nothing(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    bad = _first_id(fake_api)
    control(
        fake_api,
        "postings",
        {
            "mutate": {
                bad: [
                    {"path": "/MatchedObjectId", "value": "abc"},
                    {"path": "/MatchedObjectDescriptor/PositionURI", "value": "nowhere"},
                ]
            }
        },
    )

    with caplog.at_level(logging.WARNING):
        result, tap = run_tap(tap_config(results_per_page=PER_PAGE, **FULL_SCAN), *JOBS)

    assert bad not in result.ids
    assert len(result.ids) == len(expected_ids(fake_api, Keyword=KEYWORD)) - 1
    (quarantined,) = result.records_of("quarantine")
    assert quarantined["stream"] == "jobs"
    assert quarantined["record_key"] == "abc"
    assert json.loads(quarantined["raw_json"])["MatchedObjectId"] == "abc"
    assert "quarantined a row (MatchedObjectId='abc')" in caplog.text
    assert tap.sync_summary.quarantined == {"jobs": 1}
    assert activations(result) == []


def test_a_field_unreadable_on_most_of_a_page_stops_the_sync_before_writing_it(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    edit = {"path": "/MatchedObjectDescriptor/PublicationStartDate", "strftime": "%m/%d/%Y"}
    control(fake_api, "postings", {"mutate_all": [edit]})

    with pytest.raises(ContentRefusedError, match=r"/PublicationStartDate could not be read"):
        sync(tap_config(results_per_page=PER_PAGE))


def test_the_refused_sync_exits_76_and_writes_no_record(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig, tmp_path: Path
) -> None:
    edit = {"path": "/MatchedObjectDescriptor/PublicationStartDate", "strftime": "%m/%d/%Y"}
    control(fake_api, "postings", {"mutate_all": [edit]})

    result = run_cli(tap_config(results_per_page=PER_PAGE), tmp_path)

    assert result.returncode == EX_REFUSED, result.stderr[-3000:]
    assert "The API has changed this field's format" in result.stderr
    assert '"type":"RECORD"' not in result.stdout.replace(" ", "")
    assert '"type":"STATE"' not in result.stdout.replace(" ", "")


def test_max_unreadable_share_of_one_loads_the_page_with_every_value_kept(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    edit = {"path": "/MatchedObjectDescriptor/PublicationStartDate", "strftime": "%m/%d/%Y"}
    control(fake_api, "postings", {"mutate_all": [edit]})

    result = sync(tap_config(results_per_page=PER_PAGE, max_unreadable_share=1))

    assert result.records
    assert all(set(r["unreadable_values"]) == {"/PublicationStartDate"} for r in result.records)


# --- secrets ---------------------------------------------------------------------------------


def test_the_key_never_follows_a_redirect_to_another_host(
    fake_api: FakeUsaJobsServer,
    start_fake_api: Callable[..., FakeUsaJobsServer],
    tap_config: MakeConfig,
) -> None:
    elsewhere = start_fake_api()
    inject(fake_api, {"kind": "redirect", "location": f"{elsewhere.url}/api/Search?Page=1"})

    with pytest.raises(Exception, match="redirected /api/Search to another host"):
        sync(tap_config(max_retries=0))

    (followed,) = search_requests(elsewhere)
    assert followed["key_sent"] is False
    assert all(r["key_sent"] for r in search_requests(fake_api))


def test_a_key_with_a_line_break_is_refused_without_being_shown(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig, tmp_path: Path
) -> None:
    key = f"{API_KEY}\nsecond-line-9f3a"

    result = run_cli(tap_config(api_key=key), tmp_path)

    assert result.returncode != 0
    assert "api_key has whitespace or a control character" in result.stderr
    assert "second-line-9f3a" not in result.stderr + result.stdout
    assert search_requests(fake_api) == []


# --- code lists ---------------------------------------------------------------------------


def test_a_code_list_that_shrinks_sharply_retires_nothing(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    first, _ = run_tap(tap_config(), "pay_plans")
    codes = first.final_state["bookmarks"]["pay_plans"][CODES_READ_KEY]
    listed = control(fake_api, "codelists")["payplans"]
    assert len(listed) == codes
    control(fake_api, "codelists", {"list": "payplans", "remove": listed[: codes * 2 // 3]})

    second, tap = run_tap(
        tap_config(code_list_refresh_days=0), "pay_plans", state=first.final_state
    )

    assert [m for m in first.messages if m["type"] == "ACTIVATE_VERSION"]
    assert not [m for m in second.messages if m["type"] == "ACTIVATE_VERSION"]
    assert list(tap.sync_summary.incomplete) == ["pay_plans"]
    assert second.final_state["bookmarks"]["pay_plans"][CODES_READ_KEY] == codes


def test_a_code_list_that_changes_a_little_retires_what_left_it(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    first, _ = run_tap(tap_config(), "pay_plans")
    listed = control(fake_api, "codelists")["payplans"]
    control(fake_api, "codelists", {"list": "payplans", "remove": listed[:1]})

    second, tap = run_tap(
        tap_config(code_list_refresh_days=0), "pay_plans", state=first.final_state
    )

    assert [m for m in second.messages if m["type"] == "ACTIVATE_VERSION"]
    assert tap.sync_summary.incomplete == {}


# --- replaying the quarantine -------------------------------------------------------------


def test_replay_loads_what_now_reads_and_quarantines_the_rest_again(
    fake_api: FakeUsaJobsServer, tmp_path: Path
) -> None:
    good, bad = control(fake_api, "postings")["items"][:2]
    bad["MatchedObjectId"] = "n/a"
    bad["MatchedObjectDescriptor"]["PositionURI"] = "about:blank"
    rows = tmp_path / "rows.jsonl"
    rows.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n")

    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tap_usajobs.replay", "--stream", "jobs", str(rows)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    by_stream = {
        stream: [
            m["record"] for m in messages if m.get("stream") == stream and m["type"] == "RECORD"
        ]
        for stream in ("jobs", "quarantine")
    }
    assert [r["MatchedObjectId"] for r in by_stream["jobs"]] == [good["MatchedObjectId"]]
    assert [r["record_key"] for r in by_stream["quarantine"]] == ["n/a"]
    assert not [m for m in messages if m["type"] in {"STATE", "ACTIVATE_VERSION"}]
    assert "1 of 2 jobs rows loaded, 1 quarantined again" in result.stderr
