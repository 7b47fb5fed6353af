"""Historic JOA streams: every announcement since ``start_date``, by month of opening.

``GET /api/historicjoa`` and ``GET /api/historicjoa/announcementtext`` take the same
filters and page the same way, so one base class serves both. Neither needs a key, and
neither gets one.

The API has no "modified since" filter, and it keeps changing the past: it attaches late
announcements to dates months back, and statuses move from "Accepting applications" to a
final one over months. So the stream reads calendar-month windows of
``positionOpenDate``, one state partition each, and records per window when it was
polled and how many of its rows were still unsettled. A run polls a window when:

- it has never been polled;
- it was last polled within ``historic_lookback_days`` of its end (late announcements);
- it had fewer rows than the API counted when last polled within
  ``historic_repoll_days`` of its end;
- it still had unsettled rows when last polled within ``historic_repoll_days`` of its
  end, and an eighth of its age then has passed since (statuses settle ever more
  slowly; ``REPOLL_AGE_DIVISOR``).

Every other window is settled and costs nothing.
"""

from __future__ import annotations

import sys
import typing as t
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from http import HTTPStatus

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_usajobs import historic_schemas
from tap_usajobs.client import UsaJobsStream, payload
from tap_usajobs.conform import parse_date
from tap_usajobs.continuation import ContinuationPaginator, is_empty_answer
from tap_usajobs.normalize import parse_datetime
from tap_usajobs.readahead import ReadAhead

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

#: The date filters a window sets; ``historic_params`` cannot override them.
_WINDOW_FILTERS = ("StartPositionOpenDate", "EndPositionOpenDate")

#: Pages fetched ahead of the window being read, across the windows being fetched
#: (``max_concurrent_requests`` of them): ~2 MB each parsed, so ~40 MB at most. Enough to
#: go on fetching while target-postgres writes a batch (docs/performance.md).
PAGES_AHEAD = 16

HISTORIC_SETTINGS = (
    th.Property(
        "historic_lookback_days",
        th.IntegerType(minimum=0),
        default=90,
        title="Historic lookback (days)",
        description=(
            "historic_jobs and announcement_texts poll a month of opening dates again until "
            "a poll happens this many days after the month ended, because the API attaches "
            "late announcements to past dates."
        ),
    ),
    th.Property(
        "historic_repoll_days",
        th.IntegerType(minimum=0),
        default=1095,
        title="Historic status re-poll horizon (days)",
        description=(
            "A month whose postings were not all final (closed, selected, canceled) is "
            "polled again, less often as it ages (after an eighth of its age), until a "
            "poll happens this many days after the month ended."
        ),
    ),
    th.Property(
        "historic_end_date",
        th.DateType,
        title="Historic end date",
        description=(
            "Read opening dates only up to this date (default: today). With start_date, "
            "a backfill window; run it under its own state ID so the regular bookmark "
            "is neither used nor moved (orchestrate/run.py --backfill)."
        ),
    ),
    th.Property(
        "historic_params",
        th.ObjectType(additional_properties=True),
        default={},
        title="Historic JOA filters",
        description=(
            "Filters passed as given to both Historic JOA endpoints, e.g. "
            '{"HiringAgencyCodes": "VATA", "PositionSeries": "2210"}. The opening-date '
            "filters are the tap's own."
        ),
    ),
)


def utc_today() -> date:
    """Today's date in UTC: the windows' notion of now."""
    return datetime.now(timezone.utc).date()


@dataclass(frozen=True)
class Window:
    """A span of ``positionOpenDate``, both ends included."""

    start: date
    end: date

    @classmethod
    def of(cls, context: Context) -> Window:
        """The window a partition context describes."""
        return cls(
            date.fromisoformat(context["StartPositionOpenDate"]),
            date.fromisoformat(context["EndPositionOpenDate"]),
        )

    @property
    def context(self) -> dict[str, str]:
        """The partition context: the window's own API filters."""
        return {
            "StartPositionOpenDate": self.start.isoformat(),
            "EndPositionOpenDate": self.end.isoformat(),
        }


def month_windows(first: date, last: date) -> list[Window]:
    """Calendar months from ``first``'s month to ``last``'s; the first starts at ``first``."""
    windows = []
    start = first
    while start <= last:
        following = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        windows.append(Window(start, following - timedelta(days=1)))
        start = following
    return windows


#: After its lookback, an unsettled window waits an eighth of its age at its last poll
#: before the next one: every ~11 days at 3 months, ~6 weeks at a year, ~4 months at three
#: years. Statuses settle ever more slowly with age; polling every run to a three-year
#: horizon would cost 8x the requests (bench/historic_repoll.py, docs/performance.md).
REPOLL_AGE_DIVISOR = 8


@dataclass(frozen=True)
class PollPolicy:
    """When a window needs another poll, from what its last poll saw."""

    lookback: timedelta
    repoll: timedelta
    age_divisor: int = REPOLL_AGE_DIVISOR  # 0: every run until the horizon

    def needs_poll(self, window: Window, saved: t.Mapping[str, t.Any] | None, today: date) -> bool:
        """Whether ``window`` must be polled on ``today``, given its saved partition state."""
        saved = saved or {}
        polled_on = parse_date(saved.get("polled_on"))
        if polled_on is None:
            return True
        last_poll = date.fromisoformat(polled_on)
        if last_poll <= window.end + self.lookback:
            return True
        shortfall = int(saved.get("rows_received") or 0) < int(saved.get("total_count") or 0)
        unsettled = bool(saved.get("unsettled_rows")) or shortfall
        if not unsettled or last_poll > window.end + self.repoll:
            return False
        if shortfall or not self.age_divisor:
            return True  # rows went missing: read it again at once
        return today - last_poll >= (last_poll - window.end) / self.age_divisor


def _partition_key(context: t.Mapping[str, t.Any]) -> tuple[tuple[str, t.Any], ...]:
    return tuple(sorted(context.items()))


class HistoricJoaStream(UsaJobsStream):
    """A Historic JOA endpoint, read by month of ``positionOpenDate``."""

    sends_api_key = False
    selected_by_default = False  # thousands of requests on a first run: opt in
    primary_keys = ("usajobsControlNumber",)
    replication_key = "positionOpenDate"
    # Rows come in control-number order, not by date; the bookmark is only informative,
    # the windows' own state decides what is read.
    is_sorted = False
    # SchemaConformer already gives every value its schema type.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    key_aliases = historic_schemas.KEY_ALIASES

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """Prepare the per-window counters."""
        super().__init__(*args, **kwargs)
        self._reader: ReadAhead[tuple[tuple[str, t.Any], ...], requests.Response] | None = None
        self._paginators: dict[tuple[tuple[str, t.Any], ...], ContinuationPaginator] = {}

    def is_unsettled(self, record: dict[str, t.Any]) -> bool:
        """Whether a row may still change, so its window must be polled again."""
        raise NotImplementedError

    @cached_property
    def poll_policy(self) -> PollPolicy:
        """The lookback and re-poll horizon from the settings."""
        return PollPolicy(
            lookback=timedelta(days=int(self.config["historic_lookback_days"])),
            repoll=timedelta(days=int(self.config["historic_repoll_days"])),
            age_divisor=REPOLL_AGE_DIVISOR,
        )

    @override
    def query_partitions(self) -> list[dict[str, t.Any]]:
        """The month windows since the start that are not settled yet."""
        today = utc_today()
        start_date = parse_datetime(self.config.get("start_date"))
        first = (
            date.fromisoformat(start_date[:10])
            if start_date
            else (today - self.poll_policy.lookback).replace(day=1)
        )
        saved = {
            _partition_key(entry["context"]): entry
            for entry in self.stream_state.get("partitions", [])
            if isinstance(entry, dict) and isinstance(entry.get("context"), dict)
        }
        end_date = self.config.get("historic_end_date")
        end = date.fromisoformat(end_date) if end_date else None
        windows = month_windows(first, min(today, end) if end else today)
        if end and end < today and windows and windows[-1].end > end:
            # A backfill stops at its end date, not at the end of that month. (An end
            # date from today on changes nothing: clipping at today would give the
            # current month a new partition key every day.)
            windows[-1] = Window(windows[-1].start, end)
        due = [
            window
            for window in windows
            if self.poll_policy.needs_poll(window, saved.get(_partition_key(window.context)), today)
        ]
        self.logger.info(
            "%s: %d of %d monthly windows since %s need a poll.",
            self.name,
            len(due),
            len(windows),
            first.isoformat(),
        )
        return [window.context for window in due]

    @override
    def request_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The window's rows, its pages fetched ahead with the next windows' (ADR 20)."""
        if self._reader is None:
            self._reader = ReadAhead(
                [_partition_key(window) for window in self.partitions or []],
                self._window_pages,
                workers=int(self.config["max_concurrent_requests"]),
                budget=PAGES_AHEAD,
                name=self.name,
            )
        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)
            for response in self._reader.items(_partition_key(context or {})):
                request_counter.increment()
                yield from self.parse_response(response)

    def _window_pages(self, key: tuple[tuple[str, t.Any], ...]) -> Iterator[requests.Response]:
        """Every page of one window, in order (run by a ``ReadAhead`` worker thread).

        Paging ends where ``next`` does, or at a page without rows and without ``next``.
        """
        context = dict(key)
        window = Window.of(context)
        self._paginators[key] = paginator = ContinuationPaginator(
            f"{self.name} {window.start}..{window.end}",
            max_pages=int(self.config["max_requests_per_query"]),
            path=self.path,
        )
        while not paginator.finished:
            request = self._prepare_request(context=context, page=paginator)
            response = self.send(request, context)
            self.update_sync_costs(request, response, context)
            yield response
            empty = is_empty_answer(response) or not payload(response)["data"]
            if empty and not paginator.continue_if_empty(response):
                return
            paginator.advance(response)

    @override
    def get_url_params(
        self,
        context: Context | None,
        next_page_token: t.Any,  # the next link carries its own query
    ) -> dict[str, t.Any]:
        """``historic_params`` plus the window's opening dates."""
        params: dict[str, t.Any] = {
            name: value
            for name, value in (self.config.get("historic_params") or {}).items()
            if name not in _WINDOW_FILTERS
        }
        params.update(context or {})
        return params

    @override
    def get_http_request(self, *, page: PageContext[t.Any]) -> HTTPRequest:
        """The first page from the window's filters; later ones exactly as ``next`` says."""
        request = super().get_http_request(page=page)
        link = page.next_page_token
        if link:
            # Relative, lower-cased names, token already encoded: append it to our own
            # root (a proxy or fake keeps working) and send its query untouched.
            request.url = f"{self.url_base}{link.path}" + (f"?{link.query}" if link.query else "")
            request.params = {}
        return request

    @override
    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The window's rows; once all are read, note what the window held in its state."""
        if not context:
            # No window is due (or this shard owns none): never query without dates.
            return
        window = Window.of(context)
        unsettled = repeated = 0
        seen: set[int] = set()
        quarantined_before = self.quarantined_rows
        for record in super().get_records(context):
            if record["usajobsControlNumber"] in seen:
                repeated += 1  # pages that repeat rows could hide others behind the count
                continue
            seen.add(record["usajobsControlNumber"])
            unsettled += self.is_unsettled(record)
            yield record
        paginator = self._paginators.pop(_partition_key(context))
        quarantined = self.quarantined_rows - quarantined_before
        problems = self._problems(paginator, len(seen) + quarantined, quarantined, repeated)
        label = f"{self.name} {window.start}..{window.end}"
        self.logger.info(
            "%s: read %d announcements of the %s the API counted.",
            label,
            len(seen) + quarantined,
            paginator.total_count,
        )
        if problems:
            self.sync_summary.mark_incomplete(label, problems)
            self.logger.warning(
                "%s was not read whole; the next run polls it again: %s.",
                label,
                "; ".join(problems),
            )
        state = self.get_context_state(context)
        state.update(
            {
                "polled_on": utc_today().isoformat(),
                "rows_received": len(seen),
                "total_count": paginator.total_count or 0,
                "unsettled_rows": unsettled + quarantined,
            }
        )
        # Every row of the window has been written: say so now, so that a run stopped
        # later (a ten-year backfill takes hours) goes on from the next window.
        self._finalize_state(state)
        self._write_state_message()

    def _problems(
        self, paginator: ContinuationPaginator, received: int, quarantined: int, repeated: int
    ) -> list[str]:
        """Why a window's rows do not prove it was read whole."""
        total = paginator.total_count
        problems = []
        if total is None:
            if paginator.rows_received:
                problems.append("the API gave no readable totalCount")
        elif received != total:
            problems.append(f"received {received} distinct rows, the API counted {total}")
        if paginator.counts_disagree:
            problems.append("totalCount changed from page to page")
        if repeated:
            problems.append(f"{repeated} rows came twice")
        if paginator.stopped_on_repeated_token:
            problems.append("the API repeated a continuation token")
        if paginator.stopped_on_bad_link:
            problems.append("the API sent a next link that is not a path of this endpoint")
        if paginator.stopped_on_budget:
            problems.append(f"stopped after {paginator.pages} pages (max_requests_per_query)")
        if quarantined:
            problems.append(f"{quarantined} rows were quarantined")
        return problems

    @override
    def validate_response(self, response: requests.Response) -> None:
        """An empty answer is "no rows", not a broken page."""
        if response.status_code < HTTPStatus.BAD_REQUEST and is_empty_answer(response):
            return
        super().validate_response(response)

    @override
    def find_shape_problem(self, body: t.Any) -> str | None:
        """A page must carry ``data`` as a list."""
        problem = super().find_shape_problem(body)
        if problem:
            return problem
        if not isinstance(body.get("data"), list):
            return "no data list"
        return None

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, t.Any]]:
        """The page's rows; none for an empty answer."""
        if is_empty_answer(response):
            return
        yield from super().parse_response(response)

    @override
    def records_from_payload(self, body: dict[str, t.Any]) -> Iterable[t.Any]:
        """The page's ``data`` rows."""
        return t.cast("list[t.Any]", body["data"])


class HistoricJobsStream(HistoricJoaStream):
    """Announcements from ``GET /api/historicjoa``, open and closed, since ``start_date``."""

    name = "historic_jobs"
    path = "/api/historicjoa"
    schema = historic_schemas.HISTORIC_JOBS.to_dict()

    @override
    def is_unsettled(self, record: dict[str, t.Any]) -> bool:
        """Until its status is final, a posting can still change."""
        return record.get("positionOpeningStatus") not in historic_schemas.FINAL_STATUSES


class AnnouncementTextsStream(HistoricJoaStream):
    """Announcement texts from ``GET /api/historicjoa/announcementtext``, same windows."""

    name = "announcement_texts"
    path = "/api/historicjoa/announcementtext"
    schema = historic_schemas.ANNOUNCEMENT_TEXTS.to_dict()

    @override
    def is_unsettled(self, record: dict[str, t.Any]) -> bool:
        """The text rows carry no status: an announcement still open may be amended."""
        closes = record.get("positionCloseDate")
        return closes is None or closes >= utc_today().isoformat()
