"""The fake's public endpoints: Historic JOA paging and quirks, code lists, control calls."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import control

from tap_usajobs.testing.historic import FINAL_STATUSES

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_usajobs.testing.fake_api import FakeUsaJobsServer


@pytest.fixture
def api(start_fake_api: Callable[..., FakeUsaJobsServer]) -> FakeUsaJobsServer:
    """A fake with 120 historic announcements over 300 days, 10 per page."""
    return start_fake_api(historic=120, historic_days=300, historic_page_size=10)


def get(api: FakeUsaJobsServer, path: str) -> tuple[int, bytes]:
    """GET ``path`` without any header: the public endpoints need none."""
    try:
        with urllib.request.urlopen(f"{api.url}{path}", timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def page(api: FakeUsaJobsServer, path: str) -> dict[str, Any]:
    """A 200 page, parsed."""
    status, body = get(api, path)
    assert status == 200, body
    return json.loads(body)


def test_pages_link_to_the_next_with_lower_case_names_and_an_encoded_token(
    api: FakeUsaJobsServer,
) -> None:
    first = page(api, "/api/historicjoa?StartPositionOpenDate=2026-06-01&HiringAgencyCodes=")

    metadata = first["paging"]["metadata"]
    assert set(metadata) == {"totalCount", "pageSize", "continuationToken"}
    assert metadata["pageSize"] == 10
    assert len(first["data"]) == 10
    link = first["paging"]["next"]
    assert link.startswith("/api/historicjoa?continuationtoken=ct%2F")
    assert "startpositionopendate=2026-06-01" in link
    token = dict(parse_qsl(urlsplit(link).query))["continuationtoken"]
    assert token == metadata["continuationToken"]
    ids = [row["usajobsControlNumber"] for row in first["data"]]
    while link:
        following = page(api, link)
        ids += [row["usajobsControlNumber"] for row in following["data"]]
        link = following["paging"]["next"]
    assert len(ids) == len(set(ids)) == metadata["totalCount"]
    assert following["paging"]["metadata"]["continuationToken"] is None


def test_a_token_encoded_twice_or_from_another_query_is_a_400(api: FakeUsaJobsServer) -> None:
    link = page(api, "/api/historicjoa?StartPositionOpenDate=2026-06-01")["paging"]["next"]

    twice = link.replace("%2F", "%252F")
    elsewhere = link.replace("2026-06-01", "2026-07-01")

    assert get(api, twice)[0] == 400
    assert get(api, elsewhere)[0] == 400
    assert get(api, "/api/historicjoa?StartPositionOpenDate=06/01/2026")[0] == 400


def test_no_rows_is_204_for_announcements_and_literal_text_for_texts(
    api: FakeUsaJobsServer,
) -> None:
    nothing = "?HiringAgencyCodes=ZZ99"

    assert get(api, f"/api/historicjoa{nothing}") == (204, b"")
    assert get(api, f"/api/historicjoa/announcementtext{nothing}") == (200, b"204 No Content")


def test_rows_carry_the_real_quirks(api: FakeUsaJobsServer) -> None:
    rows = control(api, "historic")["items"]

    keys = {key for row in rows for key in row}
    assert {"HiringPaths", "hiringpaths", "hiringPaths", "disableAppyOnline"} <= keys
    assert "disableApplyOnline" not in keys
    assert {row["supervisoryStatus"] for row in rows} == {"Y", "N"}
    assert {row["salaryType"] for row in rows} >= {"Per Year", "Per Hour"}
    statuses = {row["positionOpeningStatus"] for row in rows}
    assert {"Accepting applications", "Applications under review"} <= statuses
    assert statuses & set(FINAL_STATUSES)


def test_filters_cover_dates_codes_and_series(api: FakeUsaJobsServer) -> None:
    rows = control(api, "historic")["items"]
    vata = [
        r for r in rows if r["hiringAgencyCode"] == "VATA" and r["positionOpenDate"] >= "2026-08-01"
    ]
    query = "StartPositionOpenDate=2026-08-01&HiringAgencyCodes=vata,NN00"

    served = page(api, f"/api/historicjoa?{query}")
    texts = page(api, f"/api/historicjoa/announcementtext?{query}")

    assert served["paging"]["metadata"]["totalCount"] == len(
        [
            r
            for r in rows
            if r["hiringAgencyCode"] in {"VATA", "NN00"} and r["positionOpenDate"] >= "2026-08-01"
        ]
    )
    assert vata
    assert texts["paging"]["metadata"]["totalCount"] == served["paging"]["metadata"]["totalCount"]
    series = page(api, "/api/historicjoa?PositionSeries=0610")["data"]
    assert series
    assert all(
        {"series": "0610"} in next(v for k, v in r.items() if k.lower() == "jobcategories")
        for r in series
    )


def test_control_adds_late_announcements_and_finalises_statuses(api: FakeUsaJobsServer) -> None:
    added = control(api, "historic", {"add": [{"positionOpenDate": "2026-01-10"}]})["added"]
    control(api, "historic", {"finalize": True})

    rows = {row["usajobsControlNumber"]: row for row in control(api, "historic")["items"]}

    assert rows[added[0]]["positionOpenDate"] == "2026-01-10"
    assert {row["positionOpeningStatus"] for row in rows.values()} <= set(FINAL_STATUSES)


def test_code_lists_are_the_real_responses_and_codes_can_be_removed(api: FakeUsaJobsServer) -> None:
    before = page(api, "/api/codelist/payplans")
    control(api, "codelists", {"list": "payplans", "remove": ["AA"], "add": [{"Code": "ZZ"}]})

    after = page(api, "/api/codelist/PayPlans")

    assert before["CodeList"][0]["id"] == "PayPlans"
    codes = [value["Code"] for value in after["CodeList"][0]["ValidValue"]]
    assert "AA" not in codes
    assert codes[-1] == "ZZ"
    assert after["DateGenerated"].endswith("Z")
    assert get(api, "/api/codelist/nosuchlist")[0] == 404
