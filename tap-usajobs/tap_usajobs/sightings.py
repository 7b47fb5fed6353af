"""What each run of the ``jobs`` stream saw, for targets that keep every record as sent.

The ``jobs`` stream emits each posting once per run, however many keywords match it, and
closes postings with ACTIVATE_VERSION, which only some targets honour. These two streams
carry the rest, so that an append-only target (JSONL, CSV, Parquet) can tell the same
things as target-postgres:

- ``jobs_keywords``: one record per posting and keyword that matched it in the run.
- ``jobs_scans``: one record per run of ``jobs``, written after it, saying whether the
  run proved what is closed. A posting is open if a record of it carries the
  ``scan_version`` of the newest scan with ``closes_unseen`` true, or a later one.

Both are filled while ``jobs`` syncs and written once it is done: the tap syncs streams
in name order, and both names sort after ``jobs``.
"""

from __future__ import annotations

import sys
import typing as t

from singer_sdk import Stream
from singer_sdk import typing as th

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context

#: The stream whose sync fills these.
SOURCE_STREAM = "jobs"

SCAN_VERSION = th.Property(
    "scan_version",
    th.IntegerType,
    required=True,
    description=(
        "The run of the jobs stream that saw it: the run's start in Unix milliseconds, "
        "which is also the table version a full scan sends with ACTIVATE_VERSION."
    ),
)


class HeldStream(Stream):
    """Records gathered while another stream syncs, written when this one syncs."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """Start with nothing held."""
        super().__init__(*args, **kwargs)
        self._held: list[dict[str, t.Any]] = []

    def hold(self, record: dict[str, t.Any]) -> None:
        """Keep ``record`` for this stream's sync."""
        self._held.append(record)

    @override
    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Every record held so far."""
        held, self._held = self._held, []
        yield from held


class KeywordMatchesStream(HeldStream):
    """Which keywords matched each posting, one record per pair, per run."""

    name = "jobs_keywords"
    primary_keys = ("MatchedObjectId", "keyword")
    schema = th.PropertiesList(
        th.Property("MatchedObjectId", th.StringType, required=True),
        th.Property(
            "keyword",
            th.StringType,
            required=True,
            description="A keyword setting whose query returned the posting.",
        ),
        SCAN_VERSION,
    ).to_dict()


class ScansStream(HeldStream):
    """One record per run of the ``jobs`` stream, written after its postings."""

    name = "jobs_scans"
    primary_keys = ("scan_version",)
    schema = th.PropertiesList(
        SCAN_VERSION,
        th.Property("started_at", th.DateTimeType, required=True),
        th.Property("finished_at", th.DateTimeType, required=True),
        th.Property(
            "full_scan",
            th.BooleanType,
            required=True,
            description="Every page of every query (false: only recent postings).",
        ),
        th.Property(
            "complete",
            th.BooleanType,
            required=True,
            description="Every query was proven read whole (search.py).",
        ),
        th.Property(
            "closes_unseen",
            th.BooleanType,
            required=True,
            description=(
                "A full, complete and unsharded scan: a posting it did not emit has left "
                "the search results. The tap sent ACTIVATE_VERSION for it."
            ),
        ),
        th.Property("postings", th.IntegerType, description="Postings the run emitted."),
    ).to_dict()
