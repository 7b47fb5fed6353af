"""Reading one Search query completely: concurrent pages, and splitting past the row cap.

The Search API serves at most 10,000 rows of a query and says nothing when it stops.
When page 1 reports more matches than that, the query is narrowed by a filter that
takes several codes at once (``JobCategoryCode=2210;1550``): the code list is halved
until each narrowed query fits under the cap, and a single series that is still too
big is narrowed by ``Organization`` the same way. Narrowed queries only cost their
first page when they are split again, so a full scan of N postings costs about
ceil(N/500) pages plus a request per split.
"""

from __future__ import annotations

import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from singer_sdk.exceptions import FatalAPIError
from singer_sdk.pagination import BaseAPIPaginator

from tap_usajobs.client import payload

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.metrics import Counter

    from tap_usajobs.streams import SearchJobsStream

#: Search filters used to split an over-cap query, narrowest last, and the code list
#: (``/api/codelist/<name>``) holding the values each accepts.
SPLIT_CODE_LISTS = {
    "JobCategoryCode": "occupationalseries",
    "Organization": "agencysubelements",
}
Filters = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SearchPage:
    """Page ``number`` of the partition's query, narrowed by extra ``filters``."""

    number: int
    filters: Filters = ()


class PageToken(BaseAPIPaginator[SearchPage]):
    """A paginator fixed on one page, for the SDK's request preparation.

    The pages of a query are scheduled by ``QueryReader`` (concurrently, and across
    split slices), so each request gets a paginator that names just its own page.
    """

    def get_next(self, response: requests.Response) -> SearchPage | None:  # noqa: ARG002
        """There is no next page from here: the reader schedules pages itself."""
        return None


def fetch_codes(stream: SearchJobsStream, name: str) -> list[str]:
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
    lists = payload(response).get("CodeList") or []
    codes = [value["Code"] for entry in lists for value in entry.get("ValidValue", [])]
    return sorted(dict.fromkeys(str(code) for code in codes if code))


class QueryReader:
    """Reads one partition's query, splitting it where the row cap would hide rows."""

    def __init__(self, stream: SearchJobsStream, context: Context | None, counter: Counter) -> None:
        """Prepare to read the query of partition ``context``."""
        self.stream = stream
        self.context = context
        self.counter = counter
        self.workers = int(stream.config["max_concurrent_requests"])
        self.row_cap = int(stream.config["search_row_cap"])
        self.seen: set[str] = set()
        self.reported_total: int | None = None
        self.unreachable = 0

    def read(self, filters: Filters) -> Iterator[dict[str, t.Any]]:
        """Yield every new posting of the query narrowed by ``filters``."""
        first = self._get(SearchPage(1, filters))
        self.counter.increment()
        paginator = self.stream.get_new_paginator()
        has_more = paginator.has_more(first)
        total = paginator.total_rows or 0
        if self.reported_total is None:
            self.reported_total = total
        if self.row_cap and total > self.row_cap:
            narrower = self._narrower(filters)
            if narrower:
                self.stream.logger.info(
                    "%s matches %d postings, over the %d-row cap: splitting it %d ways by %s.",
                    self._describe(filters),
                    total,
                    self.row_cap,
                    len(narrower),
                    narrower[0][-1][0],
                )
                for narrowed in narrower:
                    yield from self.read(narrowed)
                return
            self.unreachable += total - self.row_cap
        yield from self._new(first)
        if has_more:
            yield from self._rest(filters, paginator.last_page or 1)

    def check_complete(self) -> bool:
        """Whether every posting the query reported was read; logs the shortfall if not."""
        found = len(self.seen)
        reported = self.reported_total
        complete = reported is None or found >= reported
        if reported is not None and not complete:
            self.stream.logger.warning(
                "%s reported %d postings but %d were read (%d short%s).",
                self._describe(()),
                reported,
                found,
                reported - found,
                f"; {self.unreachable} beyond the row cap of slices that could not be split"
                if self.unreachable
                else "",
            )
        return complete

    def _narrower(self, filters: Filters) -> list[Filters]:
        """Two halves of the current split filter, or the next filter; [] when none is left."""
        applied = dict(filters)
        for parameter in SPLIT_CODE_LISTS:
            if parameter in applied:
                codes = applied[parameter].split(";")
                if len(codes) > 1:
                    middle = len(codes) // 2
                    base = tuple(item for item in filters if item[0] != parameter)
                    return [
                        (*base, (parameter, ";".join(codes[:middle]))),
                        (*base, (parameter, ";".join(codes[middle:]))),
                    ]
                continue
            codes = self.stream.split_values(parameter)
            if len(codes) > 1:
                middle = len(codes) // 2
                return [
                    (*filters, (parameter, ";".join(codes[:middle]))),
                    (*filters, (parameter, ";".join(codes[middle:]))),
                ]
        return []

    def _rest(self, filters: Filters, last_page: int) -> Iterator[dict[str, t.Any]]:
        """Pages 2..last of one query through a bounded pool, yielded in page order."""
        pages = iter(range(2, last_page + 1))
        with ThreadPoolExecutor(self.workers, thread_name_prefix="usajobs-page") as pool:
            in_flight: deque[Future[requests.Response]] = deque(
                pool.submit(self._get, SearchPage(page, filters))
                for page in islice(pages, self.workers)
            )
            try:
                while in_flight:
                    response = in_flight.popleft().result()
                    self.counter.increment()  # here, not in the workers: one thread counts
                    next_page = next(pages, None)
                    if next_page is not None:
                        in_flight.append(pool.submit(self._get, SearchPage(next_page, filters)))
                    yield from self._new(response)
            finally:
                # A failed page or a closed generator must not leave requests running.
                for future in in_flight:
                    future.cancel()

    def _get(self, page: SearchPage) -> requests.Response:
        return self.stream.fetch_page(self.context, page)

    def _new(self, response: requests.Response) -> Iterator[dict[str, t.Any]]:
        """Items of a page not yet read from another slice of this query."""
        for item in self.stream.parse_response(response):
            control_number = item.get("MatchedObjectId")
            if control_number in self.seen:
                continue
            if control_number:
                self.seen.add(control_number)
            yield item

    def _describe(self, filters: Filters) -> str:
        label = self.stream.label(self.context)
        narrowed = ", ".join(f"{name}={value[:40]}" for name, value in filters)
        return f"{label} ({narrowed})" if narrowed else label
