"""Full scans, incremental scans, and closing postings that left the results."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from conftest import NOW, control, search_requests, sync
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


def test_first_run_is_a_full_scan_that_activates_its_version(tap_config: MakeConfig) -> None:
    result = sync(tap_config())

    (activation,) = _activations(result.messages)
    records = [m for m in result.messages if m["type"] == "RECORD"]
    assert {m["version"] for m in records} == {activation["version"]}
    last = result.messages.index(activation)
    assert all(result.messages.index(m) < last for m in records), "close only after all rows"
    assert "last_full_scan_started_at" in result.final_state["bookmarks"]["jobs"]


@pytest.mark.usefixtures("frozen_tap_clock")
def test_recent_full_scan_means_an_incremental_run_that_closes_nothing(
    fake_api: FakeUsaJobsServer,
    tap_config: MakeConfig,
) -> None:
    result = sync(tap_config(), state=_state_with_full_scan(hours_ago=3))

    assert _activations(result.messages) == []
    assert all("DatePosted" in r["params"] for r in search_requests(fake_api))


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


def test_a_shard_never_closes_postings(tap_config: MakeConfig) -> None:
    messages = [
        m for index in range(2) for m in sync(tap_config(shard_count=2, shard_index=index)).messages
    ]

    assert _activations(messages) == []
