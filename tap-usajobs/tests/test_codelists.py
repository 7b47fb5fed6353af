"""Code list streams over real HTTP against the fake, which serves real code lists."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from conftest import control, tap_config_for
from jsonschema import Draft7Validator, FormatChecker
from singer_sdk.exceptions import FatalAPIError
from test_historic import records, run

from tap_usajobs.codelists import CODE_LISTS
from tap_usajobs.tap import TapUsaJobs
from tap_usajobs.testing.code_lists import CODE_LIST_NAMES, DATA_DIR

if TYPE_CHECKING:
    from tap_usajobs.testing.fake_api import FakeUsaJobsServer

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00$")
STREAMS = [code_list.stream_name for code_list in CODE_LISTS]


@pytest.fixture
def config(fake_api: FakeUsaJobsServer) -> dict[str, Any]:
    """Tap settings for the shared fake."""
    return tap_config_for(fake_api.url)


def real_values(route: str) -> list[dict[str, Any]]:
    """The valid values of a real code list response, as saved."""
    body = json.loads((DATA_DIR / f"codelist_{route}.json").read_text(encoding="utf-8"))
    return body["CodeList"][0]["ValidValue"]


def test_the_fake_serves_every_code_list_the_tap_reads() -> None:
    assert {code_list.route for code_list in CODE_LISTS} == set(CODE_LIST_NAMES)
    assert len(set(STREAMS)) == len(STREAMS)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in STREAMS)


def test_each_list_is_one_request_without_the_key_and_every_code_arrives_typed(
    fake_api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    tap = TapUsaJobs(config=config, parse_env_config=False)

    result = run(config, *STREAMS)

    log = control(fake_api, "keyless-requests")["requests"]
    assert sorted(entry["path"] for entry in log) == sorted(
        f"/api/codelist/{code_list.route}" for code_list in CODE_LISTS
    )
    assert not any(entry["key_sent"] for entry in log)
    for code_list in CODE_LISTS:
        rows = records(result, code_list.stream_name)
        served = real_values(code_list.route)
        assert [row["Code"] for row in rows] == [value["Code"] for value in served]
        validator = Draft7Validator(
            tap.streams[code_list.stream_name].schema, format_checker=FormatChecker()
        )
        for row, value in zip(rows, served, strict=True):
            validator.validate(row)
            assert row["IsDisabled"] is (value["IsDisabled"] == "Yes")
            assert RFC3339_UTC.match(row["LastModified"])
            assert row["LastModified"][:19] == value["LastModified"][:19]
            for field in code_list.extra_fields:
                assert row.get(field) == value.get(field)


def test_list_specific_fields_are_in_their_own_schemas_only() -> None:
    tap = TapUsaJobs(config=tap_config_for("http://fake-usajobs.invalid"), parse_env_config=False)

    def fields(stream: str) -> set[str]:
        return set(tap.streams[stream].schema["properties"])

    common = {"Code", "Value", "LastModified", "IsDisabled", "unreadable_values"}
    assert fields("agency_subelements") == common | {"ParentCode", "Acronym"}
    assert fields("occupational_series") == common | {"JobFamily"}
    assert fields("pay_plans") == common
    assert tap.streams["pay_plans"].primary_keys == ("Code",)
    assert tap.streams["pay_plans"].replication_method == "FULL_TABLE"


def test_every_run_activates_a_new_version_and_a_removed_code_is_gone_from_it(
    fake_api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    first = run(config, "pay_plans")
    control(fake_api, "codelists", {"list": "payplans", "remove": ["AA"]})

    second = run({**config}, "pay_plans")

    def versions(result: Any) -> tuple[list[int], set[int]]:
        activations = [m["version"] for m in result.messages if m["type"] == "ACTIVATE_VERSION"]
        stamped = {m["version"] for m in result.messages if m["type"] == "RECORD"}
        return activations, stamped

    (first_version,), first_stamps = versions(first)
    (second_version,), second_stamps = versions(second)
    assert first_stamps == {first_version}
    assert second_stamps == {second_version}
    assert second_version > first_version
    # Only once every code is out: a failed read must not retire the whole list.
    kinds = [m["type"] for m in second.messages if m.get("stream") == "pay_plans"]
    assert kinds[-1] == "ACTIVATE_VERSION"
    assert kinds.count("ACTIVATE_VERSION") == 1
    first_codes = {row["Code"] for row in records(first, "pay_plans")}
    second_codes = {row["Code"] for row in records(second, "pay_plans")}
    assert first_codes - second_codes == {"AA"}


def test_a_code_list_is_read_by_every_shard(config: dict[str, Any]) -> None:
    for index in range(3):
        tap = TapUsaJobs(
            config={**config, "shard_count": 3, "shard_index": index}, parse_env_config=False
        )
        assert tap.streams["pay_plans"].partitions is None


def test_a_failed_or_empty_read_retires_nothing(
    fake_api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    codes = control(fake_api, "codelists")["payplans"]
    control(fake_api, "codelists", {"list": "payplans", "remove": codes})

    empty = run(config, "pay_plans")

    assert not [m for m in empty.messages if m["type"] == "ACTIVATE_VERSION"]
    # Nor does it postpone the next read, as a whole read would.
    assert "read_on" not in empty.final_state["bookmarks"]["pay_plans"]
    run(config, "pay_plans", state=empty.final_state)
    assert codelist_requests(fake_api) == 2
    with pytest.raises(FatalAPIError):
        run({**config, "base_url": f"{fake_api.url}/no-such-root"}, "pay_plans")


def codelist_requests(api: FakeUsaJobsServer) -> int:
    """How many code list requests the fake has answered."""
    log = control(api, "keyless-requests")["requests"]
    return sum(entry["path"].lower().startswith("/api/codelist/") for entry in log)


def test_a_list_read_whole_is_read_again_only_after_its_refresh_interval(
    fake_api: FakeUsaJobsServer, config: dict[str, Any]
) -> None:
    first = run(config, "pay_plans")
    state = first.final_state
    read_on = state["bookmarks"]["pay_plans"]["read_on"]
    assert read_on == datetime.now(timezone.utc).date().isoformat()

    again = run(config, "pay_plans", state=state)

    # Nothing at all for the list: no rows, and no ACTIVATE_VERSION to retire them.
    assert not [
        m for m in again.messages if m.get("stream") == "pay_plans" and m["type"] != "SCHEMA"
    ]
    assert codelist_requests(fake_api) == 1
    week_ago = (date.fromisoformat(read_on) - timedelta(days=7)).isoformat()
    state["bookmarks"]["pay_plans"]["read_on"] = week_ago

    due = run(config, "pay_plans", state=state)

    assert codelist_requests(fake_api) == 2
    assert [m["type"] for m in due.messages if m.get("stream") == "pay_plans"][-1] == (
        "ACTIVATE_VERSION"
    )
    assert due.final_state["bookmarks"]["pay_plans"]["read_on"] == read_on
    run({**config, "code_list_refresh_days": 0}, "pay_plans", state=due.final_state)
    assert codelist_requests(fake_api) == 3
