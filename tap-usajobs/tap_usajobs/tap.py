"""The tap-usajobs Tap class and its settings."""

from __future__ import annotations

import re
import typing as t

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError

from tap_usajobs.codelists import CODE_LISTS, CodeListStream
from tap_usajobs.historic import HISTORIC_SETTINGS, AnnouncementTextsStream, HistoricJobsStream
from tap_usajobs.streams import SearchJobsStream

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

#: Loose on purpose: USAJobs only needs something that is plainly an email address.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_RESULTS_PER_PAGE = 500
_CONFIG_HINT = (
    "Settings come from the tap's --config file or, under Meltano, from "
    "TAP_USAJOBS_<SETTING> environment variables (e.g. TAP_USAJOBS_API_KEY, "
    "TAP_USAJOBS_USER_AGENT); `meltano config list tap-usajobs` shows them."
)


class TapUsaJobs(Tap):
    """Singer tap for federal job postings from the USAJobs API."""

    name = "tap-usajobs"
    # msgspec writes Singer messages several times faster than the default json encoder;
    # postings are 10-20 KB each, so serialisation is a large share of a sync.
    message_writer_class = MsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType(min_length=1),
            required=True,
            secret=True,
            title="API key",
            description="USAJobs API key, sent as the Authorization-Key header.",
        ),
        th.Property(
            "user_agent",
            th.StringType(min_length=3),
            required=True,
            title="User agent (email)",
            description="The email address the API key was issued to; sent as User-Agent.",
        ),
        th.Property(
            "base_url",
            th.URIType,
            default="https://data.usajobs.gov",
            title="Base URL",
            description="API root. Point it at a fake or proxy for testing.",
        ),
        th.Property(
            "keywords",
            th.ArrayType(th.StringType),
            default=["data engineering"],
            title="Keywords",
            description=(
                "Search keywords. Each is its own query and its own state partition. "
                "An empty list runs one query without a keyword."
            ),
        ),
        th.Property(
            "search_params",
            th.ObjectType(additional_properties=True),
            default={},
            title="Extra search parameters",
            description=(
                "Further Search API filters passed through as given, e.g. "
                '{"Organization": "AF", "LocationName": "Denver, Colorado"}.'
            ),
        ),
        th.Property(
            "results_per_page",
            th.IntegerType(minimum=1, maximum=MAX_RESULTS_PER_PAGE),
            default=MAX_RESULTS_PER_PAGE,
            title="Results per page",
            description="Page size for Search requests; the API allows at most 500.",
        ),
        th.Property(
            "search_row_cap",
            th.IntegerType(minimum=0),
            default=10_000,
            title="Rows served per query",
            description=(
                "The Search API serves at most this many rows of one query (10,000). Change "
                "it only for a fake or mirror without the cap; 0 means no cap."
            ),
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description=(
                "On a first run, only fetch postings published since this date (the API "
                "can narrow at most 60 days back; older dates mean a full scan). The "
                "historic streams read months of opening dates from this date on."
            ),
        ),
        th.Property(
            "lookback_days",
            th.NumberType(minimum=0),
            default=2,
            title="Incremental lookback (days)",
            description=(
                "How far before the saved bookmark an incremental run reaches again, to "
                "catch postings the API publishes late."
            ),
        ),
        th.Property(
            "full_scan_every_hours",
            th.IntegerType(minimum=0),
            default=20,
            title="Full scan interval (hours)",
            description=(
                "A run reads every query in full (no DatePosted) when the last full scan "
                "is older than this; a complete full scan marks postings that left the "
                "results as closed. 0 makes every run a full scan."
            ),
        ),
        th.Property(
            "request_timeout",
            th.IntegerType(minimum=1),
            default=60,
            title="Request timeout (seconds)",
            description="Seconds to wait for a response before retrying it.",
        ),
        th.Property(
            "max_concurrent_requests",
            th.IntegerType(minimum=1, maximum=16),
            default=4,
            title="Concurrent page requests",
            description=(
                "Pages of one query fetched in parallel once page 1 gives the page count. "
                "1 pages strictly one after another."
            ),
        ),
        th.Property(
            "max_retries",
            th.IntegerType(minimum=0),
            default=6,
            title="Maximum retries",
            description="Retries per request on 429, 5xx, timeouts and broken responses.",
        ),
        th.Property(
            "backoff_base_ms",
            th.IntegerType(minimum=0),
            default=1000,
            title="Backoff base (milliseconds)",
            description="Base of the exponential backoff: retry n waits up to base*2^n.",
        ),
        th.Property(
            "backoff_max_seconds",
            th.IntegerType(minimum=0),
            default=120,
            title="Longest backoff (seconds)",
            description="Cap on a single wait between retries, Retry-After included.",
        ),
        th.Property(
            "shard_count",
            th.IntegerType(minimum=1),
            default=1,
            title="Shard count",
            description=(
                "Split the queries across this many parallel tasks; each task syncs the "
                "queries that hash to its shard_index and needs its own state ID."
            ),
        ),
        th.Property(
            "shard_index",
            th.IntegerType(minimum=0),
            default=0,
            title="Shard index",
            description="Which shard this task syncs, from 0 to shard_count - 1.",
        ),
        *HISTORIC_SETTINGS,
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Schema checks plus the ones a schema cannot say plainly, with a fix hint."""
        errors = super()._validate_config(raise_errors=False)
        user_agent = self.config.get("user_agent")
        if isinstance(user_agent, str) and not _EMAIL.match(user_agent):
            errors.append(
                "user_agent must be the email address the API key was issued to, "
                f"got {user_agent!r}."
            )
        if int(self.config.get("shard_index", 0)) >= int(self.config.get("shard_count", 1)):
            errors.append("shard_index must be less than shard_count.")
        api_key = self.config.get("api_key")
        if isinstance(api_key, str) and api_key != api_key.strip():
            errors.append("api_key has leading or trailing whitespace; paste it again.")
        if errors and raise_errors:
            errors.append(_CONFIG_HINT)
            summary = "Config validation failed"
            raise ConfigValidationError(
                summary,
                errors=errors,
                schema=self.config_jsonschema,
            )
        return errors

    def discover_streams(self) -> list[Stream]:
        """The tap's streams."""
        return [
            SearchJobsStream(self),
            HistoricJobsStream(self),
            AnnouncementTextsStream(self),
            *(CodeListStream(self, code_list) for code_list in CODE_LISTS),
        ]
