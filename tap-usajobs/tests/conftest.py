"""Shared fixtures: a fresh in-process fake USAJobs API per test and a tap config for it."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import urllib.request
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

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
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]  # a plain one will do
            return NOW.astimezone(tz) if tz else NOW.replace(tzinfo=None)

    monkeypatch.setattr(streams, "datetime", FrozenDatetime)


# --- running the tap and asking the fake -----------------------------------------------


class Sync:
    """The Singer messages one tap run wrote to stdout."""

    def __init__(self, stdout: str) -> None:
        """Parse one JSON message per line."""
        self.messages = [json.loads(line) for line in stdout.splitlines() if line]

    @property
    def records(self) -> list[dict[str, Any]]:
        """The ``jobs`` records in the order they were written."""
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == "jobs"
        ]

    def records_of(self, stream: str) -> list[dict[str, Any]]:
        """The records of ``stream`` in the order they were written."""
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def ids(self) -> list[str]:
        """MatchedObjectId of every record, duplicates kept."""
        return [record["MatchedObjectId"] for record in self.records]

    @property
    def final_state(self) -> dict[str, Any]:
        """The value of the last STATE message."""
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        assert states, "the tap wrote no STATE message"
        return states[-1]


def sync(config: dict[str, Any], state: dict[str, Any] | None = None) -> Sync:
    """Run the tap in-process (its default selection) and collect what it writes."""
    return capture(TapUsaJobs(config=config, state=state))


def run_tap(
    config: dict[str, Any], *streams: str, state: dict[str, Any] | None = None
) -> tuple[Sync, TapUsaJobs]:
    """Sync exactly ``streams`` (as a catalog selects them); the output and the tap.

    The tap's ``sync_summary`` says what it read incompletely and what it quarantined.
    """
    tap = TapUsaJobs(
        config=config, state=state, catalog=catalog_selecting(*streams), parse_env_config=False
    )
    return capture(tap), tap


def capture(tap: TapUsaJobs, raises: type[Exception] | None = None) -> Sync:
    """Run ``tap.sync_all()`` and parse what it writes to stdout (until ``raises``)."""
    # The tap's msgspec writer writes bytes to sys.stdout.buffer, so capture bytes.
    captured = io.BytesIO()
    stdout = io.TextIOWrapper(captured, encoding="utf-8")
    failure = pytest.raises(raises) if raises else contextlib.nullcontext()
    with contextlib.redirect_stdout(stdout), failure:
        tap.sync_all()
    stdout.flush()
    return Sync(captured.getvalue().decode())


def control(api: FakeUsaJobsServer, path: str, body: object = None) -> Any:
    """Call one of the fake's /_fake/ endpoints; POST when there is a body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{api.url}/_fake/{path}", data=data)  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.loads(response.read())


def inject(api: FakeUsaJobsServer, *rules: dict[str, Any]) -> None:
    """Queue fault rules on the fake."""
    control(api, "faults", list(rules))


def search_requests(api: FakeUsaJobsServer) -> list[dict[str, Any]]:
    """The fake's request log: params, status (None for a dropped connection), fault."""
    return control(api, "stats")["requests"]


def expected_ids(api: FakeUsaJobsServer, **params: object) -> list[str]:
    """Every id the fake matches for a query, ignoring page size and row cap."""
    return control(api, f"expected?{urlencode(params)}")["ids"]
