"""Bad input and bad days: clear errors, non-zero exits, nothing lost, state never ahead."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from conftest import KEYWORD, expected_ids, search_requests

if TYPE_CHECKING:
    from conftest import Pipeline

EX_CONFIG = 64
EX_UNAVAILABLE = 69


def _loaded_ids(pipeline: Pipeline) -> set[str]:
    return {row[0] for row in pipeline.query('select "MatchedObjectId" from usajobs.jobs')}


def test_transient_api_faults_are_retried_and_lose_nothing(pipeline: Pipeline) -> None:
    pipeline.api.control(
        "faults",
        [
            {"kind": "status", "status": 429, "retry_after": 1, "page": 2},
            {"kind": "status", "status": 503, "times": 2, "page": 3},
            {"kind": "truncate", "page": 4},
            {"kind": "reset", "page": 5},
        ],
    )
    pipeline.run_ok("tap-usajobs", "target-postgres")

    assert _loaded_ids(pipeline) == expected_ids(pipeline.api, Keyword=KEYWORD)
    faulted = [request for request in search_requests(pipeline.api) if request["fault"]]
    assert len(faulted) == 5, "every injected fault should have been served and retried"


def test_page_that_stays_malformed_fails_loudly_without_saving_state(pipeline: Pipeline) -> None:
    pipeline.api.control("faults", [{"kind": "truncate", "page": 2, "times": 50}])
    result = pipeline.meltano("run", "tap-usajobs", "target-postgres")

    assert result.returncode != 0
    assert "Malformed JSON" in result.stderr
    assert KEYWORD not in pipeline.state(), "no bookmark may be saved for an unfinished sync"


def test_a_keyword_that_finished_keeps_its_bookmark_when_a_later_one_fails(
    pipeline: Pipeline,
) -> None:
    # The tap writes STATE as each keyword's query completes; the target commits the
    # keyword's rows with it, and meltano keeps it though the run failed.
    pipeline.api.control("faults", [{"kind": "status", "status": 400, "keyword": "nurse"}])

    failed = pipeline.meltano(
        "run", "tap-usajobs", "target-postgres", TAP_USAJOBS_KEYWORDS=f'["{KEYWORD}", "nurse"]'
    )

    assert failed.returncode != 0
    assert _loaded_ids(pipeline) == expected_ids(pipeline.api, Keyword=KEYWORD)
    partitions = json.loads(pipeline.state())["singer_state"]["bookmarks"]["jobs"]["partitions"]
    assert [p["context"] for p in partitions if "replication_key_value" in p] == [
        {"keyword": KEYWORD}
    ]


@pytest.mark.full  # slow; `make test-full` and CI run it
def test_database_down_fails_keeps_state_and_next_run_catches_up(pipeline: Pipeline) -> None:
    pipeline.run_ok("tap-usajobs", "target-postgres")
    state_before = pipeline.state()
    added = set(pipeline.api.control("postings", {"add": 6})["added"])
    new_matching = added & expected_ids(pipeline.api, Keyword=KEYWORD)

    down = pipeline.meltano("run", "tap-usajobs", "target-postgres", PGPORT="1")

    assert down.returncode != 0
    assert "Connection refused" in down.stderr or "connection failed" in down.stderr
    assert pipeline.state() == state_before
    assert not new_matching & _loaded_ids(pipeline)

    pipeline.run_ok("tap-usajobs", "target-postgres")
    assert new_matching <= _loaded_ids(pipeline)


def test_missing_api_key_fails_before_any_request(pipeline: Pipeline) -> None:
    result = pipeline.meltano("run", "tap-usajobs", "target-postgres", TAP_USAJOBS_API_KEY=None)

    assert result.returncode != 0
    assert "api_key" in result.stderr
    assert search_requests(pipeline.api) == []


def test_user_agent_must_be_an_email(pipeline: Pipeline) -> None:
    result = pipeline.meltano(
        "run", "tap-usajobs", "target-postgres", TAP_USAJOBS_USER_AGENT="my-etl/1.0"
    )

    assert result.returncode != 0
    assert "user_agent must be the email address" in result.stderr
    assert search_requests(pipeline.api) == []


def test_wrong_api_key_is_fatal_and_never_logged(pipeline: Pipeline) -> None:
    secret = "wrong-key-5f1d0c9a"  # noqa: S105  # a made-up key, a leak canary
    result = pipeline.meltano("run", "tap-usajobs", "target-postgres", TAP_USAJOBS_API_KEY=secret)

    assert result.returncode != 0
    assert "HTTP 401" in result.stderr
    assert "TAP_USAJOBS_API_KEY" in result.stderr
    assert secret not in result.stderr + result.stdout
    assert len(search_requests(pipeline.api)) == 1, "an auth failure must not be retried"


def test_entrypoint_exit_codes_name_the_problem(pipeline: Pipeline) -> None:
    missing = pipeline.entrypoint(TAP_USAJOBS_USER_AGENT=None)
    assert missing.returncode == EX_CONFIG
    assert "TAP_USAJOBS_USER_AGENT" in missing.stderr

    down = pipeline.entrypoint(PGPORT="1")
    assert down.returncode == EX_UNAVAILABLE
    assert "cannot connect to PostgreSQL" in down.stderr
    assert search_requests(pipeline.api) == []
