"""Stream definitions for tap-usajobs."""

from __future__ import annotations

import re
import sys
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property

from singer_sdk.exceptions import FatalAPIError
from singer_sdk.helpers._state import reset_state_progress_markers
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_usajobs import schemas
from tap_usajobs.client import UsaJobsStream, payload
from tap_usajobs.conform import KEY_REPAIRED, UNREADABLE_VALUES, Problem, SchemaConformer
from tap_usajobs.normalize import hoist_search_item
from tap_usajobs.search import SPLIT_CODE_LISTS, PageToken, QueryReader, SearchPage
from tap_usajobs.sightings import HeldStream, KeywordMatchesStream, ScansStream
from tap_usajobs.summary import QueryCount

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import requests
    from singer_sdk.helpers.types import Context

_Held = t.TypeVar("_Held", bound=HeldStream)
#: The widest window ``DatePosted`` accepts, in days.
MAX_DATE_POSTED_DAYS = 60
#: Stream-state key recording when the last complete full scan started.
LAST_FULL_SCAN_KEY = "last_full_scan_started_at"
#: A control number: ASCII digits that fit PostgreSQL's bigint.
_CONTROL_NUMBER = re.compile(r"^[0-9]{1,18}$")
#: The control number at the end of a posting's URI (".../GetJob/ViewDetails/800000123").
_URI_CONTROL_NUMBER = re.compile(r"/([0-9]{1,18})/?$")


def fetch_codes(stream: UsaJobsStream, name: str) -> list[str]:
    """Every code of a USAJobs code list (disabled ones too: old postings carry them).

    Code lists need no key, so the key is not sent.
    """
    url = f"{stream.url_base}/api/codelist/{name}"
    response = stream.requests_session.get(
        url,
        headers={"User-Agent": stream.config["user_agent"], "Accept": "application/json"},
        timeout=stream.timeout,
    )
    if not response.ok:
        msg = (
            f"Could not read code list {name!r} to split a capped query: "
            f"HTTP {response.status_code}"
        )
        raise FatalAPIError(msg)
    try:
        lists = payload(response).get("CodeList") or []
        codes = [value["Code"] for entry in lists for value in entry.get("ValidValue", [])]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        msg = f"Could not read code list {name!r} to split a capped query: {exc!r}"
        raise FatalAPIError(msg) from exc
    return sorted(dict.fromkeys(str(code) for code in codes if code))


@dataclass
class Scan:
    """One run's pass over the stream's queries."""

    started_at: datetime
    full: bool
    complete: bool = True
    partitions_done: int = 0
    #: Postings emitted so far: each is emitted once per run, whichever keywords match it.
    emitted: set[str] = field(default_factory=set)

    @property
    def version(self) -> int:
        """The table version records of a full scan carry: its start in milliseconds."""
        return int(self.started_at.timestamp() * 1000)


def date_posted_days(since: datetime, today: datetime) -> int | None:
    """Days to pass as ``DatePosted`` to cover postings since ``since``.

    None means the window is wider than the API allows, so the query must not be
    narrowed at all.
    """
    days = max(0, (today.date() - since.date()).days)
    return days if days <= MAX_DATE_POSTED_DAYS else None


class SearchJobsStream(UsaJobsStream):
    """Open job postings from ``GET /api/Search``, one partition per keyword."""

    name = "jobs"
    path = "/api/Search"
    primary_keys = ("MatchedObjectId",)
    replication_key = "PublicationStartDate"
    # Search results come in relevance order, so the bookmark is only final once a
    # partition is done; the SDK then never saves a bookmark past unread pages.
    is_sorted = False
    state_partitioning_keys = ("keyword",)
    schema = schemas.JOBS.to_dict()
    # The stream's SchemaConformer already gives every field its schema type, so the SDK
    # only needs to drop unknown top-level keys; walking every nested value again cost
    # ~40% of a sync's CPU.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """Set up the per-partition ``DatePosted`` windows."""
        super().__init__(*args, **kwargs)
        # Decided once per partition so that every page of a query uses the same filter.
        self._windows: dict[str | None, int | None] = {}
        self._split_codes: dict[str, list[str]] = {}

    @override
    def query_partitions(self) -> list[dict[str, t.Any]]:
        """One query per keyword; an empty list means one unfiltered query."""
        keywords = self.config.get("keywords") or [None]
        return [{"keyword": keyword} for keyword in dict.fromkeys(keywords)]

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Every posting of the partition's query, each once, even past the row cap.

        A query the API would cut off at ``search_row_cap`` rows is split into narrower
        queries (search.py); postings that appear in several of them (a posting can carry
        several series), or that an earlier keyword's query returned, are emitted once. A
        query not proven read whole keeps its old bookmark and makes the scan incomplete.
        """
        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)
            reader = QueryReader(self, context, request_counter)
            yield from self._once_per_run(reader.read(), context)
            label = self.label(context)
            self.logger.info(
                "%s: read %d postings in %d requests.",
                label,
                len(reader.seen) + reader.quarantined,
                reader.requests,
            )
            if not reader.complete:
                self.scan.complete = False
                self.sync_summary.mark_incomplete(label, reader.problems)
                self.logger.warning(
                    "%s was not read whole, so its bookmark stays and nothing is closed: %s.",
                    label,
                    "; ".join(reader.problems),
                )
                # Every record of the partition is processed by now: drop what they
                # would have advanced the bookmark to.
                reset_state_progress_markers(self.get_context_state(context))
            self._keep_bookmark_in_the_past(context)
            self.sync_summary.queries[label] = QueryCount(
                reported=reader.reported_total or 0,
                full_scan=self.scan.full,
                complete=reader.complete,
            )

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The partition's postings; after the last partition of a full scan, close the rest.

        A full scan that read every query completely sends ACTIVATE_VERSION, so that
        target-postgres soft-deletes (``_sdc_deleted_at``) the postings it did not see
        again: they left the search results. Nothing is closed after an incremental run,
        a short read, a failure, or on a shard, which sees only some of the queries.
        """
        if self.partitions == []:
            # A shard that owns no keyword: the SDK would still sync once without a
            # context, which would mean an unfiltered query. There is nothing to do.
            return
        scan = self.scan
        yield from super().get_records(context)
        # Every record of the partition is written and counted by now, so its bookmark is
        # final: send it at once (the SDK would wait for the stream's end). A later
        # keyword's failure then costs only that keyword, for any target.
        self._finalize_state(self.get_context_state(context))
        self._write_state_message()
        scan.partitions_done += 1
        if scan.partitions_done < len(self.partitions or [{}]):
            return
        closes_unseen = self._close_unseen(scan)
        self._held(ScansStream).hold(
            {
                "scan_version": scan.version,
                "started_at": scan.started_at.isoformat(),
                "finished_at": datetime.now(timezone.utc).isoformat(),
                "full_scan": scan.full,
                "complete": scan.complete,
                "closes_unseen": closes_unseen,
                "postings": len(scan.emitted),
            }
        )

    def _close_unseen(self, scan: Scan) -> bool:
        """After a full scan's last query: close what it did not see, if it proved that."""
        if not scan.full:
            return False
        if not scan.complete:
            self.logger.warning(
                "Full scan was incomplete: no posting is marked closed, and the next run "
                "scans in full again."
            )
            return False
        self.stream_state[LAST_FULL_SCAN_KEY] = scan.started_at.isoformat()
        if int(self.config["shard_count"]) > 1:
            self.logger.info("Sharded run: closing postings is left to unsharded runs.")
            return False
        # The SDK's own helper, so stream maps' aliases get the message too.
        self._write_activate_version_message(scan.version)
        return True

    def _once_per_run(
        self, records: Iterable[dict[str, t.Any]], context: Context | None
    ) -> Iterator[dict[str, t.Any]]:
        """Each posting the first time this run reads it; every match is noted.

        A posting an earlier keyword's query returned was emitted then. It still dates
        this keyword's query, so it moves this partition's bookmark as an emitted one
        would; which keywords matched it goes to the ``jobs_keywords`` stream.
        """
        scan = self.scan
        keyword = (context or {}).get("keyword")
        matches = self._held(KeywordMatchesStream)
        note_matches = bool(keyword) and matches.selected  # once, not per posting
        for record in records:
            control_number = record["MatchedObjectId"]
            if note_matches:
                matches.hold(
                    {
                        "MatchedObjectId": control_number,
                        "keyword": keyword,
                        "scan_version": scan.version,
                    }
                )
            if control_number in scan.emitted:
                self._increment_stream_state(record, context=context)
                continue
            scan.emitted.add(control_number)
            record["scan_version"] = scan.version
            yield record

    def _held(self, kind: type[_Held]) -> _Held:
        """The tap's stream of that kind, which writes what it holds after this one."""
        return t.cast("_Held", self._tap.streams[kind.name])

    def _keep_bookmark_in_the_past(self, context: Context | None) -> None:
        """A posting dated in the future must not carry the bookmark past today.

        Later runs ask for postings since the bookmark; one posting dated 9999 would
        leave every incremental run asking for nothing.
        """
        markers = self.get_context_state(context).get("progress_markers") or {}
        value = markers.get("replication_key_value")
        now = datetime.now(timezone.utc)
        if isinstance(value, str) and value > now.isoformat():
            self.logger.warning(
                "%s: the newest posting is dated %s, in the future; the bookmark stops at now.",
                self.label(context),
                value,
            )
            markers["replication_key_value"] = now.isoformat()

    @cached_property
    def scan(self) -> Scan:
        """This run's scan: full (every page, closes what is gone) or incremental."""
        now = datetime.now(timezone.utc)
        every = int(self.config["full_scan_every_hours"])
        last = self.stream_state.get(LAST_FULL_SCAN_KEY)
        if every == 0:
            full = True
        elif last:
            full = now - datetime.fromisoformat(last) >= timedelta(hours=every)
        else:
            # A first run is a full scan unless start_date narrows it on purpose.
            full = not self.config.get("start_date")
        scan = Scan(started_at=now, full=full)
        if full:
            # Records carry the scan's table version; ACTIVATE_VERSION retires the rest.
            self._stream_version = scan.version
        self.logger.info(
            "%s scan of %s (last full scan: %s).",
            "Full" if full else "Incremental",
            self.name,
            last or "never",
        )
        return scan

    def fetch_page(self, context: Context | None, page: SearchPage) -> requests.Response:
        """One Search page, with the SDK's auth, retries, metrics and error mapping."""
        prepared = self._prepare_request(context=context, page=PageToken(page))
        response = self.send(prepared, context)
        self.update_sync_costs(prepared, response, context)
        return response

    def split_values(self, parameter: str) -> list[str]:
        """Codes a Search filter accepts, from the matching USAJobs code list."""
        if parameter not in self._split_codes:
            self._split_codes[parameter] = fetch_codes(self, SPLIT_CODE_LISTS[parameter])
        return self._split_codes[parameter]

    @override
    def get_url_params(
        self,
        context: Context | None,
        next_page_token: SearchPage | int | None,
    ) -> dict[str, t.Any]:
        """Filters from config, the partition's keyword, the incremental window, paging."""
        page = (
            next_page_token
            if isinstance(next_page_token, SearchPage)
            else SearchPage(next_page_token or 1)
        )
        params: dict[str, t.Any] = dict(self.config.get("search_params") or {})
        params.update(page.filters)
        keyword = (context or {}).get("keyword")
        if keyword:
            params["Keyword"] = keyword
        days = self._date_posted(context)
        if days is not None:
            params["DatePosted"] = days
        params["ResultsPerPage"] = int(self.config["results_per_page"])
        params["Page"] = page.number
        return params

    def _date_posted(self, context: Context | None) -> int | None:
        if self.scan.full:
            return None
        keyword = (context or {}).get("keyword")
        if keyword not in self._windows:
            self._windows[keyword] = self._compute_window(context)
        return self._windows[keyword]

    def _compute_window(self, context: Context | None) -> int | None:
        start = self.get_starting_timestamp(context)
        if start is None:
            return None
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        since = start - timedelta(days=float(self.config["lookback_days"]))
        days = date_posted_days(since, datetime.now(timezone.utc))
        if days is None:
            self.logger.info(
                "%s: last bookmark %s is older than %d days; scanning in full.",
                self.label(context),
                start.isoformat(),
                MAX_DATE_POSTED_DAYS,
            )
        else:
            self.logger.info(
                "%s: fetching postings of the last %d days (DatePosted).",
                self.label(context),
                days,
            )
        return days

    def label(self, context: Context | None = None) -> str:
        """How logs name a partition's query."""
        keyword = (context or self.context or {}).get("keyword")
        return f"keyword={keyword!r}" if keyword else "all postings"

    @override
    def find_shape_problem(self, body: t.Any) -> str | None:
        """A Search page must carry ``SearchResult.SearchResultItems`` as a list."""
        problem = super().find_shape_problem(body)
        if problem:
            return problem
        result = body.get("SearchResult")
        if not isinstance(result, dict):
            return "no SearchResult object"
        if not isinstance(result.get("SearchResultItems"), list):
            return "SearchResult.SearchResultItems is not a list"
        return None

    @override
    def records_from_payload(self, body: dict[str, t.Any]) -> Iterable[t.Any]:
        """The page's result items."""
        return t.cast("list[t.Any]", body["SearchResult"]["SearchResultItems"])

    @override
    def prepare_row(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        """Hoist the descriptor's fields next to the key."""
        return hoist_search_item(row)

    @override
    def key_problem(self, record: dict[str, t.Any], problems: list[Problem]) -> str | None:
        """A control number is ASCII digits, written without leading zeros.

        When it is not, it is read from the posting's URI; the number as sent is kept.
        """
        kept = record.get(UNREADABLE_VALUES) or {}
        sent = kept.get("/MatchedObjectId", record.get("MatchedObjectId"))
        key = record.get("MatchedObjectId")
        if isinstance(key, str) and _CONTROL_NUMBER.match(key.strip()):
            number = str(int(key))  # "0800000141" is 800000141, not another posting
        else:
            match = _URI_CONTROL_NUMBER.search(str(record.get("PositionURI") or ""))
            if match is None:
                return (
                    f"its MatchedObjectId {sent!r} is not a control number, nor is one in "
                    "PositionURI"
                )
            number = str(int(match.group(1)))
        if number != sent:
            record[UNREADABLE_VALUES] = {**kept, "/MatchedObjectId": sent}
            problems.append(Problem("/MatchedObjectId", KEY_REPAIRED, sent))
        record["MatchedObjectId"] = number
        return None


_JOBS_CONFORMER = SchemaConformer(SearchJobsStream.schema)


def normalize_search_item(item: dict[str, t.Any]) -> dict[str, t.Any]:
    """The ``jobs`` record for one Search result item (what the stream writes for it)."""
    return _JOBS_CONFORMER(hoist_search_item(item))[0]
