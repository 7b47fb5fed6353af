"""Fake USAJobs Search API for tests, demos and benchmarks (stdlib only).

Use ``FakeUsaJobsServer`` in-process, or run ``python -m tap_usajobs.testing.fake_api --help``.
It mimics the real API's auth headers, filters, paging, 500-row page limit and 10,000-row
query cap, and can inject faults (error statuses, truncated or short pages, slow answers,
dropped connections). Control endpoints under ``/_fake/`` need no key.

It can also lie the way a broken or hostile API could. ``POST /_fake/faults`` takes
``{"kind": "rewrite", ...}`` rules that rewrite Search pages (``count``, ``pages``,
``rows``, ``items``: "empty" or "page1", ``ignore_filters``; see ``_page_body``) and
``{"kind": "redirect", "location": URL}``. ``POST /_fake/postings`` takes raw edits of
what is served: ``{"mutate": {id: [edit]}}`` and ``{"mutate_all": [edit]}``, where an
edit sets (``value``), removes (``remove``) or reformats a date (``strftime``) at a JSON
Pointer ``path`` of the item (see ``_apply``). The request log says for each request
whether an ``Authorization-Key`` came along (never its value).

It also serves the public endpoints, which need no key: Historic JOA (``/api/historicjoa``
and ``/api/historicjoa/announcementtext``, see ``historic.py``) and the code lists
(``/api/codelist/<name>``, see ``code_lists.py``). Their control endpoints:

- ``GET /_fake/historic``: every historic row.
- ``POST /_fake/historic``: ``{"add": [{"positionOpenDate": "2026-03-02"}]}`` adds (late)
  announcements, ``{"finalize": true}`` makes every status final, ``{"set_status":
  {"<control number>": "Job canceled"}}`` sets one, and ``{"faults": [...]}`` queues
  one-shot faults: ``{"kind": "status", "status": 503}``, ``{"kind": "repeat_token"}``
  (a ``next`` link that repeats the token just used), ``{"kind": "short", "rows": 2}``
  (the last page of the next query lacks rows that ``totalCount`` still counts).
- ``GET /_fake/codelists``: every served list's codes; ``POST /_fake/codelists`` with
  ``{"list": "payplans", "remove": ["AA"], "add": [{...}]}`` edits one.
- ``GET /_fake/keyless-requests``: requests to the public endpoints, each with whether
  an ``Authorization-Key`` came along (never its value).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import math
import signal
import socket
import struct
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, final
from urllib.parse import parse_qsl, urlsplit

from .code_lists import CODE_LIST_NAMES, CodeListStore
from .historic import JOBS, TEXTS, HistoricStore
from .postings import generate_postings, new_posting

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

SEARCH_PATH = "/api/search"
HISTORIC_PATH = "/api/historicjoa"
ANNOUNCEMENT_TEXT_PATH = "/api/historicjoa/announcementtext"
CODE_LIST_PATH = "/api/codelist/"
DEFAULT_RESULTS_PER_PAGE = 250
MAX_RESULTS_PER_PAGE = 500
MAX_DATE_POSTED = 60
FAULT_KINDS = ("status", "truncate", "slow", "reset", "short", "rewrite", "redirect")
#: What a "rewrite" fault may change about a Search page: the hints it gives, the items
#: it serves, and whether the query's split filters are honoured (see _page_body).
REWRITES = frozenset({"count", "pages", "rows", "items", "ignore_filters"})
_REQUEST_LOG_SIZE = 100_000  # bounded so long benchmark runs do not grow without limit


@dataclass(frozen=True)
class FakeApiConfig:
    """Settings of one fake server; the defaults mirror the real API's limits."""

    host: str = "127.0.0.1"
    port: int = 0
    postings: int = 1200
    seed: int = 7
    api_key: str = "fake-key"
    row_cap: int = 10_000  # 0 disables the cap
    latency_ms: int = 0
    detail_kb: int = 3
    now: datetime | None = None  # naive UTC; None follows the clock
    faults: tuple[dict[str, Any], ...] = ()
    verbose: bool = False
    historic: int = 400  # historic announcements, opened over the last historic_days
    historic_days: int = 420
    historic_page_size: int = 500


@dataclass(frozen=True)
class _Query:
    """Parsed Search filters."""

    keywords: tuple[str, ...]
    posted_since: date | None
    organizations: frozenset[str]
    categories: frozenset[str]
    location: str


@dataclass(frozen=True)
class _Entry:
    """A posting plus what filtering and serving need, computed once."""

    key: int
    posting_id: str
    body: str  # pre-encoded (and the dict dropped): a page is a join, memory stays lean
    text: str
    published: date
    organizations: frozenset[str]
    categories: frozenset[str]
    locations: tuple[str, ...]

    @classmethod
    def of(cls, item: dict[str, Any]) -> _Entry:
        """Index one Search result item."""
        descriptor = item["MatchedObjectDescriptor"]
        details = descriptor["UserArea"]["Details"]
        names = [category["Name"] for category in descriptor["JobCategory"]]
        parts = details["OrganizationCodes"].split("/")
        return cls(
            key=int(item["MatchedObjectId"]),
            posting_id=item["MatchedObjectId"],
            body=json.dumps(item),
            text=" ".join([descriptor["PositionTitle"], *names, details["JobSummary"]]).lower(),
            published=date.fromisoformat(descriptor["PublicationStartDate"][:10]),
            # "DD/ARAF" answers to DD, ARAF and its agency AR, as the real code hierarchy does.
            organizations=frozenset(parts) | {part[:2] for part in parts},
            categories=frozenset(category["Code"] for category in descriptor["JobCategory"]),
            locations=tuple(
                place["LocationName"].lower() for place in descriptor["PositionLocation"]
            ),
        )


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: float) -> int:
    """Read an integer parameter within [low, high]; raise ValueError otherwise."""
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        msg = f"Invalid value for {name}: {raw!r}"
        raise ValueError(msg)
    return int(raw)


def _codes(raw: str | None) -> frozenset[str]:
    """Split a ';'-separated code list, as the API joins multiple values."""
    return frozenset(code.strip().upper() for code in (raw or "").split(";") if code.strip())


def _parse_query(params: dict[str, str], today: date) -> _Query:
    """Build the filters from lower-cased Search parameters; raise ValueError when invalid."""
    days = _int_param(params, "dateposted", -1, 0, MAX_DATE_POSTED)
    return _Query(
        keywords=tuple(params.get("keyword", "").lower().split()),
        posted_since=None if days < 0 else today - timedelta(days=days),
        organizations=_codes(params.get("organization")),
        categories=_codes(params.get("jobcategorycode")),
        location=params.get("locationname", "").strip().lower(),
    )


def _matches(entry: _Entry, query: _Query) -> bool:
    """Tell whether a posting passes every filter; /api/Search and /_fake/expected share it."""
    return (
        all(word in entry.text for word in query.keywords)
        and (query.posted_since is None or entry.published >= query.posted_since)
        and (not query.organizations or not query.organizations.isdisjoint(entry.organizations))
        and (not query.categories or not query.categories.isdisjoint(entry.categories))
        and (not query.location or any(query.location in place for place in entry.locations))
    )


def _fault(rule: object) -> dict[str, Any]:
    """Validate one fault rule and fill in its defaults; raise ValueError when malformed."""
    msg = f"a fault rule needs a kind in {FAULT_KINDS} and numeric fields: {rule!r}"
    if not isinstance(rule, dict) or rule.get("kind") not in FAULT_KINDS:
        raise ValueError(msg)
    checked = {"times": 1, "page": None, "status": 503, "retry_after": None, "seconds": 1.0, **rule}
    try:
        checked["times"] = int(checked["times"])
        checked["status"] = int(checked["status"])
        checked["seconds"] = float(checked["seconds"])
        checked["page"] = None if checked["page"] is None else int(checked["page"])
    except (TypeError, ValueError) as exc:
        raise ValueError(msg) from exc
    if checked["times"] < 1 or not 100 <= checked["status"] <= 599:
        raise ValueError(msg)
    if checked["kind"] == "rewrite" and not (REWRITES & checked.keys()):
        msg = f"a rewrite fault needs one of {sorted(REWRITES)}: {rule!r}"
        raise ValueError(msg)
    if checked["kind"] == "rewrite" and checked.get("items") not in (None, "empty", "page1"):
        msg = f'a rewrite fault\'s items is "empty" or "page1": {rule!r}'
        raise ValueError(msg)
    if checked["kind"] == "redirect" and not isinstance(checked.get("location"), str):
        msg = f"a redirect fault needs a location URL: {rule!r}"
        raise ValueError(msg)
    return checked


def _pointer(path: str) -> list[str]:
    """The parts of a JSON Pointer ("/a/0/b"), unescaped."""
    if not path.startswith("/"):
        msg = f"not a JSON Pointer: {path!r}"
        raise ValueError(msg)
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _apply(item: Any, operation: dict[str, Any]) -> None:
    """Apply one edit to a raw item: set a value, remove a key, or reformat a date.

    ``{"path": "/MatchedObjectDescriptor/ApplyURI", "value": "https://..."}`` sets;
    ``{"path": ..., "remove": true}`` removes; ``{"path": ..., "strftime": "%m/%d/%Y"}``
    rewrites an ISO date-time in another format, as a changed API would send it.
    """
    *parents, last = _pointer(str(operation["path"]))
    target = item
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if operation.get("remove"):
        del target[key]
    elif "strftime" in operation:
        moment = datetime.fromisoformat(str(target[key])[:19])
        target[key] = moment.strftime(str(operation["strftime"]))
    else:
        target[key] = operation["value"]


def _page_body(
    hits: list[_Entry], page: int, per_page: int, row_cap: int, fault: dict[str, Any]
) -> bytes:
    """Render one Search page; rows past row_cap are never served, as with the real API.

    A "short" fault drops the page's last row but still announces the full count. A
    "rewrite" fault lies the way a broken or hostile API could: ``count`` reports that
    many matches (and, as a consistent liar, the pages they would fill), ``pages`` a
    NumberOfPages of its own, ``rows`` serves at most that many items, and ``items``
    serves none ("empty") or page 1's ("page1").
    """
    visible = hits[:row_cap] if row_cap else hits
    items = visible[(page - 1) * per_page : page * per_page]
    page_count = len(items)  # what SearchResultCount says, whatever is then left out
    rewrite = fault if fault["kind"] == "rewrite" else {}
    if fault["kind"] == "short":
        items = items[:-1]
    if rewrite.get("items") == "empty":
        items = []
    elif rewrite.get("items") == "page1":
        items = visible[:per_page]
    if rewrite.get("rows") is not None:
        items = items[: int(rewrite["rows"])]
    count = int(rewrite.get("count", len(hits)))
    reachable = min(count, row_cap) if row_cap else count
    pages = rewrite.get("pages", str(math.ceil(reachable / per_page)))
    envelope = json.dumps(
        {
            "LanguageCode": "EN",
            "SearchParameters": {},
            "SearchResult": {
                "SearchResultCount": page_count,
                "SearchResultCountAll": count,
                "SearchResultItems": [],
                "UserArea": {"NumberOfPages": pages, "IsRadialSearch": False},
            },
        }
    )
    served = ", ".join(entry.body for entry in items)
    return envelope.replace('"SearchResultItems": []', f'"SearchResultItems": [{served}]').encode()


class _State:
    """Postings, pending faults and the request log, shared by handler threads."""

    def __init__(self, config: FakeApiConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        items = generate_postings(
            config.postings, seed=config.seed, now=self.now(), detail_kb=config.detail_kb
        )
        # Replaced, never mutated, so searches can filter a snapshot outside the lock.
        self._entries = sorted(map(_Entry.of, items), key=lambda entry: entry.key)
        self._next_index = config.postings
        self._faults = [_fault(rule) for rule in config.faults]
        self.historic = HistoricStore(
            config.historic,
            seed=config.seed,
            now=self.now(),
            max_age_days=config.historic_days,
            page_size=config.historic_page_size,
        )
        self.code_lists = CodeListStore()
        self._keyless_requests: deque[dict[str, Any]] = deque(maxlen=_REQUEST_LOG_SIZE)
        self._search_requests = 0
        self._by_status: Counter[str] = Counter()
        self._requests: deque[dict[str, Any]] = deque(maxlen=_REQUEST_LOG_SIZE)

    def now(self) -> datetime:
        """Return the fake's notion of now (naive UTC, like the API's dates)."""
        return self.config.now or datetime.now(timezone.utc).replace(tzinfo=None)

    def search(self, query: _Query) -> list[_Entry]:
        """Return every matching posting, ordered by numeric MatchedObjectId."""
        with self._lock:
            entries = self._entries
        return [entry for entry in entries if _matches(entry, query)]

    def postings(self) -> list[_Entry]:
        """Return all current postings."""
        with self._lock:
            return self._entries

    def take_fault(self, page: int) -> dict[str, Any] | None:
        """Consume one use of the first pending rule that applies to this page."""
        with self._lock:
            for rule in self._faults:
                if rule["page"] in (None, page):
                    rule["times"] -= 1
                    if rule["times"] == 0:
                        self._faults.remove(rule)
                    return dict(rule)
        return None

    def add_faults(self, rules: Iterable[object]) -> int:
        """Queue more fault rules; return how many are pending."""
        checked = [_fault(rule) for rule in rules]
        with self._lock:
            self._faults.extend(checked)
            return len(self._faults)

    def clear_faults(self) -> None:
        """Drop every pending fault rule."""
        with self._lock:
            self._faults.clear()

    def record(
        self,
        path: str,
        params: dict[str, str],
        status: int | None,
        fault: str | None,
        *,
        key_sent: bool,
    ) -> None:
        """Log one API request: never its headers, only whether a key came along.

        Status None means the socket was dropped.
        """
        with self._lock:
            if path.rstrip("/").lower() == SEARCH_PATH:
                self._search_requests += 1
            if status is not None:
                self._by_status[str(status)] += 1
            entry = {
                "path": path,
                "params": params,
                "status": status,
                "fault": fault,
                "key_sent": key_sent,
            }
            self._requests.append(entry)

    def stats(self) -> dict[str, Any]:
        """Return request counters and the request log."""
        with self._lock:
            return {
                "search_requests": self._search_requests,
                "requests_by_status": dict(self._by_status),
                "requests": list(self._requests),
                "pending_faults": len(self._faults),
                "postings": len(self._entries),
            }

    def reset_stats(self) -> None:
        """Zero the counters and empty the request logs."""
        with self._lock:
            self._search_requests = 0
            self._by_status.clear()
            self._requests.clear()
            self._keyless_requests.clear()

    def record_keyless(
        self, path: str, params: dict[str, str], status: int, *, key_sent: bool
    ) -> None:
        """Log a request to a public endpoint and whether a key came along (not its value)."""
        with self._lock:
            self._keyless_requests.append(
                {"path": path, "params": params, "status": status, "key_sent": key_sent}
            )

    def keyless_requests(self) -> list[dict[str, Any]]:
        """The public endpoints' request log."""
        with self._lock:
            return list(self._keyless_requests)

    def add(self, count: int) -> list[str]:
        """Publish ``count`` postings dated now; every other one is a data-engineering job."""
        config = self.config
        with self._lock:
            start, self._next_index = self._next_index, self._next_index + count
            make = functools.partial(
                new_posting, seed=config.seed, now=self.now(), detail_kb=config.detail_kb
            )
            fresh = [
                _Entry.of(make(start + i, fresh="other" if i % 2 else "data")) for i in range(count)
            ]
            self._entries = sorted([*self._entries, *fresh], key=lambda entry: entry.key)
        return [entry.posting_id for entry in fresh]

    def update(self, changes: dict[str, dict[str, Any]]) -> list[str]:
        """Edit descriptor fields of postings ({id: {field: value}}); return the ids changed.

        An edit is what USAJobs does when an agency extends a close date or changes pay:
        same control number, new values.
        """
        with self._lock:
            updated = []
            entries = []
            for entry in self._entries:
                fields = changes.get(entry.posting_id)
                if fields:
                    item = json.loads(entry.body)
                    item["MatchedObjectDescriptor"].update(fields)
                    entry = _Entry.of(item)  # noqa: PLW2901  # the edited posting replaces it
                    updated.append(entry.posting_id)
                entries.append(entry)
            self._entries = entries
        return updated

    def mutate(
        self, edits: dict[str, list[dict[str, Any]]], every: list[dict[str, Any]]
    ) -> list[str]:
        """Edit the raw items as served: ``edits`` per id, ``every`` on every posting.

        Filtering still uses what the posting was (its key, text and codes); only what is
        served changes, so a test can send content the real API might, malformed or not.
        """
        with self._lock:
            changed, entries = [], []
            for entry in self._entries:
                operations = [*every, *edits.get(entry.posting_id, [])]
                if operations:
                    item = json.loads(entry.body)
                    for operation in operations:
                        _apply(item, operation)
                    entry = dataclasses.replace(entry, body=json.dumps(item))  # noqa: PLW2901
                    changed.append(entry.posting_id)
                entries.append(entry)
            self._entries = entries
        return changed

    def remove(self, ids: Iterable[object]) -> list[str]:
        """Withdraw postings by MatchedObjectId; return the ids that existed."""
        wanted = {str(posting_id) for posting_id in ids}
        with self._lock:
            gone = wanted & {entry.posting_id for entry in self._entries}
            self._entries = [e for e in self._entries if e.posting_id not in gone]
        return sorted(gone, key=int)


class _Server(ThreadingHTTPServer):
    """HTTP server carrying the shared state for its handlers."""

    daemon_threads = True  # idle keep-alive connections must not block shutdown

    def __init__(self, state: _State) -> None:
        super().__init__((state.config.host, state.config.port), _Handler)
        self.state = state

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Print tracebacks, except for clients that hung up (timeouts, retries, resets)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the Search API and the /_fake/ control endpoints."""

    protocol_version = "HTTP/1.1"  # keep-alive with Content-Length, as clients pool connections
    server_version = "FakeUSAJobs/1.0"
    server: _Server
    _status: int | None = None  # what was answered, for the request log
    _fault_kind: str | None = None
    _body = b""
    _ROUTES: ClassVar[dict[tuple[str, str], str]] = {
        ("GET", SEARCH_PATH): "_search",
        ("GET", "/_fake/stats"): "_stats",
        ("POST", "/_fake/reset-stats"): "_reset_stats",
        ("POST", "/_fake/faults"): "_add_faults",
        ("DELETE", "/_fake/faults"): "_clear_faults",
        ("GET", "/_fake/expected"): "_expected",
        ("GET", "/_fake/postings"): "_list_postings",
        ("POST", "/_fake/postings"): "_change_postings",
        ("GET", HISTORIC_PATH): "_historic_joa",
        ("GET", ANNOUNCEMENT_TEXT_PATH): "_announcement_text",
        **{("GET", CODE_LIST_PATH + name): "_code_list" for name in CODE_LIST_NAMES},
        ("GET", "/_fake/historic"): "_list_historic",
        ("POST", "/_fake/historic"): "_change_historic",
        ("GET", "/_fake/codelists"): "_list_code_lists",
        ("POST", "/_fake/codelists"): "_change_code_list",
        ("GET", "/_fake/keyless-requests"): "_keyless_requests",
    }

    def do_GET(self) -> None:
        """Handle GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Handle POST."""
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        """Log the request line only with --verbose; headers (the key) are never logged."""
        if self.server.state.config.verbose:
            super().log_message(format, *args)

    def _dispatch(self, method: str) -> None:
        """Route one request and log it unless it is a control call."""
        url = urlsplit(self.path)
        path = url.path.rstrip("/").lower()
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        self._status = self._fault_kind = None  # per request: a keep-alive handler serves many
        self._logged = path.startswith("/_fake/")  # control calls are never logged
        self._log_as = (url.path, params)
        # Always drain the body, or its bytes would be read as the next keep-alive request.
        self._body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        handler = self._ROUTES.get((method, path))
        try:
            if handler:
                getattr(self, handler)(params)
            elif any(path == known for _, known in self._ROUTES):
                self._send_json(HTTPStatus.METHOD_NOT_ALLOWED, {"message": "Method not allowed."})
            else:
                self._send_json(HTTPStatus.NOT_FOUND, {"message": "Not found."})
        finally:  # also when the client hung up before any answer (status None)
            self._log()

    def _log(self) -> None:
        """Record this request once, before its answer leaves.

        A client that reads the answer and then asks for /_fake/stats must find the
        request there; recording after the write raced with that second call.
        """
        if not self._logged:
            self._logged = True
            self.server.state.record(
                *self._log_as,
                self._status,
                self._fault_kind,
                key_sent=self.headers.get("Authorization-Key") is not None,
            )

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Write a JSON response with an exact Content-Length."""
        self._status = status
        self._log()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(
        self, status: int, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        """Encode and send a JSON payload."""
        self._send(status, json.dumps(payload).encode(), headers)

    def _read_json(self) -> Any:
        """Decode the request body; raise ValueError when it is not JSON."""
        return json.loads(self._body or b"null")

    def _search_args(self, params: dict[str, str]) -> tuple[_Query, int, int] | None:
        """Check headers and parameters like the real API; answer and return None on error."""
        if self.headers.get("Authorization-Key") != self.server.state.config.api_key:
            self._send_json(HTTPStatus.UNAUTHORIZED, {"message": "Invalid Authorization-Key."})
            return None
        if not (self.headers.get("User-Agent") or "").strip():
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": "User-Agent is required."})
            return None
        lowered = {name.lower(): value for name, value in params.items()}
        try:
            query = _parse_query(lowered, self.server.state.now().date())
            page = _int_param(lowered, "page", 1, 1, math.inf)
            per_page = _int_param(lowered, "resultsperpage", DEFAULT_RESULTS_PER_PAGE, 1, math.inf)
        except ValueError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": str(exc)})
            return None
        return query, page, min(per_page, MAX_RESULTS_PER_PAGE)

    def _search(self, params: dict[str, str]) -> None:
        """Serve GET /api/Search, applying latency and the first matching fault."""
        args = self._search_args(params)
        if args is None:
            return
        query, page, per_page = args
        state = self.server.state
        time.sleep(state.config.latency_ms / 1000)
        fault = state.take_fault(page) or {"kind": None}
        self._fault_kind = fault["kind"]
        if fault["kind"] == "status":
            wait = fault["retry_after"]
            headers = {} if wait is None else {"Retry-After": str(wait)}
            self._send_json(fault["status"], {"message": "Injected fault."}, headers)
            return
        if fault["kind"] == "reset":
            # Linger 0 turns the close into a TCP reset: the client gets no answer at all.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if fault["kind"] == "redirect":
            self._send(HTTPStatus.FOUND, b"", {"Location": fault["location"]})
            return
        if fault["kind"] == "slow":
            time.sleep(fault["seconds"])
        if fault.get("ignore_filters"):
            query = dataclasses.replace(query, organizations=frozenset(), categories=frozenset())
        hits = state.search(query)
        body = _page_body(hits, page, per_page, state.config.row_cap, fault)
        self._send(HTTPStatus.OK, body[: len(body) // 2] if fault["kind"] == "truncate" else body)

    def _public(self, params: dict[str, str], status: int, body: bytes) -> None:
        """Answer a request to a public endpoint and log whether it carried a key."""
        # Small answers in two writes (headers, body) would otherwise wait ~40 ms each
        # for the client's delayed ACK; only these endpoints' connections are changed.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send(status, body)
        self.server.state.record_keyless(
            urlsplit(self.path).path,
            params,
            status,
            key_sent=self.headers.get("Authorization-Key") is not None,
        )

    def _historic_joa(self, params: dict[str, str]) -> None:
        """Serve GET /api/historicjoa."""
        path = urlsplit(self.path).path
        self._public(params, *self.server.state.historic.page(JOBS, path, params))

    def _announcement_text(self, params: dict[str, str]) -> None:
        """Serve GET /api/historicjoa/announcementtext."""
        path = urlsplit(self.path).path
        self._public(params, *self.server.state.historic.page(TEXTS, path, params))

    def _code_list(self, params: dict[str, str]) -> None:
        """Serve GET /api/codelist/<name>."""
        state = self.server.state
        name = urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1].lower()
        self._public(params, HTTPStatus.OK, state.code_lists.response(name, state.now()))

    def _list_historic(self, _params: dict[str, str]) -> None:
        """Serve GET /_fake/historic."""
        rows = self.server.state.historic.rows()
        self._send_json(HTTPStatus.OK, {"count": len(rows), "items": rows})

    def _change_historic(self, _params: dict[str, str]) -> None:
        """Serve POST /_fake/historic (see the module docstring)."""
        try:
            answer = self.server.state.historic.change(dict(self._read_json()))
        except (KeyError, TypeError, ValueError) as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": f"Bad change: {exc!r}"})
            return
        self._send_json(HTTPStatus.OK, answer)

    def _list_code_lists(self, _params: dict[str, str]) -> None:
        """Serve GET /_fake/codelists."""
        self._send_json(HTTPStatus.OK, self.server.state.code_lists.codes())

    def _change_code_list(self, _params: dict[str, str]) -> None:
        """Serve POST /_fake/codelists with {"list": name, "remove": [codes], "add": [...]}."""
        try:
            change = self._read_json()
            answer = self.server.state.code_lists.change(
                str(change["list"]), list(change.get("remove", [])), list(change.get("add", []))
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": f"Bad change: {exc!r}"})
            return
        self._send_json(HTTPStatus.OK, answer)

    def _keyless_requests(self, _params: dict[str, str]) -> None:
        """Serve GET /_fake/keyless-requests."""
        self._send_json(HTTPStatus.OK, {"requests": self.server.state.keyless_requests()})

    def _stats(self, _params: dict[str, str]) -> None:
        """Serve GET /_fake/stats."""
        self._send_json(HTTPStatus.OK, self.server.state.stats())

    def _reset_stats(self, _params: dict[str, str]) -> None:
        """Serve POST /_fake/reset-stats."""
        self.server.state.reset_stats()
        self._send_json(HTTPStatus.OK, {"ok": True})

    def _add_faults(self, _params: dict[str, str]) -> None:
        """Serve POST /_fake/faults with a rule or a list of rules."""
        try:
            rules = self._read_json()
            pending = self.server.state.add_faults(rules if isinstance(rules, list) else [rules])
        except ValueError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": str(exc)})
            return
        self._send_json(HTTPStatus.OK, {"pending_faults": pending})

    def _clear_faults(self, _params: dict[str, str]) -> None:
        """Serve DELETE /_fake/faults."""
        self.server.state.clear_faults()
        self._send_json(HTTPStatus.OK, {"pending_faults": 0})

    def _expected(self, params: dict[str, str]) -> None:
        """Serve GET /_fake/expected: every id a query matches, ignoring the row cap."""
        lowered = {name.lower(): value for name, value in params.items()}
        try:
            query = _parse_query(lowered, self.server.state.now().date())
        except ValueError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": str(exc)})
            return
        ids = [entry.posting_id for entry in self.server.state.search(query)]
        self._send_json(HTTPStatus.OK, {"count": len(ids), "ids": ids})

    def _list_postings(self, _params: dict[str, str]) -> None:
        """Serve GET /_fake/postings."""
        entries = self.server.state.postings()
        body = f'{{"count": {len(entries)}, "items": [{", ".join(e.body for e in entries)}]}}'
        self._send(HTTPStatus.OK, body.encode())

    def _change_postings(self, _params: dict[str, str]) -> None:
        """Serve POST /_fake/postings.

        ``{"add": k}``, ``{"remove": [ids]}``, ``{"update": {id: {field: value}}}`` (the
        descriptor's fields), and raw edits as ``_apply`` reads them: ``{"mutate": {id:
        [edit, ...]}}`` per posting, ``{"mutate_all": [edit, ...]}`` on every posting.
        """
        try:
            change = self._read_json()
            count, ids = int(change.get("add", 0)), list(change.get("remove", []))
            edits = {str(key): dict(value) for key, value in change.get("update", {}).items()}
            mutations = {str(key): list(ops) for key, ops in change.get("mutate", {}).items()}
            every = list(change.get("mutate_all", []))
        except (AttributeError, TypeError, ValueError):
            self._send_json(
                HTTPStatus.BAD_REQUEST,
                {
                    "message": 'Expected {"add": k, "remove": [ids], "update": {id: {...}}, '
                    '"mutate": {id: [edit]}, "mutate_all": [edit]}.'
                },
            )
            return
        state = self.server.state
        added, removed = state.add(max(count, 0)), state.remove(ids)
        updated = state.update(edits)
        try:
            mutated = state.mutate(mutations, every) if mutations or every else []
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": f"Bad edit: {exc!r}"})
            return
        self._send_json(
            HTTPStatus.OK,
            {"added": added, "removed": removed, "updated": updated, "mutated": mutated},
        )


@final  # so __enter__ can name the class (typing.Self needs Python 3.11)
class FakeUsaJobsServer:
    """The fake API in a background thread: ``with FakeUsaJobsServer(config) as api: api.url``."""

    def __init__(self, config: FakeApiConfig | None = None) -> None:
        """Generate the postings; nothing listens until start()."""
        self.config = config or FakeApiConfig()
        self._state = _State(self.config)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """Return the bound port (useful with port 0)."""
        if self._httpd is None:
            msg = "the fake API is not running"
            raise RuntimeError(msg)
        return self._httpd.server_port

    @property
    def url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:8080."""
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> FakeUsaJobsServer:
        """Bind and serve from a daemon thread."""
        self._httpd = _Server(self._state)
        # A short poll interval keeps stop() fast; serve_forever only checks for shutdown then.
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, name="fake-usajobs-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> FakeUsaJobsServer:
        """Start the server."""
        return self.start()

    def __exit__(self, *_exc_info: object) -> None:
        """Stop the server."""
        self.stop()


class _Stopped(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the SIGTERM/SIGINT handler to leave the serving loop."""


def _raise_stopped(_signum: int, _frame: object) -> None:
    """Stop serving; raising is signal-safe where Event.set() could deadlock on its lock."""
    raise _Stopped


def _now_arg(text: str) -> datetime:
    """Parse --now as ISO 8601; aware times are converted to naive UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _fault_arg(text: str) -> list[dict[str, Any]]:
    """Parse one --fault value: a JSON rule or list of rules."""
    try:
        rules = json.loads(text)
        return [_fault(rule) for rule in (rules if isinstance(rules, list) else [rules])]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m tap_usajobs.testing.fake_api",
        description="Serve a fake USAJobs Search API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--postings", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--api-key", default="fake-key")
    parser.add_argument("--row-cap", type=int, default=10_000, help="0 = no cap")
    parser.add_argument("--latency-ms", type=int, default=0, help="sleep per Search request")
    parser.add_argument("--detail-kb", type=int, default=3, help="approximate posting size")
    parser.add_argument("--now", type=_now_arg, help="fixed clock (default: UTC now)")
    parser.add_argument("--port-file", type=Path, help="write the bound port here")
    fault_help = "JSON fault rule or list of rules (repeatable)"
    parser.add_argument(
        "--fault", dest="faults", type=_fault_arg, action="extend", metavar="JSON", help=fault_help
    )
    parser.add_argument("--verbose", action="store_true", help="log request lines to stderr")
    parser.add_argument("--historic", type=int, default=400, help="historic announcements")
    parser.add_argument(
        "--historic-days", type=int, default=420, help="how far back historic announcements open"
    )
    parser.add_argument(
        "--historic-page-size", type=int, default=500, help="rows per Historic JOA page"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT."""
    # Option names match FakeApiConfig fields, except --port-file which is the CLI's own.
    options = vars(_parser().parse_args(argv))
    port_file: Path | None = options.pop("port_file")
    config = FakeApiConfig(**{**options, "faults": tuple(options["faults"] or ())})
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stopped)
    with contextlib.suppress(_Stopped), FakeUsaJobsServer(config) as server:
        if port_file:
            partial = port_file.with_name(port_file.name + ".tmp")
            partial.write_text(f"{server.port}\n")
            partial.replace(port_file)  # atomic, so readers never see a half-written port
        # Announced after the port file, so a reader of this line can rely on that file too.
        print(f"fake USAJobs API listening on {server.url}", flush=True)
        while True:
            time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
