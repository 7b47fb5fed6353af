"""What one sync did: records per stream, requests, retries, query sizes and time taken.

The tap logs the summary when a sync ends, as one structured log line (under Meltano's
structured logging its fields are JSON), and writes it to ``run_summary_path`` when that
setting is given, so an orchestrator can record the run without parsing logs.
"""

from __future__ import annotations

import json
import os
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

if t.TYPE_CHECKING:
    from singer_sdk.singerlib import Message


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
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, kind: t.Literal["requests", "retries"], stream: str) -> None:
        """Add one request or retry of ``stream``; page fetches run in threads."""
        with self._lock:
            getattr(self, kind)[stream] += 1

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
        }

    def describe(self, status: str) -> str:
        """One human line: how it ended, how long it took, what it read."""
        streams = ", ".join(f"{name}={count}" for name, count in sorted(self.records.items()))
        return (
            f"Sync {status} in {time.monotonic() - self._started:.1f} s: "
            f"{sum(self.records.values())} records ({streams or 'none'}), "
            f"{sum(self.requests.values())} requests, {sum(self.retries.values())} retries."
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

    def write_message(self, message: Message) -> None:
        """Count a record, then write the message as msgspec does."""
        if isinstance(message, RecordMessage):
            self.records[message.stream] += 1
        super().write_message(message)
