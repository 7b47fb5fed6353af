"""Shared fixtures: a fresh in-process fake USAJobs API per test and a tap config for it."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

from tap_usajobs import streams
from tap_usajobs.tap import TapUsaJobs
from tap_usajobs.testing.fake_api import FakeApiConfig, FakeUsaJobsServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: The fake's fixed clock, so its postings and their dates are the same on every run.
NOW = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)
API_KEY = "test-key-4bd1c9"
USER_AGENT = "tap-tests@example.com"
FAKE_API = FakeApiConfig(
    postings=300, seed=11, now=NOW.replace(tzinfo=None), api_key=API_KEY, detail_kb=1
)


def tap_config_for(base_url: str, **overrides: Any) -> dict[str, Any]:
    """A valid tap config for a fake at ``base_url``, with retries that wait milliseconds."""
    return {
        "api_key": API_KEY,
        "user_agent": USER_AGENT,
        "base_url": base_url,
        "keywords": ["data engineering"],
        "results_per_page": 25,
        "backoff_base_ms": 10,
        # Sequential paging keeps the fake's request log in page order for assertions;
        # tests of concurrent paging set this themselves.
        "max_concurrent_requests": 1,
        **overrides,
    }


def catalog_selecting(*streams: str) -> dict[str, Any]:
    """The tap's catalog with exactly ``streams`` selected (all of them when none are named).

    Only ``jobs`` is selected by default; the other streams are opt-in, as under Meltano.
    """
    tap = TapUsaJobs(config=tap_config_for("http://fake-usajobs.invalid"), parse_env_config=False)
    catalog = tap.catalog_dict
    for entry in catalog["streams"]:
        root = next(m for m in entry["metadata"] if not m["breadcrumb"])
        root["metadata"]["selected"] = not streams or entry["tap_stream_id"] in streams
    return catalog


@pytest.fixture
def start_fake_api() -> Iterator[Callable[..., FakeUsaJobsServer]]:
    """Start fakes with ``FAKE_API`` settings overridden; all stop when the test ends."""
    with contextlib.ExitStack() as servers:

        def start(**overrides: Any) -> FakeUsaJobsServer:
            config = dataclasses.replace(FAKE_API, **overrides)
            return servers.enter_context(FakeUsaJobsServer(config))

        yield start


@pytest.fixture
def fake_api(start_fake_api: Callable[..., FakeUsaJobsServer]) -> FakeUsaJobsServer:
    """A fake API with ``FAKE_API`` settings and fresh state: no faults, empty request log."""
    return start_fake_api()


@pytest.fixture
def tap_config(fake_api: FakeUsaJobsServer) -> Callable[..., dict[str, Any]]:
    """Build a tap config pointing at ``fake_api``; keyword arguments override settings.

    Named ``tap_config`` because the SDK's standard test classes own a ``config`` fixture.
    """

    def make(**overrides: Any) -> dict[str, Any]:
        return tap_config_for(fake_api.url, **overrides)

    return make


@pytest.fixture
def frozen_tap_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the tap's "now" the fake's NOW, so DatePosted windows are exact day counts."""

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:
            return NOW.astimezone(tz) if tz else NOW.replace(tzinfo=None)

    monkeypatch.setattr(streams, "datetime", FrozenDatetime)
