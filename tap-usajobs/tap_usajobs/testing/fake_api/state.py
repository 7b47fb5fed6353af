"""The fake's settings, and the postings, faults and request log its handlers share."""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tap_usajobs.testing.code_lists import CodeListStore
from tap_usajobs.testing.historic import HistoricStore
from tap_usajobs.testing.postings import generate_postings, new_posting

from .faults import apply_edit, fault
from .query import REQUEST_LOG_SIZE, SEARCH_PATH, Entry, Query, matches

if TYPE_CHECKING:
    from collections.abc import Iterable


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
    historic_latency_ms: int = 0  # sleep per Historic JOA request (benchmarks)
    # Historic JOA lists current announcements too: every Nth Search posting is mirrored
    # into it under its control number (0: none).
    historic_mirror_every: int = 4


class State:
    """Postings, pending faults and the request log, shared by handler threads."""

    def __init__(self, config: FakeApiConfig) -> None:
        """Generate the postings and the historic rows; no faults pending."""
        self.config = config
        self._lock = threading.Lock()
        items = generate_postings(
            config.postings, seed=config.seed, now=self.now(), detail_kb=config.detail_kb
        )
        # Replaced, never mutated, so searches can filter a snapshot outside the lock.
        self._entries = sorted(map(Entry.of, items), key=lambda entry: entry.key)
        self._next_index = config.postings
        self._faults = [fault(rule) for rule in config.faults]
        self.historic = HistoricStore(
            config.historic,
            seed=config.seed,
            now=self.now(),
            max_age_days=config.historic_days,
            page_size=config.historic_page_size,
            mirrored=items[:: config.historic_mirror_every] if config.historic_mirror_every else (),
        )
        self.code_lists = CodeListStore()
        self._keyless_requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._search_requests = 0
        self._by_status: Counter[str] = Counter()
        self._requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)

    def now(self) -> datetime:
        """Return the fake's notion of now (naive UTC, like the API's dates)."""
        return self.config.now or datetime.now(timezone.utc).replace(tzinfo=None)

    def search(self, query: Query) -> list[Entry]:
        """Return every matching posting, ordered by numeric MatchedObjectId."""
        with self._lock:
            entries = self._entries
        return [entry for entry in entries if matches(entry, query)]

    def postings(self) -> list[Entry]:
        """Return all current postings."""
        with self._lock:
            return self._entries

    def take_fault(self, page: int, keyword: str | None = None) -> dict[str, Any] | None:
        """Consume one use of the first pending rule that applies to this page and keyword."""
        with self._lock:
            for rule in self._faults:
                if rule["page"] in (None, page) and rule["keyword"] in (None, keyword):
                    rule["times"] -= 1
                    if rule["times"] == 0:
                        self._faults.remove(rule)
                    return dict(rule)
        return None

    def add_faults(self, rules: Iterable[object]) -> int:
        """Queue more fault rules; return how many are pending."""
        checked = [fault(rule) for rule in rules]
        with self._lock:
            self._faults.extend(checked)
            return len(self._faults)

    def clear_faults(self) -> None:
        """Drop every pending fault rule."""
        with self._lock:
            self._faults.clear()

    def record(  # noqa: PLR0913  # the fields of one log entry
        self,
        path: str,
        params: dict[str, str],
        status: int | None,
        fault: str | None,
        *,
        key_sent: bool,
        received_at: float,
    ) -> None:
        """Log one API request: never its headers, only whether a key came along.

        Status None means the socket was dropped; ``received_at`` is its arrival (epoch s).
        """
        with self._lock:
            if path.rstrip("/").lower() == SEARCH_PATH:
                self._search_requests += 1
            if status is not None:
                self._by_status[str(int(status))] += 1  # "200", not "HTTPStatus.OK" (3.10)
            entry = {
                "path": path,
                "params": params,
                "status": status,
                "fault": fault,
                "key_sent": key_sent,
                "received_at": received_at,
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
        self,
        path: str,
        params: dict[str, str],
        status: int,
        *,
        key_sent: bool,
        received_at: float,
    ) -> None:
        """Log a request to a public endpoint and whether a key came along (not its value)."""
        with self._lock:
            self._keyless_requests.append(
                {
                    "path": path,
                    "params": params,
                    "status": status,
                    "key_sent": key_sent,
                    "received_at": received_at,
                }
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
                Entry.of(make(start + i, fresh="other" if i % 2 else "data")) for i in range(count)
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
                    entry = Entry.of(item)  # noqa: PLW2901  # the edited posting replaces it
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
                        apply_edit(item, operation)
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
