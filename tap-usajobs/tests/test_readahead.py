"""Reading ahead, in-process: what is fetched at once, handed out in order, and held."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

from tap_usajobs.readahead import ReadAhead
from tap_usajobs.search import QueryReader

if TYPE_CHECKING:
    from collections.abc import Iterator

SOURCES = ["a", "b", "c", "d", "e"]


def test_items_come_source_by_source_though_the_sources_are_read_at_once() -> None:
    # Each source's first item waits until three sources have started: read one at a
    # time, the barrier would time out and the reader would get its error.
    started = threading.Barrier(3, timeout=5)

    def source(key: str) -> Iterator[str]:
        if key in SOURCES[:3]:
            started.wait()
        for number in range(4):
            yield f"{key}{number}"

    reader = ReadAhead(SOURCES, source, workers=3, budget=100, name="test")

    got = [item for key in SOURCES for item in reader.items(key)]

    assert got == [f"{key}{number}" for key in SOURCES for number in range(4)]


def test_a_slow_reader_holds_at_most_budget_plus_workers_plus_one_items() -> None:
    workers, budget = 3, 4
    lock = threading.Lock()
    fetched = held = most = 0

    def source(key: str) -> Iterator[str]:
        nonlocal fetched, held, most
        for number in range(10):
            with lock:
                fetched += 1
                held += 1
                most = max(most, held)
            yield f"{key}{number}"

    reader = ReadAhead(SOURCES, source, workers=workers, budget=budget, name="test")
    for key in SOURCES:
        for _ in reader.items(key):
            time.sleep(0.002)  # the target writing a batch
            with lock:
                held -= 1

    assert fetched == 10 * len(SOURCES)
    assert budget < most <= budget + workers + 1


def test_an_error_in_a_later_source_is_raised_when_the_reader_reaches_it() -> None:
    def source(key: str) -> Iterator[str]:
        yield f"{key}0"
        if key == "c":
            msg = "page 2 of c failed"
            raise ValueError(msg)
        yield f"{key}1"

    reader = ReadAhead(SOURCES, source, workers=4, budget=100, name="test")

    assert list(reader.items("a")) == ["a0", "a1"]
    assert list(reader.items("b")) == ["b0", "b1"]
    items = reader.items("c")
    assert next(items) == "c0"
    with pytest.raises(ValueError, match="page 2 of c failed"):
        next(items)


def test_a_reader_that_stops_early_stops_the_fetching() -> None:
    fetched = 0

    def source(key: str) -> Iterator[str]:
        nonlocal fetched
        for number in range(1000):
            fetched += 1
            yield f"{key}{number}"

    reader = ReadAhead(SOURCES, source, workers=2, budget=8, name="test")
    items = reader.items("a")
    assert isinstance(items, Generator)
    next(items)
    items.close()
    time.sleep(0.1)
    settled = fetched
    time.sleep(0.1)

    assert fetched == settled < 8 + 2 + 2


def test_sources_must_be_read_in_their_order() -> None:
    reader = ReadAhead(SOURCES, lambda key: iter([key]), workers=2, budget=4, name="test")

    with pytest.raises(RuntimeError, match="out of order"):
        next(reader.items("b"))


# --- Search pages: as many requests outstanding as the reader needs ----------------------


class PagesSource:
    """A stand-in Search stream whose pages take ``latency`` and count what is outstanding."""

    def __init__(self, latency: float) -> None:
        """Pages that take ``latency`` seconds each."""
        self.config = {
            "max_concurrent_requests": 4,
            "search_row_cap": 0,
            "results_per_page": 500,
            "max_requests_per_query": 1000,
        }
        self.latency = latency
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = self.requested = 0

    def fetch_page(self, _context: object, page: object) -> object:
        with self.lock:
            self.requested += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.latency)
        with self.lock:
            self.in_flight -= 1
        return page


def test_search_pages_are_fetched_ahead_only_while_the_reader_waits_for_them() -> None:
    source = PagesSource(latency=0.03)
    reader = QueryReader(source, None, None)  # type: ignore[arg-type]  # _fetch counts nothing
    ahead = []

    for read, _ in enumerate(reader._fetch((), range(2, 42)), start=1):
        ahead.append(source.requested - read)
        if read > 12:
            time.sleep(0.1)  # from here on the target is the slow part: pages pile up

    assert source.requested == 40
    assert max(ahead[:12]) >= 3, "while the API was the slow part, pages were fetched ahead"
    # After a few pages that were ready before they were asked for, one page is ahead.
    assert max(ahead[24:]) <= 1


def test_search_pages_keep_every_worker_busy_behind_a_slow_api() -> None:
    source = PagesSource(latency=0.1)
    reader = QueryReader(source, None, None)  # type: ignore[arg-type]  # _fetch counts nothing

    pages = list(reader._fetch((), range(2, 22)))

    assert [page.number for page in pages] == list(range(2, 22))  # type: ignore[attr-defined]
    assert source.most_in_flight == 4
