"""Stream definitions for tap-usajobs."""

from __future__ import annotations

import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from itertools import islice

from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_usajobs import schemas
from tap_usajobs.client import UsaJobsStream
from tap_usajobs.normalize import normalize_search_item
from tap_usajobs.pagination import SearchPaginator

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk.helpers.types import Context

#: The widest window ``DatePosted`` accepts, in days.
MAX_DATE_POSTED_DAYS = 60


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
    # normalize_search_item already gives every field its schema type, so the SDK only
    # needs to drop unknown top-level keys; walking every nested value again cost ~40%
    # of a sync's CPU.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """Set up the per-partition ``DatePosted`` windows."""
        super().__init__(*args, **kwargs)
        # Decided once per partition so that every page of a query uses the same filter.
        self._windows: dict[str | None, int | None] = {}

    def query_partitions(self) -> list[dict[str, t.Any]]:
        """One query per keyword; an empty list means one unfiltered query."""
        keywords = self.config.get("keywords") or [None]
        return [{"keyword": keyword} for keyword in dict.fromkeys(keywords)]

    def get_new_paginator(self, start_page: int = 1) -> SearchPaginator:
        """Page through every page of the current query."""
        return SearchPaginator(
            int(self.config["results_per_page"]),
            label=self._label(),
            start_page=start_page,
            row_cap=int(self.config["search_row_cap"]),
        )

    def request_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Fetch page 1, then the remaining pages concurrently, yielding in page order.

        The first page says how many pages there are, so the rest can be requested in
        parallel by a bounded pool (``max_concurrent_requests``). Each request keeps its
        own retries. At most that many pages are held in memory, and records leave in the
        order a sequential run would produce them, so state handling is unchanged.
        """
        workers = int(self.config["max_concurrent_requests"])
        if workers <= 1:
            yield from super().request_records(context)
            return
        fetch = self.request_decorator(self._request)

        def get(page: int) -> requests.Response:
            prepared = self._prepare_request(
                context=context,
                page=self.get_new_paginator(start_page=page),
            )
            response = fetch(prepared, context)
            self.update_sync_costs(prepared, response, context)
            return response

        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)
            paginator = self.get_new_paginator()
            first = get(1)
            request_counter.increment()
            yield from self.parse_response(first)
            if not paginator.has_more(first):
                return
            pages = iter(range(2, (paginator.last_page or 1) + 1))
            with ThreadPoolExecutor(workers, thread_name_prefix="usajobs-page") as pool:
                in_flight: deque[Future[requests.Response]] = deque(
                    pool.submit(get, page) for page in islice(pages, workers)
                )
                try:
                    while in_flight:
                        response = in_flight.popleft().result()
                        request_counter.increment()
                        next_page = next(pages, None)
                        if next_page is not None:
                            in_flight.append(pool.submit(get, next_page))
                        yield from self.parse_response(response)
                finally:
                    # A failed page or a closed generator must not leave requests running.
                    for future in in_flight:
                        future.cancel()

    def get_url_params(
        self,
        context: Context | None,
        next_page_token: int | None,
    ) -> dict[str, t.Any]:
        """Filters from config, the partition's keyword, the incremental window, paging."""
        params: dict[str, t.Any] = dict(self.config.get("search_params") or {})
        keyword = (context or {}).get("keyword")
        if keyword:
            params["Keyword"] = keyword
        days = self._date_posted(context)
        if days is not None:
            params["DatePosted"] = days
        params["ResultsPerPage"] = int(self.config["results_per_page"])
        params["Page"] = next_page_token or 1
        return params

    def _date_posted(self, context: Context | None) -> int | None:
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
                self._label(context),
                start.isoformat(),
                MAX_DATE_POSTED_DAYS,
            )
        else:
            self.logger.info(
                "%s: fetching postings of the last %d days (DatePosted).",
                self._label(context),
                days,
            )
        return days

    def _label(self, context: Context | None = None) -> str:
        keyword = (context or self.context or {}).get("keyword")
        return f"keyword={keyword!r}" if keyword else "all postings"

    def find_shape_problem(self, body: t.Any) -> str | None:  # noqa: ANN401
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

    def records_from_payload(self, body: dict[str, t.Any]) -> Iterable[dict[str, t.Any]]:
        """The page's result items."""
        return t.cast("list[dict[str, t.Any]]", body["SearchResult"]["SearchResultItems"])

    def post_process(
        self,
        row: dict[str, t.Any],
        context: Context | None = None,  # noqa: ARG002
    ) -> dict[str, t.Any] | None:
        """Hoist the descriptor and give every value an honest type."""
        record = normalize_search_item(row)
        if not record.get("MatchedObjectId"):
            self.logger.warning("Skipping a search item without MatchedObjectId.")
            return None
        return record
