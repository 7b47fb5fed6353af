"""Code list streams: one per USAJobs code list, ``GET /api/codelist/<name>``.

Every list has the same shape::

    {"CodeList": [{"ValidValue": [{"Code", "Value", "LastModified", "IsDisabled", ...}],
                   "id": "PositionScheduleType"}],
     "DateGenerated": "2024-07-01T16:39:12.9454839Z"}

with a few list-specific fields (``ParentCode`` and ``Acronym`` of agency subelements,
``JobFamily`` of occupational series). A list is small and has no change feed, so it is
read whole, in one request, and then ``ACTIVATE_VERSION`` goes out: a target that
honours it (target-postgres with ``activate_version: true``) marks codes that disappeared
as deleted. ``IsDisabled`` codes are kept, as a boolean: old postings still use them.

Lists change rarely, so a list read whole within ``code_list_refresh_days`` is not read
again: the run sends nothing for it, neither rows nor ``ACTIVATE_VERSION``, and the
target keeps the list as it is. A read that was not whole does not count.
"""

from __future__ import annotations

import sys
import time
import typing as t
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_usajobs.client import UsaJobsStream
from tap_usajobs.schemas import UNREADABLE_VALUES

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

_COMMON_FIELDS = (
    th.Property("Code", th.StringType, required=True, description="The code; the key."),
    th.Property("Value", th.StringType, description="What the code means."),
    th.Property(
        "LastModified",
        th.DateTimeType,
        description="Last change of the code; the API sends no zone, read as UTC.",
    ),
    th.Property("IsDisabled", th.BooleanType, description='Sent as "Yes"/"No".'),
)


#: Stream-state key: how many codes the last complete read of a list found.
CODES_READ_KEY = "codes_read"
#: Stream-state key: the UTC date of the last complete read.
READ_ON_KEY = "read_on"

#: A list that shrinks below this share of its last read retires nothing.
MIN_SHARE_OF_LAST_READ = 0.5

CODE_LIST_SETTINGS = (
    th.Property(
        "code_list_refresh_days",
        th.IntegerType(minimum=0),
        default=7,
        title="Code list refresh interval (days)",
        description=(
            "A code list read whole within this many days is not read again; its table "
            "stays as it is. 0 reads every selected list on every run."
        ),
    ),
)


@dataclass(frozen=True)
class CodeList:
    """One code list: its API name, its stream name and the fields only it has."""

    route: str
    stream_name: str
    extra_fields: tuple[str, ...] = ()

    @property
    def schema(self) -> dict[str, t.Any]:
        """The common fields, then the list's own ones (all strings)."""
        extras = (th.Property(field, th.StringType) for field in self.extra_fields)
        return th.PropertiesList(*_COMMON_FIELDS, *extras, UNREADABLE_VALUES).to_dict()


#: The lists the tap offers; adding one is one line here (plus test data for the fake).
CODE_LISTS = (
    CodeList("agencysubelements", "agency_subelements", ("ParentCode", "Acronym")),
    CodeList("countries", "countries"),
    CodeList("countrysubdivisions", "country_subdivisions", ("ParentCode",)),
    CodeList("hiringpaths", "hiring_paths"),
    CodeList("occupationalseries", "occupational_series", ("JobFamily",)),
    CodeList("payplans", "pay_plans"),
    CodeList("positionofferingtypes", "position_offering_types"),
    CodeList("positionopeningstatuses", "position_opening_statuses"),
    CodeList("positionscheduletypes", "position_schedule_types"),
    CodeList("remunerationrateintervalcodes", "remuneration_rate_interval_codes"),
    CodeList("securityclearances", "security_clearances"),
    CodeList("servicetypes", "service_types"),
    CodeList("travelpercentages", "travel_percentages"),
    CodeList("whomayapply", "who_may_apply"),
)


class CodeListStream(UsaJobsStream):
    """One code list, read whole every run; codes that vanish are retired downstream."""

    sends_api_key = False
    selected_by_default = False  # select the lists you need in the catalog
    primary_keys = ("Code",)
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    def __init__(self, tap: Tap, code_list: CodeList) -> None:
        """A stream for ``code_list``."""
        super().__init__(
            tap,
            name=code_list.stream_name,
            schema=code_list.schema,
            path=f"/api/codelist/{code_list.route}",
        )
        self.code_list = code_list

    @property
    @override
    def partitions(self) -> list[dict[str, t.Any]] | None:
        """None: one request, made by every shard (each must see the whole list)."""
        return None

    @override
    def get_new_paginator(self) -> None:
        """A list comes in one response."""
        return

    @override
    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The whole list, then ``ACTIVATE_VERSION`` to retire the codes it no longer has.

        The message goes out only after every code was read: sent first (the SDK's
        ``emit_activate_version_messages``), a request that then failed would leave the
        target with the whole list marked deleted until the next good run. Nor does it
        go out when a row had to be quarantined, or when the list shrank to less than
        half of what the last read found: a list cut short by the API must not retire
        codes that still exist.
        """
        today = datetime.now(timezone.utc).date()
        due = self._next_read(today)
        if due > today:
            self.logger.info(
                "%s: read whole on %s; not read again before %s (code_list_refresh_days).",
                self.name,
                self.stream_state[READ_ON_KEY],
                due.isoformat(),
            )
            return
        version = int(time.time() * 1000)
        self._stream_version = version  # every record carries the list's new version
        seen: set[str] = set()
        quarantined_before = self.quarantined_rows
        for record in super().get_records(context):
            if record["Code"] in seen:  # a list padded with repeats must not look whole
                continue
            seen.add(record["Code"])
            yield record
        codes = len(seen)
        last = self.stream_state.get(CODES_READ_KEY)
        problems = []
        if not codes:
            problems.append("it came back empty")
        elif isinstance(last, int) and codes < last * MIN_SHARE_OF_LAST_READ:
            problems.append(f"it shrank from {last} codes to {codes}")
        if self.quarantined_rows > quarantined_before:
            problems.append(f"{self.quarantined_rows - quarantined_before} rows were quarantined")
        if problems:
            self.sync_summary.mark_incomplete(self.name, problems)
            self.logger.warning(
                "%s: no code is retired, because %s (docs/runbook.md#a-code-list-shrank).",
                self.name,
                " and ".join(problems),
            )
            return
        self.stream_state[CODES_READ_KEY] = codes
        self.stream_state[READ_ON_KEY] = today.isoformat()
        self._write_activate_version_message(version)

    def _next_read(self, today: date) -> date:
        """When the list is due: at once, unless a whole read happened recently."""
        interval = int(self.config["code_list_refresh_days"])
        try:
            read_on = date.fromisoformat(str(self.stream_state[READ_ON_KEY]))
        except (KeyError, ValueError):
            return today
        if not interval or read_on > today:  # a date from the future proves nothing
            return today
        return read_on + timedelta(days=interval)

    @override
    def find_shape_problem(self, body: t.Any) -> str | None:
        """A list must carry ``CodeList[].ValidValue`` lists."""
        problem = super().find_shape_problem(body)
        if problem:
            return problem
        lists = body.get("CodeList")
        if not isinstance(lists, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("ValidValue"), list) for entry in lists
        ):
            return "CodeList is not a list of objects with a ValidValue list"
        return None

    @override
    def records_from_payload(self, body: dict[str, t.Any]) -> Iterable[t.Any]:
        """Every valid value of every ``CodeList`` entry (there is one)."""
        for entry in body["CodeList"]:
            yield from entry["ValidValue"]
