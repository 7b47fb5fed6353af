"""Answers no well-behaved API gives: served byte for byte by a hostile server.

The bundled fake lies only in the ways it models. These cases come from an adversarial
review that served the tap arbitrary bodies, each once a crash, a silent loss or a false
proof of completeness: odd digits in counts, a control number spelled two ways, a key
with a NUL in its name, a date a zone pushes past year 9999, deep nesting, an integer
longer than Python reads, an error body echoing the key, a body that trickles in,
repeated historic rows, next links elsewhere, a code list padded with repeats.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import API_KEY, NOW, run_tap, tap_config_for
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_usajobs import historic
from tap_usajobs.streams import _JOBS_CONFORMER
from tap_usajobs.testing.historic import new_announcement
from tap_usajobs.testing.postings import new_posting

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

Answer = tuple[int, bytes]
PER_PAGE = 5
JOBS = ("jobs", "quarantine")


class Hostile:
    """Serves whatever ``answer(path, params)`` returns, and logs what it was asked."""

    def __init__(self, answer: Callable[[str, dict[str, str]], Answer]) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query))
                hostile.requests.append((url.path.lower(), params, dict(self.headers)))
                status, body = answer(url.path.lower(), params)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile() -> Iterator[Callable[[Callable[[str, dict[str, str]], Answer]], Hostile]]:
    """Start hostile servers; all stop when the test ends."""
    started: list[Hostile] = []

    def start(answer: Callable[[str, dict[str, str]], Answer]) -> Hostile:
        started.append(Hostile(answer))
        return started[-1]

    yield start
    for server in started:
        server.close()


def postings(count: int) -> list[dict[str, Any]]:
    return [
        new_posting(i, seed=11, now=NOW.replace(tzinfo=None), detail_kb=0) for i in range(count)
    ]


def search_pages(
    items: list[dict[str, Any]], *, count: object = None, pages: object = None
) -> Callable[[str, dict[str, str]], Answer]:
    """Answers Search with ``items`` paged PER_PAGE at a time, and the hints given."""

    def answer(path: str, params: dict[str, str]) -> Answer:
        page = int(params.get("Page", "1"))
        served = items[(page - 1) * PER_PAGE : page * PER_PAGE]
        body = {
            "SearchResult": {
                "SearchResultCount": len(served),
                "SearchResultCountAll": len(items) if count is None else count,
                "SearchResultItems": served,
                "UserArea": {
                    "NumberOfPages": str(-(-len(items) // PER_PAGE)) if pages is None else pages
                },
            }
        }
        assert path == "/api/search"
        return 200, json.dumps(body).encode()

    return answer


def config(server: Hostile, **overrides: Any) -> dict[str, Any]:
    return tap_config_for(
        server.url,
        results_per_page=PER_PAGE,
        full_scan_every_hours=0,
        max_retries=1,
        backoff_base_ms=1,
        request_timeout=5,
        **overrides,
    )


# --- counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hints",
    [
        pytest.param({"count": "¹²"}, id="superscript-count"),
        pytest.param({"pages": "³"}, id="superscript-pages"),
        pytest.param({"count": "9" * 5000}, id="5000-digit-count"),
        pytest.param({"count": 10**400}, id="count-past-float"),
        pytest.param({"count": -1}, id="negative-count"),
    ],
)
def test_counts_no_api_means_make_the_read_incomplete_not_a_crash(
    hostile: Any, hints: dict[str, Any]
) -> None:
    server = hostile(search_pages(postings(12), **hints))

    result, tap = run_tap(config(server, search_row_cap=0), *JOBS)

    assert len(result.records) == 12
    assert list(tap.sync_summary.incomplete) == ["keyword='data engineering'"]


@pytest.mark.parametrize("spelling", ["0{id}", "٨٠٠"], ids=["leading-zero", "arabic-digits"])
def test_a_control_number_spelled_twice_is_a_repeat_not_another_posting(
    hostile: Any, spelling: str
) -> None:
    items = postings(12)
    twin = json.loads(json.dumps(items[0]))
    twin["MatchedObjectId"] = spelling.format(id=items[0]["MatchedObjectId"])
    if not spelling.startswith("0"):  # digits only ASCII counts as: read from the URI
        twin["MatchedObjectDescriptor"]["PositionURI"] = items[0]["MatchedObjectDescriptor"][
            "PositionURI"
        ]
    server = hostile(search_pages([*items[:11], twin]))  # posting 11 is never served

    result, tap = run_tap(config(server), *JOBS)

    ids = [record["MatchedObjectId"] for record in result.records]
    assert len(ids) == len(set(ids)) == 11
    assert tap.sync_summary.incomplete, "a repeat stood in for an unread posting"
    assert not [m for m in result.messages if m["type"] == "ACTIVATE_VERSION"]


# --- one row's content --------------------------------------------------------------------------


def test_one_row_with_several_bad_values_of_a_field_does_not_refuse_its_page(
    hostile: Any,
) -> None:
    items = postings(5)
    items[0]["MatchedObjectDescriptor"]["PositionLocation"] = [{"Longitude": "N/A"}] * 3
    server = hostile(search_pages(items))

    result, tap = run_tap(config(server), *JOBS)

    assert len(result.records) == 5
    assert tap.sync_summary.incomplete == {}


def _nested(depth: int) -> Any:
    deep: Any = "bottom"
    for _ in range(depth):
        deep = [deep]
    return deep


def _too_deep_to_conform() -> int:
    """The least nesting (by hundreds) in Details that the Search conformer cannot read."""
    for depth in range(100, 5000, 100):
        try:
            _JOBS_CONFORMER({"UserArea": {"Details": {"Deep": _nested(depth)}}})
        except RecursionError:  # noqa: PERF203 - the error is the answer
            return depth
    pytest.fail("the conformer read 5,000 levels of nesting")


def test_deep_nesting_quarantines_the_row_and_a_long_integer_reads_as_text(
    hostile: Any,
) -> None:
    items = postings(5)
    # Deeper than the conformer goes, not than the JSON parser: the conformer's limit
    # depends on the Python (3.12 inlines comprehensions, so its frames are fewer).
    items[0]["MatchedObjectDescriptor"]["UserArea"]["Details"]["Deep"] = _nested(
        _too_deep_to_conform()
    )
    body = json.dumps(items[1]).replace('"RelevanceRank": 0', '"RelevanceRank": ' + "7" * 5000)
    items[1] = json.loads(body, parse_int=str)
    server = hostile(search_pages(items))

    result, tap = run_tap(config(server), *JOBS)

    assert [r["record_key"] for r in result.records_of("quarantine")] == [
        items[0]["MatchedObjectId"]
    ]
    (long_one,) = [r for r in result.records if r["MatchedObjectId"] == items[1]["MatchedObjectId"]]
    assert long_one["unreadable_values"] == {"/RelevanceRank": "7" * 5000}
    assert tap.sync_summary.quarantined == {"jobs": 1}


# --- transport ----------------------------------------------------------------------------------


def test_an_error_body_that_echoes_the_key_is_logged_without_it(
    hostile: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = hostile(lambda _path, _params: (400, f"bad key {API_KEY} for you".encode()))

    with pytest.raises(FatalAPIError) as failure:
        run_tap(config(server), *JOBS)

    assert API_KEY not in str(failure.value) + caplog.text
    assert "bad key *** for you" in str(failure.value)


def test_an_empty_search_answer_is_retried_not_parsed(hostile: Any) -> None:
    server = hostile(lambda _path, _params: (204, b""))

    with pytest.raises(RetriableAPIError, match="Empty answer"):
        run_tap(config(server), *JOBS)

    assert len(server.requests) == 2  # the first try and one retry


def test_a_body_that_trickles_in_is_cut_off_at_request_timeout() -> None:
    class Drip(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(Exception, match="did not arrive whole within request_timeout"):
            run_tap(
                tap_config_for(
                    f"http://127.0.0.1:{server.server_address[1]}",
                    request_timeout=1,
                    max_retries=0,
                ),
                *JOBS,
            )
    finally:
        server.shutdown()
        server.server_close()

    assert time.monotonic() - started < 5, "each read was short, but the whole was not"


def test_a_posting_dated_in_the_future_does_not_carry_the_bookmark_there(hostile: Any) -> None:
    items = postings(5)
    items[2]["MatchedObjectDescriptor"]["PublicationStartDate"] = "9999-12-31T00:00:00"
    server = hostile(search_pages(items))

    result, _ = run_tap(config(server), *JOBS)

    (partition,) = result.final_state["bookmarks"]["jobs"]["partitions"]
    assert datetime.fromisoformat(partition["replication_key_value"]).year < 9999


# --- historic and code lists --------------------------------------------------------------------


def announcements(count: int) -> list[dict[str, Any]]:
    rows = [
        new_announcement(i, seed=5, now=NOW.replace(tzinfo=None), max_age_days=20).row
        for i in range(count)
    ]
    return json.loads(json.dumps(rows))


def historic_pages(
    pages: list[list[dict[str, Any]]], total: int, links: list[str] | None = None
) -> Callable[[str, dict[str, str]], Answer]:
    def answer(path: str, params: dict[str, str]) -> Answer:
        index = int(params.get("continuationtoken", "0"))
        nexts = links or [
            f"{path}?continuationtoken={i + 1}" if i + 1 < len(pages) else ""
            for i in range(len(pages))
        ]
        body = {
            "paging": {"metadata": {"totalCount": total, "pageSize": 5}, "next": nexts[index]},
            "data": pages[index],
        }
        return 200, json.dumps(body).encode()

    return answer


@pytest.fixture
def month(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(historic, "utc_today", NOW.date)
    return {"start_date": "2026-11-01", "historic_end_date": "2026-11-30"}


def test_historic_pages_that_repeat_rows_cannot_add_up_to_the_count(
    hostile: Any, month: dict[str, str]
) -> None:
    rows = announcements(5)
    server = hostile(historic_pages([rows, rows], total=10))

    result, tap = run_tap(config(server, **month), "historic_jobs")

    assert len(result.records_of("historic_jobs")) == 5
    (reasons,) = tap.sync_summary.incomplete.values()
    assert "5 rows came twice" in reasons


@pytest.mark.parametrize(
    "link",
    ["api/historicjoa?continuationtoken=1", "@127.0.0.1:9/api/historicjoa?x=1", "http://[::1/x"],
)
def test_a_next_link_that_is_not_a_path_of_the_endpoint_is_not_followed(
    hostile: Any, month: dict[str, str], link: str
) -> None:
    rows = announcements(10)
    server = hostile(historic_pages([rows[:5], rows[5:]], total=10, links=[link, ""]))

    result, tap = run_tap(config(server, **month), "historic_jobs")

    assert len(server.requests) == 1
    assert len(result.records_of("historic_jobs")) == 5
    (reasons,) = tap.sync_summary.incomplete.values()
    assert "the API sent a next link that is not a path of this endpoint" in reasons


def test_a_historic_control_number_past_bigint_is_quarantined(
    hostile: Any, month: dict[str, str]
) -> None:
    rows = announcements(5)
    rows[0]["usajobsControlNumber"] = 10**20
    server = hostile(historic_pages([rows], total=5))

    result, _ = run_tap(config(server, **month), "historic_jobs", "quarantine")

    assert len(result.records_of("historic_jobs")) == 4
    assert [r["record_key"] for r in result.records_of("quarantine")] == [str(10**20)]


def test_a_code_list_padded_with_repeats_does_not_look_whole(hostile: Any) -> None:
    def answer(codes: list[str]) -> Callable[[str, dict[str, str]], Answer]:
        values = [{"Code": code, "Value": code, "IsDisabled": "No"} for code in codes]
        body = {"CodeList": [{"ValidValue": values, "id": "PayPlan"}]}
        return lambda _path, _params: (200, json.dumps(body).encode())

    first, _ = run_tap(config(hostile(answer(["AA", "AB", "AC", "AD"]))), "pay_plans")
    again = config(hostile(answer(["AA"] * 4)), code_list_refresh_days=0)  # read it again now
    second, tap = run_tap(again, "pay_plans", state=first.final_state)

    assert len(second.records_of("pay_plans")) == 1
    assert not [m for m in second.messages if m["type"] == "ACTIVATE_VERSION"]
    assert tap.sync_summary.incomplete == {"pay_plans": ["it shrank from 4 codes to 1"]}
