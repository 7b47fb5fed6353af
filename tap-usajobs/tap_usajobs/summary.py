"""What one sync did: records per stream, requests, retries, query sizes and time taken.

The tap logs the summary when a sync ends, as one structured log line (under Meltano's
structured logging its fields are JSON), and writes it to ``run_summary_path`` when that
setting is given, so an orchestrator can record the run without parsing logs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import typing as t
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.singerlib import Message


#: Exit code of a sync that read less than the API said there was, or could not load a
#: row: what was read is written, nothing is closed, no bookmark moves past it, and the
#: next run reads it again (sysexits' EX_TEMPFAIL).
EX_INCOMPLETE = 75
#: Exit code of a sync that stopped because the API changed the shape of its answers:
#: a field unreadable on most rows of a page. Nothing of that page was written
#: (sysexits' EX_PROTOCOL).
EX_REFUSED = 76
#: Warnings logged per stream, field and kind of problem; the rest are only counted.
LOGGED_PROBLEMS = 5


@dataclass
class QueryCount:
    """What the API reported for one Search query: its size, and whether the read was whole."""

    reported: int
    full_scan: bool
    complete: bool


@dataclass
class SyncSummary:
    """Counters a sync fills in as it goes."""

    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    _started: float = field(default_factory=time.monotonic)
    records: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    queries: dict[str, QueryCount] = field(default_factory=dict)
    #: Repairs, unreadable values and unknown fields: (stream, field, kind) -> rows.
    content: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    #: Partitions read incompletely (a query, a month window, a code list) -> why.
    incomplete: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, kind: t.Literal["requests", "retries"], stream: str) -> None:
        """Add one request or retry of ``stream``; page fetches run in threads."""
        with self._lock:
            getattr(self, kind)[stream] += 1

    def note(self, stream: str, field_path: str, kind: str) -> bool:
        """Count one problem of a row; whether it is among the first few, worth a log line."""
        key = (stream, field_path, kind)
        self.content[key] += 1
        return self.content[key] <= LOGGED_PROBLEMS

    def mark_incomplete(self, label: str, reasons: list[str]) -> None:
        """Record that a partition was not read whole, and why."""
        self.incomplete.setdefault(label, []).extend(reasons)

    def as_dict(self, status: str, error: str | None = None) -> dict[str, t.Any]:
        """A JSON-ready view of the counters, stamped with how the sync ended."""
        return {
            "status": status,
            "error": error,
            "started_at": self.started_at.isoformat(),
            "ended_at": datetime.now(timezone.utc).isoformat(),
            "elapsed_seconds": round(time.monotonic() - self._started, 3),
            "records": dict(sorted(self.records.items())),
            "requests": dict(sorted(self.requests.items())),
            "retries": dict(sorted(self.retries.items())),
            "total_records": sum(self.records.values()),
            "total_requests": sum(self.requests.values()),
            "total_retries": sum(self.retries.values()),
            "queries": {
                label: {
                    "reported": count.reported,
                    "full_scan": count.full_scan,
                    "complete": count.complete,
                }
                for label, count in sorted(self.queries.items())
            },
            "content": self._content_tree(),
            "quarantined": dict(sorted(self.quarantined.items())),
            "total_quarantined": sum(self.quarantined.values()),
            "incomplete": dict(sorted(self.incomplete.items())),
        }

    def _content_tree(self) -> dict[str, dict[str, dict[str, int]]]:
        tree: dict[str, dict[str, dict[str, int]]] = {}
        for (stream, field_path, kind), rows in sorted(self.content.items()):
            tree.setdefault(stream, {}).setdefault(field_path, {})[kind] = rows
        return tree

    def describe(self, status: str) -> str:
        """One human line: how it ended, how long it took, what it read."""
        streams = ", ".join(f"{name}={count}" for name, count in sorted(self.records.items()))
        kinds = Counter[str]()
        for (_, _, kind), rows in self.content.items():
            kinds[kind] += rows
        content = "".join(
            f", {rows} {kind.replace('_', ' ')}" for kind, rows in sorted(kinds.items())
        )
        quarantined = sum(self.quarantined.values())
        return (
            f"Sync {status} in {time.monotonic() - self._started:.1f} s: "
            f"{sum(self.records.values())} records ({streams or 'none'}), "
            f"{sum(self.requests.values())} requests, {sum(self.retries.values())} retries"
            f"{content}{f', {quarantined} quarantined' if quarantined else ''}"
            f"{f', {len(self.incomplete)} read incompletely' if self.incomplete else ''}."
        )


def write_atomically(path: Path, document: dict[str, t.Any]) -> None:
    """Replace ``path`` with ``document`` as JSON, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(document, file, indent=2)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class CountingWriter(MsgSpecWriter):
    """msgspec's fast Singer writer, counting the records it writes per stream."""

    def __init__(self) -> None:
        """Start with no records written."""
        super().__init__()
        self.records: Counter[str] = Counter()

    @override
    def write_message(self, message: Message) -> None:
        """Count a record, then write the message as msgspec does."""
        if isinstance(message, RecordMessage):
            self.records[message.stream] += 1
        super().write_message(message)
