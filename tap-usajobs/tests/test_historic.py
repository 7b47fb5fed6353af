"""The Historic JOA streams over real HTTP against the fake: paging, windows, state, quirks."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from conftest import NOW, Sync, catalog_selecting, control, run_tap, tap_config_for
from jsonschema import Draft7Validator, FormatChecker
from singer_sdk.exceptions import ConfigValidationError

from tap_usajobs import historic
from tap_usajobs.historic import PollPolicy, Window, month_windows
from tap_usajobs.historic_schemas import FINAL_STATUSES
from tap_usajobs.tap import TapUsaJobs

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_usajobs.testing.fake_api import FakeUsaJobsServer

TODAY = NOW.date()
START = "2025-11-01"
PAGE_SIZE = 6
NESTED = ("hiringPaths", "jobCategories", "positionLocations")
#: The fakes of this module: a year of announcements, a few rows per page, none mirrored
#: from Search, so each window holds the generator's rows alone.
HISTORIC_FAKE: dict[str, Any] = {
    "historic": 240,
    "historic_days": 390,
    "historic_page_size": PAGE_SIZE,
    "historic_mirror_every": 0,
}


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tap's windows end on the fake's NOW, whatever the wall clock says."""
    monkeypatch.setattr(historic, "utc_today", lambda: TODAY)


@pytest.fixture
def api(start_fake_api: Callable[..., FakeUsaJobsServer]) -> FakeUsaJobsServer:
    """A fake with HISTORIC_FAKE's announcements."""
    return start_fake_api(**HISTORIC_FAKE)


@pytest.fixture
def config(api: FakeUsaJobsServer) -> dict[str, Any]:
    """Tap settings for ``api``: windows from START, 60 days of lookback."""
    return tap_config_for(
        api.url, start_date=START, historic_lookback_days=60, historic_repoll_days=365
    )


def run(config: dict[str, Any], *streams: str, state: dict[str, Any] | None = None) -> Sync:
    """Sync only ``streams`` (as a catalog selects them) and collect the output."""
    return run_tap(config, *streams, state=state)[0]


def records(result: Sync, stream: str) -> list[dict[str, Any]]:
    """The records of one stream."""
    return [m["record"] for m in result.messages if m["type"] == "RECORD" and m["stream"] == stream]


def keyless_requests(
    api: FakeUsaJobsServer, path: str = "/api/historicjoa"
) -> list[dict[str, Any]]:
    """The fake's log of requests to ``path``, one of the public endpoints."""
    log = control(api, "keyless-requests")["requests"]
    return [entry for entry in log if entry["path"].lower() == path]


def served_rows(api: FakeUsaJobsServer, since: str = START) -> list[dict[str, Any]]:
    """The fake's historic rows opened between ``since`` and TODAY."""
    rows = control(api, "historic")["items"]
    return [row for row in rows if since <= row["positionOpenDate"] <= TODAY.isoformat()]


def partitions(result: Sync, stream: str = "historic_jobs") -> dict[str, dict[str, Any]]:
    """Final partition state by window start."""
    entries = result.final_state["bookmarks"][stream]["partitions"]
    return {entry["context"]["StartPositionOpenDate"]: entry for entry in entries}


def window_of(day: str) -> str:
    """Start of the monthly window holding ``day`` (the first window starts at START)."""
    return max(START, day[:8] + "01")


# --- windows and when they are polled ----------------------------------------------------


def test_month_windows_cover_every_day_once_and_start_at_the_start_date() -> None:
    windows = month_windows(date(2025, 11, 17), date(2026, 2, 3))

    assert [(w.start.isoformat(), w.end.isoformat()) for w in windows] == [
        ("2025-11-17", "2025-11-30"),
        ("2025-12-01", "2025-12-31"),
        ("2026-01-01", "2026-01-31"),
        ("2026-02-01", "2026-02-28"),
    ]
    assert Window.of(windows[1].context) == windows[1]


@pytest.mark.parametrize(
    ("saved", "today", "due"),
    [
        (None, "2026-08-11", True),  # never polled
        ({"polled_on": "2026-07-15", "unsettled_rows": 0}, "2026-07-16", True),  # lookback
        ({"polled_on": "2026-08-10", "unsettled_rows": 0}, "2026-09-10", False),  # settled
        # Unsettled, polled at 41 days of age: due again after an eighth of that (5.1 d).
        ({"polled_on": "2026-08-10", "unsettled_rows": 3}, "2026-08-15", False),
        ({"polled_on": "2026-08-10", "unsettled_rows": 3}, "2026-08-16", True),
        # Polled at 400 days of age: due again after 50 days.
        ({"polled_on": "2027-08-04", "unsettled_rows": 3}, "2027-09-22", False),
        ({"polled_on": "2027-08-04", "unsettled_rows": 3}, "2027-09-23", True),
        # Rows went missing: at once.
        ({"polled_on": "2026-08-10", "rows_received": 8, "total_count": 9}, "2026-08-11", True),
        ({"polled_on": "2029-07-10", "unsettled_rows": 3}, "2030-07-10", False),  # past horizon
    ],
)
def test_a_window_is_polled_again_only_while_it_can_still_change(
    saved: dict[str, Any] | None, today: str, *, due: bool
) -> None:
    policy = PollPolicy(lookback=timedelta(days=30), repoll=timedelta(days=1000))
    june = Window(date(2026, 6, 1), date(2026, 6, 30))

    assert policy.needs_poll(june, saved, date.fromisoformat(today)) is due


def test_polling_every_run_is_still_a_policy() -> None:
    policy = PollPolicy(lookback=timedelta(days=30), repoll=timedelta(days=300), age_divisor=0)
    june = Window(date(2026, 6, 1), date(2026, 6, 30))
    saved = {"polled_on": "2026-08-10", "unsettled_rows": 3}

    assert policy.needs_poll(june, saved, date(2026, 8, 11))


# --- paging --------------------------------------------------------------------------------


def test_follows_next_links_until_empty_and_reads_every_row_once(
    api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    expected = served_rows(api)
    result = run(config, "historic_jobs")

    ids = [record["usajobsControlNumber"] for record in records(result, "historic_jobs")]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(row["usajobsControlNumber"] for row in expected)
    per_window = Counter(window_of(row["positionOpenDate"]) for row in expected)
    requests = keyless_requests(api)
    assert all(r["status"] == 200 for r in requests)
    firsts = [r for r in requests if "continuationtoken" not in r["params"]]
    assert len(firsts) == len(month_windows(date.fromisoformat(START), TODAY))
    assert len(requests) == sum(math.ceil(n / PAGE_SIZE) for n in per_window.values())


def test_next_link_is_sent_as_written_so_the_token_is_not_encoded_twice(
    api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    run(config, "historic_jobs")

    followed = [r for r in keyless_requests(api) if "continuationtoken" in r["params"]]
    assert followed
    # The fake decoded each query once: the tokens arrive with their '/' and '=' intact,
    # and it would have answered 400 to a token encoded twice ("%252F").
    assert all(r["params"]["continuationtoken"].startswith("ct/") for r in followed)
    assert any("=" in r["params"]["continuationtoken"] for r in followed)
    # The names in a next link are the API's lower-cased ones, not ours.
    assert all("startpositionopendate" in r["params"] for r in followed)
    tokens = [r["params"]["continuationtoken"] for r in followed]
    assert len(tokens) == len(set(tokens))


def test_a_repeated_token_stops_paging_and_the_window_is_polled_again(
    api: FakeUsaJobsServer, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    control(api, "historic", {"faults": [{"kind": "repeat_token"}]})

    with caplog.at_level(logging.WARNING):
        result = run(config, "historic_jobs")

    assert "a second time" in caplog.text
    looped = [p for p in partitions(result).values() if p["rows_received"] < p["total_count"]]
    assert len(looped) == 1, "only the window whose token repeated is short"
    again = TapUsaJobs(config=config, state=result.final_state, parse_env_config=False)
    stream = again.streams["historic_jobs"]
    assert isinstance(stream, historic.HistoricJobsStream)
    assert looped[0]["context"] in stream.query_partitions()


@pytest.mark.parametrize("stream", ["historic_jobs", "announcement_texts"])
def test_no_rows_as_http_204_or_as_literal_text_is_an_empty_window(
    api: FakeUsaJobsServer, config: dict[str, Any], stream: str
) -> None:
    nothing = {**config, "historic_params": {"HiringAgencyCodes": "ZZ99"}}

    result = run(nothing, stream)

    path = "/api/historicjoa" if stream == "historic_jobs" else "/api/historicjoa/announcementtext"
    answers = {r["status"] for r in keyless_requests(api, path)}
    assert answers == ({204} if stream == "historic_jobs" else {200})  # 200: "204 No Content"
    assert records(result, stream) == []
    assert all(
        p["rows_received"] == p["total_count"] == 0 for p in partitions(result, stream).values()
    )


# --- records ---------------------------------------------------------------------------------


def test_case_varying_keys_and_the_typo_map_onto_one_spelling(
    api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    served_keys = {key for row in served_rows(api) for key in row}
    assert {"HiringPaths", "hiringpaths", "hiringPaths", "disableAppyOnline"} <= served_keys

    rows = records(run(config, "historic_jobs"), "historic_jobs")

    keys = {key for row in rows for key in row}
    assert set(NESTED) <= keys
    assert not keys & {"HiringPaths", "hiringpaths", "JobCategories", "jobcategories",
                       "PositionLocations", "positionlocations", "disableAppyOnline"}  # fmt: skip
    assert all(row["hiringPaths"] and row["hiringPaths"][0]["hiringPath"] for row in rows)
    assert {row["disableApplyOnline"] for row in rows} == {True, False}


def test_records_have_booleans_numbers_and_rfc3339_dates_and_match_the_schema(
    config: dict[str, Any],
) -> None:
    tap = TapUsaJobs(config=config, parse_env_config=False)
    result = run(config, "historic_jobs", "announcement_texts")

    for stream in ("historic_jobs", "announcement_texts"):
        validator = Draft7Validator(tap.streams[stream].schema, format_checker=FormatChecker())
        rows = records(result, stream)
        assert rows
        for row in rows:
            validator.validate(row)
            date.fromisoformat(row["positionOpenDate"])
    job = records(result, "historic_jobs")[0]
    flags = ("supervisoryStatus", "teleworkEligible", "securityClearanceRequired",
             "drugTestRequired", "relocationExpensesReimbursed", "disableApplyOnline")  # fmt: skip
    assert all(isinstance(job[flag], bool) for flag in flags)
    assert isinstance(job["usajobsControlNumber"], int)
    assert isinstance(job["minimumSalary"], (int, float))


def test_a_row_shortfall_against_total_count_is_logged_with_numbers(
    api: FakeUsaJobsServer, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    control(api, "historic", {"faults": [{"kind": "short", "rows": 2}]})
    first_window = len([r for r in served_rows(api) if window_of(r["positionOpenDate"]) == START])

    with caplog.at_level(logging.WARNING):
        run(config, "historic_jobs")

    assert f"received {first_window - 2} distinct rows, the API counted {first_window}" in (
        caplog.text
    )


def test_each_window_logs_what_it_read_against_the_count_for_progress_displays(
    api: FakeUsaJobsServer, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    per_window = Counter(window_of(row["positionOpenDate"]) for row in served_rows(api))
    windows = month_windows(date.fromisoformat(START), TODAY)

    with caplog.at_level(logging.INFO):
        run(config, "historic_jobs")

    assert f"historic_jobs: {len(windows)} of {len(windows)} monthly windows since {START}" in (
        caplog.text
    )
    read = [m for m in caplog.messages if " the API counted." in m]
    assert read == [
        f"historic_jobs {w.start}..{w.end}: read {per_window[w.start.isoformat()]} announcements"
        f" of the {per_window[w.start.isoformat()]} the API counted."
        for w in windows
    ]


def test_historic_endpoints_never_receive_the_api_key(
    api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    run(config, "historic_jobs", "announcement_texts", "pay_plans")

    log = control(api, "keyless-requests")["requests"]
    assert {entry["path"] for entry in log} == {
        "/api/historicjoa",
        "/api/historicjoa/announcementtext",
        "/api/codelist/payplans",
    }
    assert not any(entry["key_sent"] for entry in log)


def test_historic_params_pass_through_but_cannot_move_the_window(config: dict[str, Any]) -> None:
    narrowed = {
        **config,
        "historic_params": {"HiringAgencyCodes": "VATA", "StartPositionOpenDate": "2000-01-01"},
    }

    rows = records(run(narrowed, "historic_jobs"), "historic_jobs")

    assert rows
    assert {row["hiringAgencyCode"] for row in rows} == {"VATA"}
    assert min(row["positionOpenDate"] for row in rows) >= START


# --- incremental runs --------------------------------------------------------------------------


def due_windows(api: FakeUsaJobsServer, lookback_days: int) -> set[str]:
    """Windows a second run must poll: within the lookback, or with unsettled rows."""
    unsettled = {
        window_of(row["positionOpenDate"])
        for row in served_rows(api)
        if row["positionOpeningStatus"] not in FINAL_STATUSES
    }
    recent = {
        w.start.isoformat()
        for w in month_windows(date.fromisoformat(START), TODAY)
        if w.end + timedelta(days=lookback_days) >= TODAY
    }
    return unsettled | recent


def test_a_second_run_polls_only_windows_that_can_still_change(
    api: FakeUsaJobsServer, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both runs happen today: unsettled windows are due at every run here (their spacing
    # as they age has its own tests above).
    monkeypatch.setattr(historic, "REPOLL_AGE_DIVISOR", 0)
    first = run(config, "historic_jobs")
    first_requests = len(keyless_requests(api))
    due = due_windows(api, lookback_days=60)
    control(api, "reset-stats", {})

    second = run(config, "historic_jobs", state=first.final_state)

    requests = keyless_requests(api)
    polled = {
        r["params"]["StartPositionOpenDate"]
        for r in requests
        if "continuationtoken" not in r["params"]
    }
    assert polled == due
    rows_due = Counter(window_of(r["positionOpenDate"]) for r in served_rows(api))
    assert len(requests) == sum(math.ceil(rows_due[w] / PAGE_SIZE) for w in due)
    assert len(requests) < first_requests / 2
    all_windows = month_windows(date.fromisoformat(START), TODAY)
    assert len(due) < len(all_windows)
    # Windows left alone keep their state from the first run.
    assert partitions(second).keys() == {w.start.isoformat() for w in all_windows}


def test_late_announcements_are_picked_up_while_their_window_is_open(
    api: FakeUsaJobsServer, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both runs happen today: unsettled windows are due at every run here (their spacing
    # as they age has its own tests above).
    monkeypatch.setattr(historic, "REPOLL_AGE_DIVISOR", 0)
    first = run(config, "historic_jobs")
    state = partitions(first)
    past_lookback = [
        w.start.isoformat()
        for w in month_windows(date.fromisoformat(START), TODAY)
        if w.end + timedelta(days=60) < TODAY
    ]
    unsettled_old = next(start for start in past_lookback if state[start]["unsettled_rows"])
    settled = next(start for start in past_lookback if not state[start]["unsettled_rows"])
    added = control(
        api,
        "historic",
        {
            "add": [
                {"positionOpenDate": TODAY.isoformat()},  # within the lookback
                {"positionOpenDate": unsettled_old[:8] + "15"},  # statuses still moving
                {"positionOpenDate": settled[:8] + "15"},  # settled: not polled again
            ]
        },
    )["added"]

    second = records(run(config, "historic_jobs", state=first.final_state), "historic_jobs")

    seen = {row["usajobsControlNumber"] for row in second}
    assert added[0] in seen
    assert added[1] in seen
    assert added[2] not in seen, "a settled window is not polled; a full refresh finds it"


def test_final_statuses_settle_their_windows(
    api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    first = run(config, "historic_jobs")
    control(api, "historic", {"finalize": True})

    second = run(config, "historic_jobs", state=first.final_state)
    control(api, "reset-stats", {})
    run(config, "historic_jobs", state=second.final_state)

    statuses = {row["positionOpeningStatus"] for row in records(second, "historic_jobs")}
    assert statuses <= set(FINAL_STATUSES)
    third = {
        r["params"]["StartPositionOpenDate"]
        for r in keyless_requests(api)
        if "continuationtoken" not in r["params"]
    }
    assert third == due_windows(api, lookback_days=60), "only the lookback windows remain"


def test_announcement_texts_use_the_same_windows_and_settle_when_closed(
    api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    result = run(config, "announcement_texts")

    texts = records(result, "announcement_texts")
    assert sorted(t["usajobsControlNumber"] for t in texts) == sorted(
        row["usajobsControlNumber"] for row in served_rows(api)
    )
    assert all(t["summary"] and "jobCategories" in t for t in texts)
    open_windows = {
        window_of(row["positionOpenDate"])
        for row in served_rows(api)
        if row["positionCloseDate"] >= TODAY.isoformat()
    }
    unsettled = {
        start
        for start, p in partitions(result, "announcement_texts").items()
        if p["unsettled_rows"]
    }
    assert unsettled == open_windows


def test_no_due_window_means_no_request_at_all(
    api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    future = {**config, "start_date": (TODAY + timedelta(days=40)).isoformat()}

    result = run(future, "historic_jobs", "announcement_texts")

    assert records(result, "historic_jobs") == []
    assert control(api, "keyless-requests")["requests"] == []


def test_only_jobs_what_it_saw_and_the_quarantine_are_selected_without_a_catalog(
    config: dict[str, Any],
) -> None:
    tap = TapUsaJobs(config=config, parse_env_config=False)

    # In sync order: the streams jobs fills, and the quarantine, come after it.
    selected = [name for name, stream in tap.streams.items() if stream.selected]
    assert selected == ["jobs", "jobs_keywords", "jobs_scans", "quarantine"]


def test_a_503_from_the_historic_api_is_retried(
    api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    control(api, "historic", {"faults": [{"kind": "status", "status": 503}] * 2})

    rows = records(run(config, "historic_jobs"), "historic_jobs")

    statuses = [r["status"] for r in keyless_requests(api)]
    assert statuses[:3] == [503, 503, 200]
    assert len(rows) == len(served_rows(api))


def _gaps_after_a_retry_after(
    start_fake_api: Callable[..., FakeUsaJobsServer], settings: dict[str, Any], asked: int
) -> list[float]:
    """Seconds from a 429 asking ``asked`` to each request, once every row was read."""
    # Four workers page through four windows at once (ADR 20), each page 100 ms late.
    api = start_fake_api(**HISTORIC_FAKE, historic_latency_ms=100)
    fault = {"kind": "status", "status": 429, "retry_after": asked}
    control(api, "historic", {"faults": [fault]})

    settings = {**settings, "base_url": api.url, "max_concurrent_requests": 4}
    rows = records(run(settings, "historic_jobs"), "historic_jobs")

    assert len(rows) == len(served_rows(api)), "every window is read after the pause"
    log = keyless_requests(api)
    (refused,) = [entry for entry in log if entry["status"] == 429]
    return sorted(entry["received_at"] - refused["received_at"] for entry in log)


def test_a_retry_after_holds_every_window_worker_not_only_the_one_that_got_it(
    start_fake_api: Callable[..., FakeUsaJobsServer], config: dict[str, Any]
) -> None:
    hold = 2
    after = _gaps_after_a_retry_after(start_fake_api, config, asked=hold)

    # Requests already on their way when the 429 was answered may still arrive; no
    # worker sends one during the hold.
    assert [gap for gap in after if 0.5 < gap < hold] == []


def test_a_retry_after_holds_no_longer_than_backoff_max_seconds(
    start_fake_api: Callable[..., FakeUsaJobsServer], config: dict[str, Any]
) -> None:
    capped = {**config, "backoff_max_seconds": 1}
    after = _gaps_after_a_retry_after(start_fake_api, capped, asked=30)

    resumed = min(gap for gap in after if gap > 0.5)
    assert resumed < 10, "a server asking for 30 s holds the stream 1 s"


def test_an_end_date_bounds_a_backfill_window_exactly(
    api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    backfill = {**config, "start_date": "2026-02-10", "historic_end_date": "2026-04-15"}

    result = run(backfill, "historic_jobs")

    polled = {
        (r["params"]["StartPositionOpenDate"], r["params"]["EndPositionOpenDate"])
        for r in keyless_requests(api)
        if "continuationtoken" not in r["params"]
    }
    assert polled == {
        ("2026-02-10", "2026-02-28"),
        ("2026-03-01", "2026-03-31"),
        ("2026-04-01", "2026-04-15"),
    }
    served = {
        row["usajobsControlNumber"]
        for row in served_rows(api, since="2026-02-10")
        if row["positionOpenDate"] <= "2026-04-15"
    }
    assert served, "the fake should hold announcements in the window"
    assert {row["usajobsControlNumber"] for row in records(result, "historic_jobs")} == served


def test_an_end_date_before_the_start_date_is_a_config_error(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapUsaJobs(config={**config, "historic_end_date": "2025-01-01"}, parse_env_config=False)

    assert any(
        "historic_end_date (2025-01-01) is before start_date" in e for e in raised.value.errors
    )


@pytest.mark.parametrize("value", ["2026-3-1", "2026-03-01T00:00:00Z", "20260301", "2026-02-30"])
def test_an_end_date_must_be_a_calendar_date(config: dict[str, Any], value: str) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapUsaJobs(config={**config, "historic_end_date": value}, parse_env_config=False)

    assert any(error.startswith("historic_end_date must be") for error in raised.value.errors)


def test_an_end_date_from_today_on_keeps_the_regular_windows(
    api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    later = (TODAY + timedelta(days=40)).isoformat()

    def polled(settings: dict[str, Any]) -> set[tuple[str, str]]:
        control(api, "reset-stats", {})
        run(settings, "historic_jobs")
        return {
            (r["params"]["StartPositionOpenDate"], r["params"]["EndPositionOpenDate"])
            for r in keyless_requests(api)
            if "continuationtoken" not in r["params"]
        }

    assert polled({**config, "historic_end_date": later}) == polled(config)


# --- windows read ahead, state written in order ------------------------------------------


def test_a_run_killed_mid_way_has_state_only_for_windows_whose_rows_it_wrote(
    start_fake_api: Callable[..., FakeUsaJobsServer], tmp_path: Path
) -> None:
    # Four windows are fetched at a time, each page slowed down, and the tap is killed
    # as soon as its state holds three windows: some windows have been fetched but not
    # written. None of those may be in the state, and every window the state holds must
    # have had all of its rows written before it.
    api = start_fake_api(**HISTORIC_FAKE, historic_latency_ms=40)
    # A subprocess does not see the frozen clock: the end date bounds its windows instead.
    config = tap_config_for(
        api.url,
        start_date=START,
        historic_end_date=TODAY.isoformat(),
        historic_lookback_days=60,
        historic_repoll_days=365,
        max_concurrent_requests=4,
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog_selecting("historic_jobs")))
    tap = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tap_usajobs", "--config", str(tmp_path / "config.json"),
         "--catalog", str(tmp_path / "catalog.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert tap.stdout is not None
    written: set[str] = set()
    state: dict[str, Any] = {}
    for line in tap.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD":
            written.add(message["record"]["usajobsControlNumber"])
        if message["type"] == "STATE":
            state = message["value"]
            if len(state["bookmarks"]["historic_jobs"].get("partitions", [])) >= 3:
                tap.kill()
                break
    tap.wait()

    done = {
        entry["context"]["StartPositionOpenDate"]
        for entry in state["bookmarks"]["historic_jobs"]["partitions"]
    }
    assert len(done) >= 3
    for row in served_rows(api):
        if window_of(row["positionOpenDate"]) in done:
            assert row["usajobsControlNumber"] in written, row["positionOpenDate"]
    fetched = {
        value
        for entry in keyless_requests(api)
        for name, value in entry["params"].items()
        if name.lower() == "startpositionopendate"
    }
    assert fetched - done, "no window was fetched ahead of the state: the test proves nothing"

    resumed = run(config, "historic_jobs", state=state)

    read = written | {r["usajobsControlNumber"] for r in records(resumed, "historic_jobs")}
    assert read >= {row["usajobsControlNumber"] for row in served_rows(api)}
