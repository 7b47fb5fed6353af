"""The private singer-sdk members the tap relies on still exist, as the tap uses them.

The SDK's public hooks carry ``@override``, so mypy notices when one goes away. Private
members have no such check: an SDK upgrade may rename or drop one, and the tap would
then fail at run time, or worse, quietly do something else. Each test names what the
tap does with the member, so a failure says what to port.
"""

from __future__ import annotations

import inspect

from singer_sdk import Stream, Tap
from singer_sdk.helpers import _state
from singer_sdk.plugin_base import PluginBase
from singer_sdk.streams import RESTStream


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_request_and_its_preparation() -> None:
    # SearchJobsStream.fetch_page prepares each page itself and sends it with the SDK's
    # retrying _request, so that pages can be fetched from a pool of threads.
    assert _parameters(RESTStream._request) == ["self", "prepared_request", "context"]
    assert _parameters(RESTStream._prepare_request) == ["self", "context", "page"]


def test_activate_version_message_and_stream_version() -> None:
    # A complete full scan, and a code list read whole, close what they did not see.
    assert _parameters(Stream._write_activate_version_message) == ["self", "full_table_version"]
    stream_source = inspect.getsource(Stream)
    assert "self._stream_version" in stream_source, "records carry the scan's table version"


def test_config_validation_and_termination_hooks() -> None:
    # TapUsaJobs._validate_config parses settings given as text before the SDK's check;
    # _handle_termination stops at once on SIGTERM, even while a page request hangs.
    assert _parameters(Tap._validate_config) == ["self", "raise_errors"]
    assert _parameters(Tap._handle_termination) == ["self", "signum", "frame"]
    assert "self._config" in inspect.getsource(PluginBase.__init__)


def test_progress_markers_of_an_unsorted_partition() -> None:
    # A query not read whole drops its progress markers, so its bookmark stays; a
    # posting dated in the future has its marker clamped to now.
    assert _state.PROGRESS_MARKERS == "progress_markers"
    state = {"progress_markers": {"replication_key_value": "x"}, "replication_key_value": "old"}
    _state.reset_state_progress_markers(state)
    assert state == {"replication_key_value": "old"}


def test_streams_reach_their_tap() -> None:
    # Streams report to the tap's sync summary and hand rows to its quarantine stream.
    assert "self._tap = tap" in inspect.getsource(Stream.__init__)


def test_state_finalized_and_written_per_partition() -> None:
    # SearchJobsStream.get_records finalizes a keyword's bookmark and writes STATE as soon
    # as its query is done, before the next keyword's.
    assert _parameters(Stream._finalize_state) == ["self", "state"]
    assert _parameters(Stream._write_state_message) == ["self"]


def test_state_advanced_by_a_record_not_emitted() -> None:
    # A posting an earlier keyword's query emitted still moves this keyword's bookmark.
    assert _parameters(Stream._increment_stream_state) == ["self", "latest_record", "context"]
