"""Reading one Search query completely, and knowing when it was not.

**Every page.** The counts a page reports are hints, not facts: ``SearchResultCountAll``
can under- or over-report, ``NumberOfPages`` can disagree with it, and a page can come
back short, empty or repeated. So a query is paged until a page that is short or empty,
whatever the count says; pages the count announces are fetched through a bounded pool,
the rest one at a time.

**Past the row cap.** The API serves at most 10,000 rows of a query and says nothing when
it stops. When page 1 reports more matches than that, or the rows keep coming up to the
cap, the query is narrowed by a filter that takes several codes at once
(``JobCategoryCode=2210;1550``): the code list is halved until each narrowed query fits,
and a single series that is still too big is narrowed by ``Organization`` the same way.
If both halves report as many postings as the whole, the API ignored the filter, and
splitting stops there.

**Proof of completeness.** A query counts as read whole only on positive evidence: every
page but the last was full, the last was short or empty, the count never changed from
page to page, no posting came twice, no row had to be quarantined, ``NumberOfPages`` did
not announce fewer pages than were needed, and the postings read add up to the count.
Anything else is recorded as a reason, and the stream then closes nothing, keeps the
partition's bookmark and the full-scan marker where they were, and the tap exits 75.

**Budget.** A query makes at most ``max_requests_per_query`` requests (pages and split
probes); past that it stops, incomplete, whatever the API keeps announcing.
"""

from __future__ import annotations

import sys
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from singer_sdk.pagination import BaseAPIPaginator

from tap_usajobs.client import payload

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Generator, Iterable, Iterator

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.metrics import Counter


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

    @override
    def get_next(self, response: requests.Response) -> SearchPage | None:
        """There is no next page from here: the reader schedules pages itself."""
        return None


#: Counts beyond this are no count the API can mean (and int() of a huge string is slow).
_MAX_COUNT_DIGITS = 12
_MAX_COUNT = 10**_MAX_COUNT_DIGITS


def _whole_number(value: object) -> int | None:
    """A count as the API sends it (an int, or ASCII digits in a string), or None."""
    if isinstance(value, str):
        text = value.strip()
        digits = text.isascii() and text.isdigit() and len(text) <= _MAX_COUNT_DIGITS
        value = int(text) if digits else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= _MAX_COUNT else None


@dataclass(frozen=True)
class PageHints:
    """What one Search page says about its query, and the rows it holds."""

    count: int | None
    pages: int | None
    items: list[t.Any]

    @classmethod
    def of(cls, response: requests.Response) -> PageHints:
        """Read the hints of a validated page (``SearchResult`` is an object there)."""
        result = payload(response)["SearchResult"]
        user_area = result.get("UserArea")
        pages = user_area.get("NumberOfPages") if isinstance(user_area, dict) else None
        return cls(
            count=_whole_number(result.get("SearchResultCountAll")),
            pages=_whole_number(pages),
            items=result["SearchResultItems"],
        )


class SearchSource(t.Protocol):
    """What a ``QueryReader`` needs from the stream it reads for (SearchJobsStream)."""

    quarantined_rows: int

    @property
    def config(self) -> t.Mapping[str, t.Any]:
        """The tap's settings."""
        ...

    @property
    def logger(self) -> logging.Logger:
        """Where the stream logs."""
        ...

    def fetch_page(self, context: Context | None, page: SearchPage) -> requests.Response:
        """One page of the query, fetched with retries."""
        ...

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, t.Any]]:
        """The page's postings, conformed; rows that cannot load are quarantined."""
        ...

    def split_values(self, parameter: str) -> list[str]:
        """The codes a split filter takes."""
        ...

    def label(self, context: Context | None = None) -> str:
        """How logs name the query."""
        ...


class BudgetExhaustedError(Exception):
    """A query made as many requests as ``max_requests_per_query`` allows."""


@dataclass
class _Slice:
    """What the pages of one narrowed query (no further split) held."""

    ids: set[str] = field(default_factory=set)
    rows_per_page: list[int] = field(default_factory=list)
    repeated: int = 0
    quarantined: int = 0


class QueryReader:
    """Reads one partition's query, splitting it where the row cap would hide rows."""

    def __init__(self, stream: SearchSource, context: Context | None, counter: Counter) -> None:
        """Prepare to read the query of partition ``context``."""
        self.stream = stream
        self.context = context
        self.counter = counter
        self.workers = int(stream.config["max_concurrent_requests"])
        self.row_cap = int(stream.config["search_row_cap"])
        self.per_page = int(stream.config["results_per_page"])
        self.budget = int(stream.config["max_requests_per_query"])
        self.requests = 0
        self.seen: set[str] = set()
        self.quarantined = 0
        self.reported_total: int | None = None
        self.problems: list[str] = []
        self._unsplittable: set[Filters] = set()

    @property
    def complete(self) -> bool:
        """Whether there is positive evidence that every posting of the query was read."""
        return not self.problems

    def read(self) -> Iterator[dict[str, t.Any]]:
        """Yield every posting of the partition's query once; note what proves it whole."""
        try:
            first = self._get(SearchPage(1))
            hints = PageHints.of(first)
            self.reported_total = hints.count
            # Progress displays measure the read against this line (the project runtime's does).
            self.stream.logger.info(
                "%s: the API reports %s postings on %s pages.",
                self.stream.label(self.context),
                hints.count,
                hints.pages,
            )
            kept = self._keep_if_read(first, hints)
            del first
            yield from self._read((), *kept)
        except BudgetExhaustedError:
            self.problems.append(
                f"stopped after {self.requests} requests (max_requests_per_query); the API "
                "kept announcing more"
            )
            return
        found = len(self.seen) + self.quarantined
        if self.reported_total is not None and found != self.reported_total:
            self.problems.append(
                f"the API reported {self.reported_total} postings but {found} were read"
            )

    def _read(
        self, filters: Filters, first: requests.Response | None, hints: PageHints
    ) -> Iterator[dict[str, t.Any]]:
        """The postings of the query narrowed by ``filters``; ``hints`` are its page 1's."""
        if self._over_cap(hints) and (yield from self._split(filters, hints.count or 0)):
            return
        if first is None:  # page 1 was let go, as a query to split; this one cannot be
            first = self._get(SearchPage(1, filters))
            hints = PageHints.of(first)
        yield from self._pages(filters, first, hints)

    def _over_cap(self, hints: PageHints) -> bool:
        return bool(self.row_cap) and (hints.count or 0) > self.row_cap

    def _keep_if_read(
        self, first: requests.Response, hints: PageHints
    ) -> tuple[requests.Response | None, PageHints]:
        """Page 1 and its hints; no page 1 for a query over the cap, which will be split.

        Its rows would be read again in the narrower queries; held while they are read,
        page 1s of every level of the split add up (~20 MB each).
        """
        return (None if self._over_cap(hints) else first), hints

    def _split(self, filters: Filters, count: int) -> Generator[dict[str, t.Any], None, bool]:
        """Read the query in narrower parts; False when it cannot be narrowed further."""
        narrower = [] if filters in self._unsplittable else self._narrower(filters)
        if not narrower:
            self._unsplittable.add(filters)
            return False
        firsts = [self._get(SearchPage(1, narrowed)) for narrowed in narrower]
        hints = [PageHints.of(page) for page in firsts]
        counts = [hint.count for hint in hints]
        if all(part == count for part in counts):
            self._unsplittable.add(filters)
            self.problems.append(
                f"{self._describe(filters)}: narrowing by {narrower[0][-1][0]} did not narrow "
                f"it (each half reported all {count} postings), so it is read up to the "
                "row cap only"
            )
            return False
        self.stream.logger.info(
            "%s matches %d postings, over the %d-row cap: splitting it %d ways by %s.",
            self._describe(filters),
            count,
            self.row_cap,
            len(narrower),
            narrower[0][-1][0],
        )
        parts = [
            (narrowed, *self._keep_if_read(page, hint))
            for narrowed, page, hint in zip(narrower, firsts, hints, strict=True)
        ]
        del firsts
        while parts:  # each part's page 1 is let go once it is read
            yield from self._read(*parts.pop(0))
        return True

    def _pages(
        self, filters: Filters, first: requests.Response, hints: PageHints
    ) -> Iterator[dict[str, t.Any]]:
        """Every page of one query that is not split further, until a short or empty page."""
        read = _Slice()
        reachable = min(hints.count or 0, self.row_cap) if self.row_cap else hints.count or 0
        # Fetched concurrently: the pages both hints agree exist (NumberOfPages can count
        # pages past the cap, the count can count rows past it). Any more come one by one.
        by_count = -(-reachable // self.per_page)  # integer ceiling: counts can be huge
        prefetch = min(by_count, hints.pages) if hints.pages is not None else by_count
        yield from self._take(first, hints, read)
        number = 1
        for number, response in enumerate(self._fetch(filters, range(2, prefetch + 1)), start=2):
            yield from self._take(response, self._hints(filters, number, response, hints), read)
        # Positive evidence of the end is a short or empty page, whatever the count said.
        while read.rows_per_page[-1] >= self.per_page and not self._at_cap(number):
            number += 1
            response = self._get(SearchPage(number, filters))
            yield from self._take(response, self._hints(filters, number, response, hints), read)
        if read.rows_per_page[-1] >= self.per_page and self._at_cap(number):
            # Full pages all the way to the cap: more rows may lie beyond it.
            if (yield from self._split(filters, len(read.ids) + read.quarantined)):
                return
            self.problems.append(
                f"{self._describe(filters)}: {self.row_cap} rows were read, the most the API "
                "serves of one query, and it cannot be narrowed further"
            )
        self._judge(filters, hints, read)

    def _hints(
        self, filters: Filters, number: int, response: requests.Response, first: PageHints
    ) -> PageHints:
        """A later page's hints; a count that differs from page 1's is a problem."""
        hints = PageHints.of(response)
        if hints.count != first.count:
            self.problems.append(
                f"{self._describe(filters)}: page {number} reported {hints.count} postings, "
                f"page 1 {first.count}"
            )
        return hints

    def _judge(self, filters: Filters, hints: PageHints, read: _Slice) -> None:
        """Record every way in which these pages fail to prove the query was read whole."""
        where = self._describe(filters)
        rows = read.rows_per_page
        short = [n for n, served in enumerate(rows[:-1], start=1) if served < self.per_page]
        if short and sum(rows[short[0] :]):
            first_short = short[0]
            self.problems.append(
                f"{where}: page {first_short} held {rows[first_short - 1]} of {self.per_page} "
                "rows, but later pages held more"
            )
        if read.repeated:
            self.problems.append(f"{where}: {read.repeated} postings came twice (pages repeated)")
        if read.quarantined:
            self.problems.append(f"{where}: {read.quarantined} rows were quarantined")
        found = len(read.ids) + read.quarantined
        if hints.count is None:
            self.problems.append(f"{where}: page 1 gave no readable SearchResultCountAll")
        elif found != hints.count and not (self.row_cap and hints.count > self.row_cap):
            self.problems.append(f"{where}: the API reported {hints.count} postings, {found} read")
        needed = -(-found // self.per_page)
        if hints.pages is None or hints.pages < needed:
            self.problems.append(
                f"{where}: NumberOfPages said {hints.pages} but the postings needed {needed}"
            )

    def _take(
        self, response: requests.Response, hints: PageHints, read: _Slice
    ) -> Iterator[dict[str, t.Any]]:
        """The page's postings not yet emitted; tallies what the page held."""
        self.counter.increment()  # here, not in the workers: one thread counts
        before = self.stream.quarantined_rows
        records = self.stream.parse_response(response)
        quarantined = self.stream.quarantined_rows - before
        read.rows_per_page.append(len(hints.items))
        read.quarantined += quarantined
        self.quarantined += quarantined
        for record in records:
            control_number = record["MatchedObjectId"]
            if control_number in read.ids:
                read.repeated += 1
                continue
            read.ids.add(control_number)
            if control_number in self.seen:  # read already from another slice
                continue
            self.seen.add(control_number)
            yield record

    def _at_cap(self, page: int) -> bool:
        return bool(self.row_cap) and page * self.per_page >= self.row_cap

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

    def _fetch(self, filters: Filters, numbers: Iterable[int]) -> Iterator[requests.Response]:
        """Pages of one query through a bounded pool, in page order.

        One request is outstanding at first, one more each time the reader has to wait
        for a page (up to ``workers``), and one fewer after ``workers`` pages in a row that
        were ready before the reader asked: while the tap, or the target behind it, is the
        slow part, fetched pages would only wait unread, ~20 MB each (ADR 16).
        """
        pages = iter(numbers)
        width, ready_in_a_row = 1, 0
        with ThreadPoolExecutor(self.workers, thread_name_prefix="usajobs-page") as pool:

            def submit(number: int) -> Future[requests.Response]:
                self._spend()
                return pool.submit(
                    self.stream.fetch_page, self.context, SearchPage(number, filters)
                )

            in_flight: deque[Future[requests.Response]] = deque()
            try:
                while len(in_flight) < width and (number := next(pages, None)) is not None:
                    in_flight.append(submit(number))
                while in_flight:
                    head = in_flight.popleft()
                    if not head.done():
                        width, ready_in_a_row = min(self.workers, width + 1), 0
                    else:
                        ready_in_a_row += 1
                        if ready_in_a_row >= self.workers:
                            width, ready_in_a_row = max(1, width - 1), 0
                    response = head.result()
                    while len(in_flight) < width and (number := next(pages, None)) is not None:
                        in_flight.append(submit(number))
                    yield response
            finally:
                # A failed page or a closed generator must not leave requests running.
                for future in in_flight:
                    future.cancel()

    def _get(self, page: SearchPage) -> requests.Response:
        self._spend()
        return self.stream.fetch_page(self.context, page)

    def _spend(self) -> None:
        if self.requests >= self.budget:
            raise BudgetExhaustedError
        self.requests += 1

    def _describe(self, filters: Filters) -> str:
        label = self.stream.label(self.context)
        narrowed = ", ".join(f"{name}={value[:40]}" for name, value in filters)
        return f"{label} ({narrowed})" if narrowed else label
