"""Config faults: each bad setting stops the pipeline before any request, with one message.

Every required setting missing in turn, a malformed value of each kind of setting, an
unknown stream selected, and an empty variable overriding a default. For each: a non-zero
exit; ONE line that names the setting (and its TAP_USAJOBS_* variable), and it is the
first error line, not buried under a traceback; no request reached the fake API; nothing
was emitted, loaded or saved as state; the API key is never printed.

Most cases run `meltano invoke tap-usajobs` (Meltano's own handling of the variables, then
the tap as a sync, without a target): a few seconds each. The cases marked END_TO_END go
through `meltano run tap-usajobs target-postgres` into PostgreSQL, and one test goes through
orchestrate/run.py, which must exit 64 for a configuration problem.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any, NamedTuple

import devenv
import pytest
from conftest import expected_ids

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator

    from conftest import Pipeline

EX_CONFIG = 64
#: The fake's key in this module: distinctive, so any leak of it into output is caught.
SECRET_KEY = "cfg-faults-secret-6a1e93d0b4"  # noqa: S105  # the fake's key, a leak canary


class Case(NamedTuple):
    """One bad configuration: the variables that make it, and the setting to blame."""

    env: dict[str, str | None]
    setting: str
    #: Text the message must contain besides the setting and its variable: the bad value
    #: itself, or what is wrong when there is no value to show.
    says: str
    end_to_end: bool = False


def _var(setting: str) -> str:
    return f"TAP_USAJOBS_{setting.upper()}"


def _bad(setting: str, value: str, *, end_to_end: bool = False) -> Case:
    return Case({_var(setting): value}, setting, repr(value), end_to_end)


def _empty(setting: str, *, end_to_end: bool = False) -> Case:
    return Case({_var(setting): ""}, setting, "empty", end_to_end)


CASES = {
    # Each required setting missing in turn.
    "api_key-missing": Case({_var("api_key"): None}, "api_key", "not set", end_to_end=True),
    "user_agent-missing": Case({_var("user_agent"): None}, "user_agent", "not set"),
    # Malformed values, one kind of setting after another.
    "user_agent-not-an-email": _bad("user_agent", "my-etl/1.0"),
    "results_per_page-0": _bad("results_per_page", "0"),
    "results_per_page-501": _bad("results_per_page", "501"),
    "results_per_page-abc": _bad("results_per_page", "abc", end_to_end=True),
    "base_url-not-a-url": _bad("base_url", "data.usajobs.gov"),
    "max_concurrent_requests-0": _bad("max_concurrent_requests", "0"),
    "start_date-not-a-date": _bad("start_date", "not a date", end_to_end=True),
    "start_date-impossible-day": _bad("start_date", "2026-02-30"),
    "keywords-not-a-json-array": _bad("keywords", "data engineering", end_to_end=True),
    "keywords-not-strings": _bad("keywords", "[1, 2]"),
    "search_params-not-an-object": _bad("search_params", '["Organization", "AF"]'),
    "shard_index-not-below-shard_count": Case(
        {_var("shard_count"): "2", _var("shard_index"): "2"}, "shard_index", "shard_count"
    ),
    "max_retries-negative": _bad("max_retries", "-1"),
    "lookback_days-negative": _bad("lookback_days", "-0.5"),
    "request_timeout-0": _bad("request_timeout", "0"),
    "historic_lookback_days-negative": _bad("historic_lookback_days", "-5"),
    "historic_repoll_days-not-a-number": _bad("historic_repoll_days", "a year"),
    "historic_params-not-an-object": _bad("historic_params", '"VATA"'),
    # An empty variable overrides the default instead of falling back to it.
    "base_url-empty": _empty("base_url", end_to_end=True),
    "results_per_page-empty": _empty("results_per_page"),
    "keywords-empty": _empty("keywords"),
    "search_params-empty": _empty("search_params"),
    "start_date-empty": _empty("start_date"),
    "api_key-empty": _empty("api_key"),
}
#: The fast loop's cases: one of each kind (missing, a number, a URL, an email, a date,
#: JSON, two settings together, an empty variable), through meltano invoke and through
#: meltano run. The full loop runs every case; the tap's suite checks each in-process.
FAST = {
    "user_agent-missing",
    "results_per_page-0",
    "base_url-not-a-url",
    "user_agent-not-an-email",
    "start_date-impossible-day",
    "search_params-not-an-object",
    "shard_index-not-below-shard_count",
    "keywords-empty",
    "api_key-missing",
    "keywords-not-a-json-array",
}


def _params(*, end_to_end: bool) -> list[Any]:
    return [
        pytest.param(case, id=name, marks=() if name in FAST else pytest.mark.full)
        for name, case in CASES.items()
        if case.end_to_end == end_to_end
    ]


QUICK = _params(end_to_end=False)
END_TO_END = _params(end_to_end=True)


@pytest.fixture(scope="module")
def fake_server() -> Iterator[devenv.FakeApi]:
    """One small fake for the module, with a key that must never show up in output."""
    with devenv.fake_api("--postings", "60", "--seed", "11", "--api-key", SECRET_KEY) as api:
        yield dataclasses.replace(api, api_key=SECRET_KEY)


@pytest.fixture
def fake(fake_server: devenv.FakeApi) -> devenv.FakeApi:
    """The module's fake with an empty request log (replaces conftest's per-test fake)."""
    fake_server.control("reset-stats", {})
    return fake_server


def _lines_naming(output: str, name: str) -> list[str]:
    """Lines that name ``name``, but for Meltano's own warnings (it warns of unknown streams).

    Case-sensitive: the setting, not the upper-case variable that contains it.
    """
    return [
        line
        for line in output.splitlines()
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", line)
        and not re.search(r"\[warning\s*\] meltano ", line)
    ]


def _singer_messages(stdout: str) -> list[str]:
    types = []
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and "type" in message:
            types.append(message["type"])
    return types


def assert_refused(
    result: subprocess.CompletedProcess[str], pipeline: Pipeline, name: str, *says: str
) -> str:
    """The checks every fault shares; returns the one line that names the problem.

    ``name`` is the setting (or stream) to blame; ``says`` are further texts that line must
    hold: the variable to fix, the bad value, or what is wrong.
    """
    output = result.stderr + result.stdout
    assert result.returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert SECRET_KEY not in output

    naming = _lines_naming(output, name)
    assert len(naming) == 1, f"expected one line naming {name}, got {naming}\n{output[-3000:]}"
    (message,) = naming
    errors = [line for line in output.splitlines() if "[error" in line]
    assert errors, output[-3000:]
    assert errors[0] == message, f"the first error line should name {name}: {errors[:3]}"
    for text in says:
        assert text in message

    assert pipeline.api.control("stats")["requests"] == [], "a request reached the API"
    return message


def _tables(pipeline: Pipeline) -> list[tuple[Any, ...]]:
    return pipeline.query(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema not in ('pg_catalog', 'information_schema')"
    )


def _assert_nothing_saved(pipeline: Pipeline) -> None:
    assert _tables(pipeline) == [], "nothing may be loaded"
    state = pipeline.state().strip()
    assert state in {"", "{}"}, f"no state may be saved: {state[:300]}"


@pytest.mark.parametrize("case", QUICK)
def test_bad_setting_is_refused_before_any_request(pipeline: Pipeline, case: Case) -> None:
    result = pipeline.meltano("invoke", "tap-usajobs", **case.env)

    assert_refused(result, pipeline, case.setting, _var(case.setting), case.says)
    assert _singer_messages(result.stdout) == [], "the tap must emit nothing"


@pytest.mark.parametrize("case", END_TO_END)
def test_bad_setting_stops_meltano_run_with_nothing_loaded(pipeline: Pipeline, case: Case) -> None:
    result = pipeline.meltano("run", "tap-usajobs", "target-postgres", **case.env)

    assert_refused(result, pipeline, case.setting, _var(case.setting), case.says)
    _assert_nothing_saved(pipeline)


@pytest.mark.parametrize(
    ("select", "blamed"),
    [
        pytest.param(
            ["no_such_stream.*"], "'no_such_stream.*'", id="unknown-stream", marks=pytest.mark.full
        ),
        # A typo beside a valid stream would otherwise drop just that stream, silently.
        pytest.param(["jobs.*", "historic_job.*"], "'historic_job.*'", id="typo-beside-valid"),
        pytest.param([], "No stream is selected", id="empty-selection", marks=pytest.mark.full),
    ],
)
def test_selection_that_matches_no_stream_fails_instead_of_syncing_nothing(
    pipeline: Pipeline, select: list[str], blamed: str
) -> None:
    result = pipeline.meltano(
        "run", "tap-usajobs", "target-postgres", TAP_USAJOBS__SELECT=json.dumps(select)
    )

    message = assert_refused(result, pipeline, blamed, "TAP_USAJOBS__SELECT", "meltano.yml")
    assert "historic_jobs, jobs," in message, "the message should list the streams there are"
    _assert_nothing_saved(pipeline)


def test_settings_given_as_strings_still_work(pipeline: Pipeline) -> None:
    """The control: typed settings arrive from variables as text, and the tap parses them."""
    keywords = ["data engineering", "nurse"]
    result = pipeline.run_ok(
        "tap-usajobs",
        "target-postgres",
        TAP_USAJOBS__SELECT='["jobs.*"]',
        TAP_USAJOBS_KEYWORDS=json.dumps(keywords),
        TAP_USAJOBS_SEARCH_PARAMS="{}",
        TAP_USAJOBS_MAX_CONCURRENT_REQUESTS=" 2 ",
        TAP_USAJOBS_LOOKBACK_DAYS="1.5",
        # Older than the 60 days DatePosted reaches: every matching posting is read.
        TAP_USAJOBS_START_DATE="2020-01-01",
    )

    assert SECRET_KEY not in result.stderr + result.stdout
    loaded = {row[0] for row in pipeline.query('select "MatchedObjectId" from usajobs.jobs')}
    wanted = set().union(*(expected_ids(pipeline.api, Keyword=keyword) for keyword in keywords))
    assert wanted, "the fake should hold postings for these keywords"
    assert loaded == wanted
    assert "singer_state" in pipeline.state()


@pytest.mark.parametrize(
    ("env", "blamed", "says"),
    [
        pytest.param(
            {"TAP_USAJOBS_RESULTS_PER_PAGE": "abc"},
            "results_per_page",
            ["TAP_USAJOBS_RESULTS_PER_PAGE", "'abc'"],
            id="malformed-setting",
        ),
        pytest.param(
            {"TAP_USAJOBS__SELECT": '["jobs.*", "historic_job.*"]'},
            "'historic_job.*'",
            ["TAP_USAJOBS__SELECT"],
            id="unknown-stream",
        ),
    ],
)
def test_entrypoint_exits_64_for_anything_the_tap_rejects(
    pipeline: Pipeline, env: dict[str, str], blamed: str, says: list[str]
) -> None:
    result = pipeline.entrypoint(**env)

    assert result.returncode == EX_CONFIG, result.stderr[-3000:]
    assert_refused(result, pipeline, blamed, *says)
    assert "nothing was fetched" in result.stderr
    _assert_nothing_saved(pipeline)
