"""Full scans, incremental scans, and closing postings that left the results."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from conftest import NOW, control, expected_ids, search_requests, sync
from test_http import KEYWORD, bookmark_state

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_usajobs.testing.fake_api import FakeUsaJobsServer

    MakeConfig = Callable[..., dict[str, Any]]


def _activations(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "ACTIVATE_VERSION"]


def _state_with_full_scan(hours_ago: float) -> dict[str, Any]:
    state = bookmark_state((KEYWORD, NOW - timedelta(days=1)))
    state["bookmarks"]["jobs"]["last_full_scan_started_at"] = (
        NOW - timedelta(hours=hours_ago)
    ).isoformat()
    return state


def _scan(result: Any) -> dict[str, Any]:
    """The run's one ``jobs_scans`` record, which must come after every posting."""
    (scan,) = result.records_of("jobs_scans")
    kinds = [(m["type"], m.get("stream")) for m in result.messages]
    assert kinds.index(("RECORD", "jobs_scans")) > max(
        index for index, kind in enumerate(kinds) if kind == ("RECORD", "jobs")
    )
    return scan


def test_first_run_is_a_full_scan_that_activates_its_version(tap_config: MakeConfig) -> None:
    result = sync(tap_config())

    (activation,) = _activations(result.messages)
    records = [m for m in result.messages if m["type"] == "RECORD" and m["stream"] == "jobs"]
    assert {m["version"] for m in records} == {activation["version"]}
    last = result.messages.index(activation)
    assert all(result.messages.index(m) < last for m in records), "close only after all rows"
    assert "last_full_scan_started_at" in result.final_state["bookmarks"]["jobs"]
    # What a target that ignores ACTIVATE_VERSION reads instead.
    scan = _scan(result)
    assert scan["scan_version"] == activation["version"]
    assert (scan["full_scan"], scan["complete"], scan["closes_unseen"]) == (True, True, True)
    assert scan["postings"] == len(records)
    assert {m["record"]["scan_version"] for m in records} == {activation["version"]}


@pytest.mark.usefixtures("frozen_tap_clock")
def test_recent_full_scan_means_an_incremental_run_that_closes_nothing(
    fake_api: FakeUsaJobsServer,
    tap_config: MakeConfig,
) -> None:
    result = sync(tap_config(), state=_state_with_full_scan(hours_ago=3))

    assert _activations(result.messages) == []
    assert all("DatePosted" in r["params"] for r in search_requests(fake_api))
    scan = _scan(result)
    assert (scan["full_scan"], scan["complete"], scan["closes_unseen"]) == (False, True, False)
    assert {r["scan_version"] for r in result.records} == {scan["scan_version"]}


@pytest.mark.usefixtures("frozen_tap_clock")
def test_stale_full_scan_triggers_a_full_scan(
    fake_api: FakeUsaJobsServer,
    tap_config: MakeConfig,
) -> None:
    result = sync(tap_config(full_scan_every_hours=20), state=_state_with_full_scan(hours_ago=21))

    assert len(_activations(result.messages)) == 1
    assert not any("DatePosted" in r["params"] for r in search_requests(fake_api))


@pytest.mark.usefixtures("frozen_tap_clock")
def test_full_scan_every_hours_zero_scans_in_full_every_run(
    tap_config: MakeConfig,
) -> None:
    result = sync(tap_config(full_scan_every_hours=0), state=_state_with_full_scan(hours_ago=1))

    assert len(_activations(result.messages)) == 1


def test_a_short_read_closes_nothing(
    fake_api: FakeUsaJobsServer,
    tap_config: MakeConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The fake drops the last item of page 2 while still counting it.
    control(fake_api, "faults", [{"kind": "short", "page": 2}])

    result = sync(tap_config())

    assert _activations(result.messages) == []
    assert "no posting is marked closed" in caplog.text
    scan = _scan(result)
    assert (scan["full_scan"], scan["complete"], scan["closes_unseen"]) == (True, False, False)


def test_a_shard_never_closes_postings(tap_config: MakeConfig) -> None:
    messages = [
        m for index in range(2) for m in sync(tap_config(shard_count=2, shard_index=index)).messages
    ]

    assert _activations(messages) == []
    scans = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "jobs_scans"]
    assert scans  # a shard that owns no keyword scans nothing, and says nothing
    assert {(s["complete"], s["closes_unseen"]) for s in scans} == {(True, False)}


def test_a_posting_several_keywords_match_is_emitted_once_with_every_match_recorded(
    fake_api: FakeUsaJobsServer, tap_config: MakeConfig
) -> None:
    broad, narrow = "data", KEYWORD  # every "data engineering" posting matches "data"
    matched = {k: set(expected_ids(fake_api, Keyword=k)) for k in (broad, narrow)}
    assert matched[narrow]
    assert matched[narrow] < matched[broad]

    result = sync(tap_config(keywords=[broad, narrow]))

    assert sorted(result.ids) == sorted(matched[broad])
    pairs = {(m["MatchedObjectId"], m["keyword"]) for m in result.records_of("jobs_keywords")}
    assert pairs == {(i, keyword) for keyword, ids in matched.items() for i in ids}
    assert len(result.records_of("jobs_keywords")) == len(pairs)
    # The narrow keyword emitted nothing new, yet its bookmark is at its newest posting.
    published = {r["MatchedObjectId"]: r["PublicationStartDate"] for r in result.records}
    partitions = {
        p["context"]["keyword"]: p["replication_key_value"]
        for p in result.final_state["bookmarks"]["jobs"]["partitions"]
    }
    for keyword, ids in matched.items():
        assert partitions[keyword] == max((published[i] for i in ids), key=datetime.fromisoformat)


def test_a_run_without_keywords_records_no_matches(tap_config: MakeConfig) -> None:
    result = sync(tap_config(keywords=[]))

    assert result.records
    assert result.records_of("jobs_keywords") == []
