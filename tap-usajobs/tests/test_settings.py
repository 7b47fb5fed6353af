"""Settings: parsed from text as Meltano hands them over, and refused with one clear message.

No Meltano here: the tap alone, its config as a dict, and the CLI in a subprocess.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from conftest import API_KEY, catalog_selecting, tap_config_for
from singer_sdk.exceptions import ConfigValidationError

from tap_usajobs.settings import (
    CONFIG_HINT,
    check_settings,
    meltano_select_patterns,
    unknown_select_patterns,
)
from tap_usajobs.tap import TAP_SETTINGS, TapUsaJobs

if TYPE_CHECKING:
    from pathlib import Path

STREAMS = sorted(entry["tap_stream_id"] for entry in catalog_selecting()["streams"])


def config_with(**overrides: Any) -> dict[str, Any]:
    """A valid config with ``overrides``; a None override removes the setting."""
    config = {**tap_config_for("http://fake-usajobs.invalid"), **overrides}
    return {name: value for name, value in config.items() if value is not None}


def refusal(**overrides: Any) -> list[str]:
    """The errors a tap with ``overrides`` is refused with, the closing hint checked off."""
    with pytest.raises(ConfigValidationError) as caught:
        TapUsaJobs(config=config_with(**overrides))
    *errors, hint = caught.value.errors
    assert hint == CONFIG_HINT
    return errors


def the_one_error(setting: str, **overrides: Any) -> str:
    """The single error for ``overrides``; it must name ``setting`` and its variable."""
    errors = refusal(**overrides)
    assert len(errors) == 1, errors
    (error,) = errors
    assert error.startswith(f"{setting} "), error
    assert f"TAP_USAJOBS_{setting.upper()}" in error
    return error


# --- parsing what Meltano hands over ------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "given", "parsed"),
    [
        pytest.param("results_per_page", "50", 50, id="integer-text"),
        pytest.param("max_concurrent_requests", " 2 ", 2, id="integer-text-with-spaces"),
        pytest.param("results_per_page", 50.0, 50, id="integral-float"),
        pytest.param("lookback_days", "1.5", 1.5, id="number-text"),
        pytest.param("lookback_days", "3", 3, id="number-text-integral"),
        pytest.param("keywords", '["a", "b c"]', ["a", "b c"], id="json-array"),
        pytest.param("keywords", "['a']", ["a"], id="python-list-as-meltano-accepts"),
        pytest.param("keywords", "[]", [], id="empty-array"),
        pytest.param("search_params", '{"Organization": "AF"}', {"Organization": "AF"}, id="obj"),
        pytest.param("start_date", "2026-10-01", "2026-10-01T00:00:00+00:00", id="date"),
        pytest.param("start_date", "2026-10-01T05:00:00Z", "2026-10-01T05:00:00+00:00", id="dt"),
        pytest.param("base_url", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/", id="url"),
    ],
)
def test_text_values_are_parsed_to_their_types(setting: str, given: object, parsed: object) -> None:
    tap = TapUsaJobs(config=config_with(**{setting: given}))

    assert tap.config[setting] == parsed
    assert type(tap.config[setting]) is type(parsed)


def test_unset_optional_settings_get_their_defaults() -> None:
    config = config_with(base_url=None, keywords=None, results_per_page=None)

    tap = TapUsaJobs(config=config)

    assert tap.config["base_url"] == "https://data.usajobs.gov"
    assert tap.config["keywords"] == ["data engineering"]
    assert tap.config["results_per_page"] == 500


def test_a_null_optional_setting_counts_as_unset() -> None:
    assert TapUsaJobs(config=config_with(start_date=None)).config.get("start_date") is None
    tap = TapUsaJobs(config={**config_with(), "results_per_page": None})
    assert tap.config["results_per_page"] == 500


# --- one clear message per bad setting ------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        pytest.param("user_agent", "my-etl/1.0", "email address", id="user_agent-not-email"),
        pytest.param("results_per_page", 0, "from 1 to 500", id="results_per_page-0"),
        pytest.param("results_per_page", "501", "from 1 to 500", id="results_per_page-501"),
        pytest.param("results_per_page", "abc", "whole number", id="results_per_page-abc"),
        pytest.param("results_per_page", "1e2", "whole number", id="results_per_page-exponent"),
        pytest.param("results_per_page", 2.5, "whole number", id="results_per_page-fraction"),
        pytest.param("results_per_page", True, "whole number", id="results_per_page-boolean"),
        pytest.param("base_url", "data.usajobs.gov", "http(s) URL", id="base_url-no-scheme"),
        pytest.param("base_url", "ftp://data.usajobs.gov", "http(s) URL", id="base_url-ftp"),
        pytest.param("base_url", "https://", "http(s) URL", id="base_url-no-host"),
        pytest.param("max_concurrent_requests", 0, "from 1 to 16", id="concurrency-0"),
        pytest.param("max_concurrent_requests", 17, "from 1 to 16", id="concurrency-17"),
        pytest.param("start_date", "not a date", "ISO 8601", id="start_date-words"),
        pytest.param("start_date", "2026-02-30", "ISO 8601", id="start_date-no-such-day"),
        pytest.param("start_date", 20261001, "ISO 8601", id="start_date-number"),
        pytest.param("keywords", "data engineering", "JSON array", id="keywords-bare-text"),
        pytest.param("keywords", '["a", 1]', "JSON array of strings", id="keywords-not-strings"),
        pytest.param("keywords", '{"a": 1}', "JSON array", id="keywords-object"),
        pytest.param("search_params", "[1]", "JSON object", id="search_params-array"),
        pytest.param("search_params", "Organization=AF", "JSON object", id="search_params-text"),
        pytest.param("max_retries", -1, "at least 0", id="max_retries-negative"),
        pytest.param("lookback_days", "-0.5", "at least 0", id="lookback_days-negative"),
        pytest.param("lookback_days", "nan", "number", id="lookback_days-nan"),
        pytest.param("request_timeout", "0", "at least 1", id="request_timeout-0"),
        pytest.param("backoff_max_seconds", "-3", "at least 0", id="backoff_max_seconds-negative"),
        pytest.param("search_row_cap", "ten thousand", "whole number", id="search_row_cap-words"),
        pytest.param("full_scan_every_hours", "-1", "at least 0", id="full_scan-negative"),
        pytest.param("shard_count", "0", "at least 1", id="shard_count-0"),
        pytest.param("historic_lookback_days", -5, "at least 0", id="historic_lookback-negative"),
        pytest.param("historic_repoll_days", "a year", "whole number", id="historic_repoll-words"),
        pytest.param("historic_params", '"VATA"', "JSON object", id="historic_params-string"),
    ],
)
def test_a_malformed_value_gets_one_message_naming_setting_variable_and_value(
    setting: str, value: object, says: str
) -> None:
    error = the_one_error(setting, **{setting: value})

    assert says in error
    assert f"got {value!r}" in error


@pytest.mark.parametrize("setting", sorted(TAP_SETTINGS))
def test_an_empty_value_is_an_error_not_the_default(setting: str) -> None:
    error = the_one_error(setting, **{setting: ""})

    assert "empty" in error
    default = TAP_SETTINGS[setting].get("default")
    if default is not None and setting not in {"api_key", "user_agent"}:
        assert json.dumps(default) in error, "say which default the empty value hides"
        assert f"Unset TAP_USAJOBS_{setting.upper()}" in error


def test_whitespace_only_counts_as_empty() -> None:
    assert "empty" in the_one_error("base_url", base_url="  ")


@pytest.mark.parametrize("setting", ["api_key", "user_agent"])
def test_each_required_setting_missing_in_turn(setting: str) -> None:
    error = the_one_error(setting, **{setting: None})

    assert "required but not set" in error


def test_every_problem_is_reported_at_once_in_schema_order() -> None:
    errors = refusal(user_agent=None, results_per_page="abc", keywords="x", max_retries=-1)

    assert [error.split(" ", 1)[0] for error in errors] == [
        "user_agent",
        "keywords",
        "results_per_page",
        "max_retries",
    ]


def test_shard_index_must_be_below_shard_count_and_the_message_names_both() -> None:
    error = the_one_error("shard_index", shard_count="2", shard_index="2")

    assert "TAP_USAJOBS_SHARD_COUNT" in error
    assert "got 2" in error


def test_a_bad_shard_count_is_not_reported_twice() -> None:
    errors = refusal(shard_count="many", shard_index=3)

    assert len(errors) == 1
    assert errors[0].startswith("shard_count ")


@pytest.mark.parametrize(
    "api_key",
    [
        pytest.param(f" {API_KEY}", id="leading-space"),
        pytest.param(f"{API_KEY}\n", id="trailing-newline"),
        pytest.param(4815162342, id="not-text"),
    ],
)
def test_a_bad_api_key_is_never_quoted(api_key: object) -> None:
    error = the_one_error("api_key", api_key=api_key)

    assert str(api_key).strip() not in error


def test_sdk_built_in_settings_are_still_checked() -> None:
    errors = refusal(flattening_max_depth="deep")

    assert len(errors) == 1
    assert "flattening_max_depth" in errors[0]


def test_check_settings_alone_parses_in_place_and_keys_problems_by_setting() -> None:
    config: dict[str, Any] = {"results_per_page": "25", "keywords": "oops", "api_key": ""}

    problems = check_settings(config, TAP_SETTINGS, ["api_key", "user_agent"])

    assert config["results_per_page"] == 25
    assert list(problems) == ["api_key", "user_agent", "keywords"]


# --- discovery needs no valid settings ---------------------------------------------------------


def test_discovery_does_not_need_valid_settings_and_stays_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        tap = TapUsaJobs(
            config=config_with(api_key=None, results_per_page="abc"),
            validate_config=False,
            setup_mapper=False,
        )
        catalog = tap.catalog_dict

    assert sorted(entry["tap_stream_id"] for entry in catalog["streams"]) == STREAMS
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- stream selection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "unknown"),
    [
        pytest.param(["jobs.*", "pay_plans.*"], [], id="known"),
        pytest.param(["jobs"], [], id="stream-only"),
        pytest.param(["jobs.UserArea.Details.*"], [], id="property-path"),
        pytest.param(["*.*", "*_types.*", "historic_*.*"], [], id="globs"),
        pytest.param(["!announcement_texts.*"], [], id="known-exclusion"),
        pytest.param(["no_such_stream.*"], ["no_such_stream.*"], id="unknown"),
        pytest.param(["jobs.*", "historic_job.*"], ["historic_job.*"], id="typo-beside-valid"),
        pytest.param(["!paye_plans.*"], ["!paye_plans.*"], id="unknown-exclusion"),
        pytest.param(["Jobs.*"], ["Jobs.*"], id="case-matters-as-in-meltano-on-linux"),
        pytest.param(["nope_*.*"], ["nope_*.*"], id="glob-matching-nothing"),
    ],
)
def test_unknown_select_patterns(patterns: list[str], unknown: list[str]) -> None:
    assert unknown_select_patterns(patterns, STREAMS) == unknown


def test_meltano_select_patterns_come_from_its_extract_variables() -> None:
    environ = {
        "MELTANO_EXTRACT__SELECT": '["jobs.*"]',
        "MELTANO_EXTRACT__SELECT_FILTER": '["!pay_plans"]',
    }
    assert meltano_select_patterns(environ) == ["jobs.*", "!pay_plans"]
    assert meltano_select_patterns({}) == []
    assert meltano_select_patterns({"MELTANO_EXTRACT__SELECT": "not json"}) == []


def test_a_meltano_select_pattern_naming_no_stream_stops_the_sync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MELTANO_EXTRACT__SELECT", json.dumps(["jobs.*", "histroic_jobs.*"]))

    with pytest.raises(ConfigValidationError) as caught:
        TapUsaJobs(config=config_with(), catalog=catalog_selecting("jobs"))

    (error,) = caught.value.errors
    assert error.startswith("select pattern 'histroic_jobs.*' matches no stream")
    assert "TAP_USAJOBS__SELECT" in error
    assert ", ".join(STREAMS) in error


def test_known_meltano_select_patterns_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELTANO_EXTRACT__SELECT", json.dumps(["jobs.*", "!pay_plans.*"]))

    TapUsaJobs(config=config_with(), catalog=catalog_selecting("jobs"))


def test_a_catalog_selecting_nothing_stops_the_sync() -> None:
    catalog = catalog_selecting("jobs")
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if not metadata["breadcrumb"]:
                metadata["metadata"]["selected"] = False

    with pytest.raises(ConfigValidationError) as caught:
        TapUsaJobs(config=config_with(), catalog=catalog)

    assert caught.value.errors[0].startswith("No stream is selected")


def test_what_jobs_saw_cannot_be_selected_without_jobs() -> None:
    with pytest.raises(ConfigValidationError) as caught:
        TapUsaJobs(config=config_with(), catalog=catalog_selecting("jobs_keywords", "pay_plans"))

    (error,) = caught.value.errors
    assert error.startswith("jobs_keywords record what the jobs stream saw")


def test_selection_is_not_checked_for_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELTANO_EXTRACT__SELECT", '["no_such_stream.*"]')

    tap = TapUsaJobs(config=config_with(), setup_mapper=False)

    assert tap.catalog_dict["streams"]


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["--test=schema"]], ids=["sync", "test-schema"])
def test_cli_prints_the_message_without_a_traceback(tmp_path: Path, args: list[str]) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_with(results_per_page="abc")))

    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tap_usajobs", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert result.stdout == "", "nothing may be emitted"
    assert "Traceback" not in result.stderr
    assert "results_per_page must be a whole number from 1 to 500, got 'abc'" in result.stderr
    assert API_KEY not in result.stderr


def test_a_number_read_as_a_decimal_is_a_number() -> None:
    # Meltano writes meltano.yml's 0.5 into the tap's config; JSON readers may give Decimal.
    config: dict[str, Any] = {"max_unreadable_share": Decimal("0.5")}

    problems = check_settings(config, TAP_SETTINGS)

    assert "max_unreadable_share" not in problems
    assert config["max_unreadable_share"] == 0.5
