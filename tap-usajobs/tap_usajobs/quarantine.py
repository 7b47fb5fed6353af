"""The ``quarantine`` stream: rows the tap could not load, kept as sent for a person to read.

A row is quarantined only when it cannot become a record at all: it is not a JSON
object, or it has no usable key (a control number, a code). Problems that can be
repaired or recorded never quarantine a row (conform.py). Each quarantined row is logged
with its stream, key and reason, counted in the sync summary, and written as a record of
this stream once every other stream is done. The partition it came from counts as read
incompletely, so nothing is closed on its account and the next run reads it again.
"""

from __future__ import annotations

import hashlib
import json
import sys
import typing as t
from datetime import datetime, timezone

from singer_sdk import Stream
from singer_sdk import typing as th

from tap_usajobs.conform import repair_text

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context

#: Rows held in memory for the end of the sync; past this, rows are only counted and logged.
MAX_HELD = 10_000

QUARANTINE = th.PropertiesList(
    th.Property(
        "quarantine_id",
        th.StringType,
        required=True,
        description="SHA-256 of the stream name and the row as sent: the key.",
    ),
    th.Property("stream", th.StringType, description="The stream the row was read for."),
    th.Property("record_key", th.StringType, description="The row's key as sent, if any."),
    th.Property("reason", th.StringType, description="Why the row could not be loaded."),
    th.Property(
        "raw_json",
        th.StringType,
        description=(
            "The row exactly as the API sent it, as JSON text (NUL characters stay escaped, "
            "so it is text, not jsonb)."
        ),
    ),
    th.Property(
        "quarantined_at",
        th.DateTimeType,
        description="When a sync last quarantined the row.",
    ),
)


def _key_text(key: object) -> str:
    text = key if isinstance(key, str) else json.dumps(key, ensure_ascii=True, default=str)
    return repair_text(text)[0][:200]


class QuarantineStream(Stream):
    """Rows of the other streams that could not be loaded, written after them."""

    name = "quarantine"
    primary_keys = ("quarantine_id",)
    schema = QUARANTINE.to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """Start with nothing held."""
        super().__init__(*args, **kwargs)
        self._held: dict[str, dict[str, t.Any]] = {}
        self.dropped = 0

    def hold(self, stream: str, key: object, reason: str, raw: object) -> str:
        """Keep ``raw`` for the end of the sync; return its quarantine ID."""
        # ensure_ascii: a NUL or a lone surrogate stays an escape, which text columns take.
        raw_json = json.dumps(raw, ensure_ascii=True, sort_keys=True, default=str)
        digest = hashlib.sha256(f"{stream}\n{raw_json}".encode()).hexdigest()
        if digest not in self._held and len(self._held) >= MAX_HELD:
            self.dropped += 1
            return digest
        self._held[digest] = {
            "quarantine_id": digest,
            "stream": stream,
            "record_key": None if key is None else _key_text(key),
            "reason": reason,
            "raw_json": raw_json,
            "quarantined_at": datetime.now(timezone.utc).isoformat(),
        }
        return digest

    @override
    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Every row held during the sync (the tap syncs this stream last)."""
        if self.dropped:
            self.logger.warning(
                "%d more quarantined rows were counted but not kept (over %d).",
                self.dropped,
                MAX_HELD,
            )
        held, self._held = self._held, {}
        yield from held.values()
