"""Tests of the fake USAJobs API itself, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest

from tap_usajobs.testing.fake_api import FakeApiConfig, FakeUsaJobsServer
from tap_usajobs.testing.postings import generate_postings

if TYPE_CHECKING:
    from collections.abc import Iterator

NOW = datetime.fromisoformat("2026-11-27T12:00:00")
KEY = "test-key-123"
HEADERS = {"Authorization-Key": KEY, "User-Agent": "tests@example.com"}
SHARED = FakeApiConfig(postings=600, seed=11, api_key=KEY, now=NOW, detail_kb=0)

# No default User-Agent: each test sends exactly the headers it names.
_OPENER = urllib.request.build_opener()
_OPENER.addheaders = []


def _request(
    url: str, *, headers: dict[str, str] | None = None, method: str = "GET", body: object = None
) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)  # noqa: S310
    try:
        with _OPENER.open(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _search_raw(api: FakeUsaJobsServer, **params: object) -> tuple[int, dict[str, str], bytes]:
    return _request(f"{api.url}/api/Search?{urlencode(params)}", headers=HEADERS)


def _search(api: FakeUsaJobsServer, **params: object) -> dict[str, Any]:
    status, _, body = _search_raw(api, **params)
    assert status == 200
    result: dict[str, Any] = json.loads(body)["SearchResult"]
    return result


def _control(api: FakeUsaJobsServer, path: str, method: str = "GET", body: object = None) -> Any:
    status, _, raw = _request(f"{api.url}/_fake/{path}", method=method, body=body)
    assert status == 200
    return json.loads(raw)


def _all_pages(api: FakeUsaJobsServer, **params: object) -> list[str]:
    first = _search(api, Page=1, **params)
    ids = [item["MatchedObjectId"] for item in first["SearchResultItems"]]
    for page in range(2, int(first["UserArea"]["NumberOfPages"]) + 1):
        ids += [
            item["MatchedObjectId"]
            for item in _search(api, Page=page, **params)["SearchResultItems"]
        ]
    return ids


@pytest.fixture(scope="module")
def shared_api() -> Iterator[FakeUsaJobsServer]:
    with FakeUsaJobsServer(SHARED) as api:
        yield api


@pytest.fixture
def api(shared_api: FakeUsaJobsServer) -> FakeUsaJobsServer:
    _control(shared_api, "faults", "DELETE")
    _control(shared_api, "reset-stats", "POST")
    return shared_api


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_search_without_the_right_key_is_401_with_a_json_message(
    api: FakeUsaJobsServer, key: str | None
) -> None:
    headers = {"User-Agent": "tests@example.com"} | (
        {} if key is None else {"Authorization-Key": key}
    )
    status, _, body = _request(f"{api.url}/api/Search", headers=headers)
    assert status == 401
    assert json.loads(body)["message"]


@pytest.mark.parametrize("user_agent", [None, " "])
def test_search_without_a_user_agent_is_400(api: FakeUsaJobsServer, user_agent: str | None) -> None:
    headers = {"Authorization-Key": KEY} | (
        {} if user_agent is None else {"User-Agent": user_agent}
    )
    status, _, _ = _request(f"{api.url}/api/search", headers=headers)
    assert status == 400


def test_paging_returns_every_matching_id_exactly_once_in_numeric_order(
    api: FakeUsaJobsServer,
) -> None:
    ids = _all_pages(api, Keyword="data", ResultsPerPage=40)
    assert Counter(ids).most_common(1)[0][1] == 1
    assert ids == sorted(ids, key=int)
    assert len(ids) == _search(api, Keyword="data")["SearchResultCountAll"]


def test_results_per_page_is_clamped_to_500_and_number_of_pages_is_a_string(
    api: FakeUsaJobsServer,
) -> None:
    result = _search(api, ResultsPerPage=1000)
    assert len(result["SearchResultItems"]) == result["SearchResultCount"] == 500
    assert result["SearchResultCountAll"] == 600
    assert result["UserArea"]["NumberOfPages"] == "2"
    assert _search(api)["UserArea"] == {"NumberOfPages": "3", "IsRadialSearch": False}


def test_row_cap_hides_rows_beyond_it_while_count_all_reports_the_total() -> None:
    with FakeUsaJobsServer(
        FakeApiConfig(postings=120, api_key=KEY, now=NOW, detail_kb=0, row_cap=50)
    ) as api:
        first = _search(api, ResultsPerPage=20)
        assert first["SearchResultCountAll"] == 120
        assert first["UserArea"]["NumberOfPages"] == "3"
        assert _search(api, ResultsPerPage=20, Page=3)["SearchResultCount"] == 10
        assert _search(api, ResultsPerPage=20, Page=4)["SearchResultItems"] == []
        assert _all_pages(api, ResultsPerPage=20) == _control(api, "expected")["ids"][:50]


@pytest.mark.parametrize("days", [0, 7, 60])
def test_date_posted_keeps_postings_published_within_that_many_days(
    api: FakeUsaJobsServer, days: int
) -> None:
    since = NOW.date() - timedelta(days=days)
    items = _search(api, DatePosted=days, ResultsPerPage=500)["SearchResultItems"]
    published = [
        date.fromisoformat(item["MatchedObjectDescriptor"]["PublicationStartDate"][:10])
        for item in items
    ]
    catalogue = generate_postings(600, seed=11, now=NOW, detail_kb=0)
    expected = sum(
        date.fromisoformat(p["MatchedObjectDescriptor"]["PublicationStartDate"][:10]) >= since
        for p in catalogue
    )
    assert 0 < len(items) == expected < 600
    assert min(published) >= since


@pytest.mark.parametrize("value", ["61", "-1", "week"])
def test_date_posted_outside_0_to_60_is_a_400(api: FakeUsaJobsServer, value: str) -> None:
    assert _search_raw(api, DatePosted=value)[0] == 400


def test_keyword_needs_every_word_case_insensitively_and_hits_a_realistic_subset(
    api: FakeUsaJobsServer,
) -> None:
    items = _search(api, Keyword="DATA Engineering", ResultsPerPage=500)["SearchResultItems"]
    assert 0.2 <= len(items) / 600 <= 0.4
    for item in items:
        descriptor = item["MatchedObjectDescriptor"]
        text = " ".join(
            [
                descriptor["PositionTitle"],
                *(category["Name"] for category in descriptor["JobCategory"]),
                descriptor["UserArea"]["Details"]["JobSummary"],
            ]
        ).lower()
        assert "data" in text
        assert "engineering" in text


def test_code_filters_accept_semicolon_separated_values(api: FakeUsaJobsServer) -> None:
    items = _search(api, Organization="AF;VATA", JobCategoryCode="2210;1560", ResultsPerPage=500)[
        "SearchResultItems"
    ]
    assert items
    for item in items:
        descriptor = item["MatchedObjectDescriptor"]
        assert descriptor["UserArea"]["Details"]["OrganizationCodes"] in {"DD/AF1M", "VA/VATA"}
        assert {category["Code"] for category in descriptor["JobCategory"]} & {"2210", "1560"}


def test_expected_endpoint_agrees_with_paged_results(api: FakeUsaJobsServer) -> None:
    params = {"Keyword": "data engineering", "DatePosted": 30, "LocationName": "maryland"}
    expected = _control(api, f"expected?{urlencode(params)}")
    assert expected["count"] > 0
    assert _all_pages(api, ResultsPerPage=7, **params) == expected["ids"]


def test_status_fault_carries_retry_after_and_is_consumed(api: FakeUsaJobsServer) -> None:
    _control(
        api, "faults", "POST", [{"kind": "status", "status": 429, "retry_after": 1, "times": 2}]
    )
    for _ in range(2):
        status, headers, body = _search_raw(api)
        assert (status, headers["Retry-After"]) == (429, "1")
        assert json.loads(body)["message"]
    assert _search_raw(api)[0] == 200
    assert _control(api, "stats")["requests_by_status"] == {"429": 2, "200": 1}


def test_fault_with_a_page_only_hits_that_page(api: FakeUsaJobsServer) -> None:
    _control(api, "faults", "POST", {"kind": "status", "status": 503, "page": 2})
    assert [_search_raw(api, Page=page)[0] for page in (1, 2, 2)] == [200, 503, 200]


def test_truncate_fault_sends_invalid_json_with_a_matching_content_length(
    api: FakeUsaJobsServer,
) -> None:
    _control(api, "faults", "POST", [{"kind": "truncate"}])
    status, headers, body = _search_raw(api, ResultsPerPage=5)
    assert status == 200
    assert int(headers["Content-Length"]) == len(body)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_short_fault_drops_the_last_item_but_keeps_the_count(api: FakeUsaJobsServer) -> None:
    _control(api, "faults", "POST", [{"kind": "short"}])
    result = _search(api, ResultsPerPage=10)
    assert result["SearchResultCount"] == 10
    assert len(result["SearchResultItems"]) == 9


def test_reset_fault_drops_the_connection_without_an_answer(api: FakeUsaJobsServer) -> None:
    _control(api, "faults", "POST", [{"kind": "reset"}])
    with pytest.raises(ConnectionError):
        _search_raw(api)
    assert _control(api, "stats")["requests"][0]["status"] is None


def test_slow_fault_and_latency_delay_the_answer(api: FakeUsaJobsServer) -> None:
    _control(api, "faults", "POST", [{"kind": "slow", "seconds": 0.2}])
    started = time.monotonic()
    assert _search_raw(api)[0] == 200
    assert time.monotonic() - started >= 0.2


def test_stats_log_query_params_but_never_header_values(api: FakeUsaJobsServer) -> None:
    _search(api, Keyword="nurse", Page=1)
    _request(f"{api.url}/api/Nope", headers=HEADERS)
    stats = _control(api, "stats")
    assert stats["search_requests"] == 1
    assert isinstance(stats["requests"][0].pop("received_at"), float)
    assert stats["requests"][0] == {
        "path": "/api/Search",
        "params": {"Keyword": "nurse", "Page": "1"},
        "status": 200,
        "fault": None,
        "key_sent": True,  # whether a key came along, never its value
    }
    assert stats["requests_by_status"] == {"200": 1, "404": 1}
    assert KEY not in json.dumps(stats)
    assert "tests@example.com" not in json.dumps(stats)


def test_added_postings_are_published_now_and_removed_ones_disappear() -> None:
    with FakeUsaJobsServer(FakeApiConfig(postings=30, api_key=KEY, now=NOW, detail_kb=0)) as api:
        added = _control(api, "postings", "POST", {"add": 4})["added"]
        new_today = _control(api, "expected?Keyword=data+engineering&DatePosted=0")["ids"]
        assert len(set(added) & set(new_today)) >= 2
        assert _control(api, "postings")["count"] == 34
        removed = _control(api, "postings", "POST", {"remove": [*added[:2], "123"]})["removed"]
        assert removed == added[:2]
        remaining = _all_pages(api, ResultsPerPage=500)
        assert not set(removed) & set(remaining)
        assert set(added[2:]) <= set(remaining)


def test_generator_is_deterministic_with_unique_ids_and_repeated_position_ids() -> None:
    postings = generate_postings(300, seed=3, now=NOW, detail_kb=0)
    assert postings == generate_postings(300, seed=3, now=NOW, detail_kb=0)
    ids = [posting["MatchedObjectId"] for posting in postings]
    assert len(set(ids)) == 300
    assert all(posting_id.isdigit() and 7 <= len(posting_id) <= 9 for posting_id in ids)
    position_ids = Counter(posting["MatchedObjectDescriptor"]["PositionID"] for posting in postings)
    assert position_ids.most_common(1)[0][1] > 1


def test_generator_mixes_legacy_sparse_and_typed_fields() -> None:
    descriptors = [
        p["MatchedObjectDescriptor"] for p in generate_postings(400, seed=5, now=NOW, detail_kb=0)
    ]
    pay = [entry for descriptor in descriptors for entry in descriptor["PositionRemuneration"]]
    assert all(isinstance(entry["MinimumRange"], str) for entry in pay)
    assert {"PA", "PH", "Per Year"} <= {entry["RateIntervalCode"] for entry in pay}
    assert any("Description" not in entry for entry in pay)
    assert any("PositionLocationDisplay" not in descriptor for descriptor in descriptors)
    details = descriptors[0]["UserArea"]["Details"]
    assert details["Relocation"] in {"True", "False"}
    assert isinstance(details["TeleworkEligible"], bool)
    for descriptor in descriptors:
        datetime.fromisoformat(descriptor["ApplicationCloseDate"].replace("Z", ""))


def test_detail_kb_pads_each_posting_to_about_that_size() -> None:
    sizes = [len(json.dumps(p)) for p in generate_postings(20, seed=1, now=NOW, detail_kb=12)]
    assert all(12 * 1024 <= size < 13 * 1024 for size in sizes)


def test_cli_announces_its_url_writes_the_port_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    command = [
        sys.executable,
        "-m",
        "tap_usajobs.testing.fake_api",
        "--port",
        "0",
        "--postings",
        "20",
        "--api-key",
        KEY,
        "--now",
        "2026-11-27T12:00:00",
        "--port-file",
        str(port_file),
        "--fault",
        '{"kind": "status", "status": 503}',
    ]
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)  # noqa: S603
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        port = int(port_file.read_text())
        assert line == f"fake USAJobs API listening on http://127.0.0.1:{port}"
        url = f"http://127.0.0.1:{port}/api/Search"
        assert [_request(url, headers=HEADERS)[0] for _ in range(2)] == [503, 200]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()  # no-op once it exited; a hung fake must not hang the suite
        process.communicate()
