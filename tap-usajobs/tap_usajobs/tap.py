"""The tap-usajobs Tap class and its settings."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import typing as t
from collections import Counter
from pathlib import Path

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_usajobs.client import ContentRefusedError
from tap_usajobs.codelists import CODE_LIST_SETTINGS, CODE_LISTS, CodeListStream
from tap_usajobs.historic import HISTORIC_SETTINGS, AnnouncementTextsStream, HistoricJobsStream
from tap_usajobs.quarantine import QuarantineStream
from tap_usajobs.settings import (
    CONFIG_HINT,
    check_settings,
    meltano_select_patterns,
    unknown_select_patterns,
)
from tap_usajobs.sightings import SOURCE_STREAM, KeywordMatchesStream, ScansStream
from tap_usajobs.streams import SearchJobsStream
from tap_usajobs.summary import (
    EX_INCOMPLETE,
    EX_REFUSED,
    CountingWriter,
    SyncSummary,
    write_atomically,
)

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.streams import Stream

MAX_RESULTS_PER_PAGE = 500
#: An SDK schema error about one setting: "... in config['name']" or "'name' is a required
#: property".
_SDK_ERROR_SETTING = re.compile(r"in config\['([^']+)'\]|^'([^']+)' is a required property")


class TapUsaJobs(Tap):
    """Singer tap for federal job postings from the USAJobs API."""

    name = "tap-usajobs"
    # msgspec writes Singer messages several times faster than the default json encoder;
    # postings are 10-20 KB each, so serialisation is a large share of a sync.
    message_writer_class = CountingWriter

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
            description=(
                "Seconds to wait for a whole answer, headers and body, before retrying it."
            ),
        ),
        th.Property(
            "max_concurrent_requests",
            th.IntegerType(minimum=1, maximum=16),
            default=4,
            title="Concurrent page requests",
            description=(
                "Search pages of one query fetched at once (fewer while pages wait unread), "
                "and Historic JOA month windows paged through at once. 1 fetches strictly "
                "one page after another."
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
        th.Property(
            "max_requests_per_query",
            th.IntegerType(minimum=1),
            default=2000,
            title="Request budget per query",
            description=(
                "The most requests one query may make: a keyword's search with its pages "
                "and splits, or a month window of a historic stream. Past it the query "
                "stops and counts as read incompletely, so an API that never stops "
                "paging, or ignores the filters a capped query is split by, cannot keep "
                "a run going."
            ),
        ),
        th.Property(
            "max_unreadable_share",
            th.NumberType(minimum=0, maximum=1),
            default=0.5,
            title="Unreadable share that stops a run",
            description=(
                "A page on which one field cannot be read on more than this share of the "
                "rows (and on at least 3) means the API changed the field's format: the "
                "run stops before writing the page (exit 76), so that nulls never replace "
                "good values. A single unreadable value is null, kept as sent in "
                "unreadable_values. 1 turns the stop off."
            ),
        ),
        *HISTORIC_SETTINGS,
        *CODE_LIST_SETTINGS,
        th.Property(
            "run_summary_path",
            th.StringType(min_length=1),
            title="Run summary file",
            description=(
                "When set, the tap writes a JSON summary of the sync here when it ends, "
                "failed or not: records per stream, requests, retries, each Search "
                "query's reported size and the elapsed time. The same summary is "
                "always logged."
            ),
        ),
    ).to_dict()

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Parse the settings, then check them: one message per bad setting, with its fix.

        String values of typed settings are parsed in place (see ``tap_usajobs.settings``).
        Discovery does not need valid settings, so it validates without raising, and
        quietly: a run's sync reports the problems, once.
        """
        problems = check_settings(
            self._config, TAP_SETTINGS, self.config_jsonschema.get("required", ())
        )
        errors = list(problems.values())
        try:
            # The schema itself, for the SDK's built-in settings (stream maps, flattening,
            # batch); it also fills in the defaults.
            super()._validate_config(raise_errors=True)
        except ConfigValidationError as exc:
            errors.extend(error for error in exc.errors if _setting_of(error) not in problems)
        if errors and raise_errors:
            msg = "Config validation failed"
            raise ConfigValidationError(
                msg, errors=[*errors, CONFIG_HINT], schema=self.config_jsonschema
            )
        if errors:
            self.logger.debug("Config validation failed: %s", errors)
        return errors

    @override
    def setup_mapper(self) -> None:
        """Refuse a stream selection that would sync nothing, then set up stream maps.

        The SDK sets up the mapper only for a sync or ``--test``, never for discovery, and
        before anything is written: the earliest point that knows the selection.
        """
        errors = self._selection_errors()
        if errors:
            msg = "Stream selection failed"
            raise ConfigValidationError(msg, errors=errors)
        super().setup_mapper()

    def _selection_errors(self) -> list[str]:
        """A Meltano ``select`` pattern naming no stream, or a catalog selecting nothing."""
        names = sorted(self.streams)
        listing = (
            f"tap-usajobs has the streams {', '.join(names)}; "
            "`meltano select tap-usajobs --list --all` lists them with their properties"
        )
        unknown = unknown_select_patterns(meltano_select_patterns(os.environ), names)
        if unknown:
            return [
                f"select pattern {pattern!r} matches no stream of tap-usajobs: fix it in "
                f"meltano.yml (select:) or TAP_USAJOBS__SELECT. {listing}."
                for pattern in unknown
            ]
        held = (KeywordMatchesStream.name, ScansStream.name)
        orphans = [name for name in held if self.streams[name].selected]
        if orphans and not self.streams[SOURCE_STREAM].selected:
            return [
                f"{', '.join(orphans)} record what the {SOURCE_STREAM} stream saw, so they "
                f"need {SOURCE_STREAM} selected too. {listing}."
            ]
        if not any(s.selected or s.has_selected_descendents for s in self.streams.values()):
            return [
                "No stream is selected, so the run would sync nothing: select at least one "
                "in the catalog, or under Meltano in meltano.yml (select:) or "
                f'TAP_USAJOBS__SELECT, e.g. ["jobs.*"]. {listing}.'
            ]
        return []

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: as the SDK's, but bad settings end in their messages, not a traceback."""
        try:
            super().cb_test(ctx, param, value)
        except ConfigValidationError as exc:
            for error in exc.errors:
                cls.logger.error(error)  # noqa: TRY400 - the messages are the point
            cls.logger.error("Config validation failed")  # noqa: TRY400
            ctx.exit(1)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """Set up the tap and the counters of its sync."""
        super().__init__(*args, **kwargs)
        writer = self.message_writer
        records = writer.records if isinstance(writer, CountingWriter) else Counter()
        self.sync_summary = SyncSummary(records=records)
        # The CLI builds the tap inside ``invoke``; keep the latest so ``invoke`` can
        # report on the sync it ran.
        type(self).last_built = self

    last_built: t.ClassVar[TapUsaJobs | None] = None

    @classmethod
    @override
    def invoke(cls, **kwargs: t.Any) -> None:
        """Run a sync from the command line, then log and write how it went.

        Exits 75 when a partition was not read whole (what was read is written, and
        nothing is closed), and 76 when a changed field stopped the sync; the last log
        lines say which and why.
        """
        cls.last_built = None
        try:
            super().invoke(**kwargs)
        except ContentRefusedError as exc:
            tap = cls.last_built
            if tap is not None:
                tap.report("refused", error=str(exc))
            cls.logger.error("%s", exc)  # noqa: TRY400 - the message is the point
            sys.exit(EX_REFUSED)
        except BaseException as exc:  # a signal's SystemExit is a failed sync too
            if cls.last_built is not None and not isinstance(exc, click.exceptions.Exit):
                cls.last_built.report("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        tap = cls.last_built
        if tap is None:
            return
        incomplete = tap.sync_summary.incomplete
        if not incomplete:
            tap.report("succeeded")
            return
        tap.report("incomplete")
        for label, reasons in sorted(incomplete.items()):
            cls.logger.error("%s was not read whole: %s.", label, "; ".join(reasons))
        cls.logger.error(
            "The sync wrote what it read, closed nothing and kept those bookmarks; the next "
            "run reads them again (exit %d, docs/runbook.md#incomplete-read-exit-75).",
            EX_INCOMPLETE,
        )
        sys.exit(EX_INCOMPLETE)

    def report(self, status: str, error: str | None = None) -> None:
        """Log the sync summary as one structured line, and write it where configured."""
        if error:
            error = self._without_secrets(error)
        document = self.sync_summary.as_dict(status, error=error)
        self.logger.info(self.sync_summary.describe(status), extra={"run_summary": document})
        path = self.config.get("run_summary_path")
        if path:
            try:
                write_atomically(Path(path), document)
            except OSError as exc:  # the sync's outcome stands; the summary is in the log
                self.logger.warning("Could not write run_summary_path %s: %s", path, exc)

    def _without_secrets(self, text: str) -> str:
        """``text`` with the value of every secret setting masked."""
        for name, schema in TAP_SETTINGS.items():
            value = self.config.get(name)
            if schema.get("secret") and isinstance(value, str) and value:
                text = text.replace(value, "***")
        return text

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """On SIGTERM or SIGINT, stop now, even while a page request hangs in a worker.

        The SDK's handler writes the final STATE and raises SystemExit(0) in the main
        thread. The interpreter would then wait for the page-fetch threads to finish
        their requests and retries: up to (max_retries + 1) x request_timeout, well past
        a container's grace period, after which a SIGKILL leaves Meltano's run record
        looking alive. Everything written is complete (a signal is handled between
        messages) and is flushed; the summary is reported; then the process exits as the
        SDK would, with 0. The target commits what it received before it emits state.
        """
        with contextlib.suppress(SystemExit):  # the SDK's sys.exit(0), after the STATE
            super()._handle_termination(signum, frame)
        self.report("stopped", error=f"stopped by signal {signum}")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    @override
    def discover_streams(self) -> list[Stream]:
        """The tap's streams."""
        return [
            SearchJobsStream(self),
            # Synced after jobs (streams sync in name order): what its run saw.
            KeywordMatchesStream(self),
            ScansStream(self),
            HistoricJobsStream(self),
            AnnouncementTextsStream(self),
            *(CodeListStream(self, code_list) for code_list in CODE_LISTS),
            # Last: it writes the rows the streams above could not load.
            QuarantineStream(self),
        ]


#: The tap's own settings, captured before the SDK adds its built-in ones to the schema.
TAP_SETTINGS = dict(TapUsaJobs.config_jsonschema["properties"])


def _setting_of(error: str) -> str | None:
    match = _SDK_ERROR_SETTING.search(error)
    return (match.group(1) or match.group(2)) if match else None
