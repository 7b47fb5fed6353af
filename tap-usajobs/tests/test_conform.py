"""Key spelling, value types and repairs of untrusted rows, without HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from tap_usajobs.conform import (
    NUL_REMOVED,
    SURROGATE_REPLACED,
    UNKNOWN_FIELD,
    UNREADABLE,
    WRAPPED_IN_ARRAY,
    Problem,
    SchemaConformer,
    parse_date,
    parse_integer,
    parse_text,
)
from tap_usajobs.continuation import continuation_token, is_empty_answer
from tap_usajobs.historic_schemas import HISTORIC_JOBS, KEY_ALIASES
from tap_usajobs.schemas import JOBS as SCHEMA_JOBS

CONFORM = SchemaConformer(HISTORIC_JOBS.to_dict(), KEY_ALIASES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-06-19", "2024-06-19"),
        ("2024-06-19T00:00:00", "2024-06-19"),
        ("2024-06-19T23:59:59.997-05:00", "2024-06-19"),  # a calendar date, not moved
        (" 2024-06-19 ", "2024-06-19"),
        ("2024-02-30", None),
        ("06/19/2024", None),
        ("", None),
        (None, None),
        (20240619, None),
    ],
)
def test_parse_date_returns_a_full_date_or_none(raw: object, expected: str | None) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(767342200, 767342200), ("767342200", 767342200), (2.0, 2), ("2.5", None), (True, None)],
)
def test_parse_integer_reads_whole_numbers_only(raw: object, expected: int | None) -> None:
    assert parse_integer(raw) == expected


def test_parse_text_keeps_strings_and_writes_numbers() -> None:
    assert parse_text("15") == "15"
    assert parse_text(15) == "15"
    assert parse_text(Decimal("1.5")) == "1.5"
    assert parse_text(True) is None  # noqa: FBT003
    assert parse_text(["a"]) is None


@pytest.mark.parametrize(
    ("paths", "categories", "locations"),
    [
        ("HiringPaths", "JobCategories", "PositionLocations"),
        ("hiringpaths", "jobcategories", "positionlocations"),
        ("hiringPaths", "jobCategories", "positionLocations"),
        ("HIRINGPATHS", "JOBCATEGORIES", "POSITIONLOCATIONS"),
    ],
)
def test_nested_keys_in_any_case_map_onto_the_schema_spelling(
    paths: str, categories: str, locations: str
) -> None:
    row = {
        "usajobsControlNumber": "767342200",
        paths: [{"HiringPath": "The public"}],
        categories: [{"Series": "2210"}],
        locations: [{"positionlocationcity": "Denver"}],
    }

    record, _ = CONFORM(row)

    assert record == {
        "usajobsControlNumber": 767342200,
        "hiringPaths": [{"hiringPath": "The public"}],
        "jobCategories": [{"series": "2210"}],
        "positionLocations": [{"positionLocationCity": "Denver"}],
        "unreadable_values": None,
    }


def test_typo_flags_dates_and_numbers_get_their_schema_types() -> None:
    row: dict[str, Any] = {
        "usajobsControlNumber": 1,
        "disableAppyOnline": "Y",
        "teleworkEligible": "N",
        "supervisoryStatus": "maybe",
        "positionOpenDate": "2024-06-19",
        "minimumSalary": "72553",
        "agencyLevel": "2",
        "maximumGrade": 15,
        "brandNewField": {"kept": True},
    }

    record, _ = CONFORM(row)

    assert record["disableApplyOnline"] is True
    assert "disableAppyOnline" not in record
    assert record["teleworkEligible"] is False
    assert record["supervisoryStatus"] is None  # unreadable: null, not a failed run...
    assert record["unreadable_values"] == {  # ...kept as sent, with the field the SDK will drop
        "/supervisoryStatus": "maybe",
        "/brandNewField": {"kept": True},
    }
    assert record["positionOpenDate"] == "2024-06-19"
    assert record["minimumSalary"] == Decimal(72553)
    assert record["agencyLevel"] == 2
    assert record["maximumGrade"] == "15"
    assert record["brandNewField"] == {"kept": True}, "unknown keys reach the SDK, which warns"
    assert row["disableAppyOnline"] == "Y", "the input row is left alone"


def test_when_two_spellings_arrive_the_one_with_a_value_wins() -> None:
    record, _ = CONFORM(
        {"usajobsControlNumber": 1, "disableApplyOnline": None, "disableAppyOnline": "N"}
    )

    assert record["disableApplyOnline"] is False


def _response(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    return response


@pytest.mark.parametrize(
    ("status", "body", "empty"),
    [
        (204, b"", True),
        (200, b"", True),
        (200, b"204 No Content", True),
        (200, b'"204 No Content"\n', True),
        (200, b'{"paging": {}, "data": []}', False),
    ],
)
def test_empty_answers_are_recognised_in_every_form(status: int, body: bytes, empty: bool) -> None:  # noqa: FBT001
    assert is_empty_answer(_response(status, body)) is empty


def test_continuation_token_is_read_as_written_from_a_next_link() -> None:
    link = "/api/historicjoa?StartPositionOpenDate=2024-01-01&continuationtoken=ct%2FMTA6YQ%3D%3D"

    assert continuation_token(link) == "ct%2FMTA6YQ%3D%3D"
    assert continuation_token("/api/historicjoa?page=2") == "/api/historicjoa?page=2"


# --- untrusted content: repaired, recorded, never lost ------------------------------------

JOBS = SchemaConformer(SCHEMA_JOBS.to_dict())


def _problems(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(problem.path, problem.kind) for problem in problems}


def test_nul_characters_are_removed_from_text_at_any_depth() -> None:
    record, problems = JOBS(
        {
            "MatchedObjectId": "1",
            "PositionTitle": "Data\x00 Engineer",
            "UserArea": {"Details": {"MajorDuties": ["Builds\x00 pipelines"]}},
        }
    )

    assert record["PositionTitle"] == "Data Engineer"
    assert record["UserArea"]["Details"]["MajorDuties"] == ["Builds pipelines"]
    assert _problems(problems) == {
        ("/PositionTitle", NUL_REMOVED),
        ("/UserArea/Details/MajorDuties/0", NUL_REMOVED),
    }
    assert record["unreadable_values"] is None, "a repair loses nothing worth keeping"


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    # What json.loads makes of "\ud83d", the first half of an emoji cut off.
    record, problems = JOBS({"MatchedObjectId": "1", "PositionTitle": "Nurse \ud83d"})

    assert record["PositionTitle"] == "Nurse \ufffd"
    assert record["PositionTitle"].encode("utf-8")  # encodable: a target can write it
    assert _problems(problems) == {("/PositionTitle", SURROGATE_REPLACED)}


def test_a_single_value_where_a_list_belongs_is_wrapped_not_split_into_characters() -> None:
    record, problems = JOBS(
        {
            "MatchedObjectId": "1",
            "ApplyURI": "https://www.usajobs.gov/job/1",
            "PositionRemuneration": {"MinimumRange": "50000", "RateIntervalCode": "PA"},
        }
    )

    assert record["ApplyURI"] == ["https://www.usajobs.gov/job/1"]
    assert record["PositionRemuneration"] == [
        {"MinimumRange": Decimal(50000), "RateIntervalCode": "PA"}
    ]
    assert _problems(problems) == {
        ("/ApplyURI", WRAPPED_IN_ARRAY),
        ("/PositionRemuneration", WRAPPED_IN_ARRAY),
    }


@pytest.mark.parametrize(
    ("field", "sent", "path"),
    [
        pytest.param(
            {"PositionTitle": {"text": "x"}}, {"text": "x"}, "/PositionTitle", id="object-for-text"
        ),
        pytest.param(
            {"PositionTitle": ["a", "b"]}, ["a", "b"], "/PositionTitle", id="list-for-text"
        ),
        pytest.param({"RelevanceRank": "high"}, "high", "/RelevanceRank", id="text-for-number"),
        pytest.param(
            {"PublicationStartDate": "06/04/2024"},
            "06/04/2024",
            "/PublicationStartDate",
            id="us-date",
        ),
        pytest.param(
            {"PublicationStartDate": "2024-02-30T00:00:00"},
            "2024-02-30T00:00:00",
            "/PublicationStartDate",
            id="impossible-date",
        ),
        pytest.param(
            {"PositionRemuneration": [{"MinimumRange": "N/A"}]},
            "N/A",
            "/PositionRemuneration/0/MinimumRange",
            id="n-a-salary",
        ),
        pytest.param(
            {"UserArea": {"Details": {"Relocation": "maybe"}}},
            "maybe",
            "/UserArea/Details/Relocation",
            id="maybe-flag",
        ),
        pytest.param({"UserArea": "none"}, "none", "/UserArea", id="text-for-object"),
        pytest.param(
            {"PositionLocation": ["Denver"]},
            "Denver",
            "/PositionLocation/0",
            id="text-in-object-list",
        ),
    ],
)
def test_a_value_that_cannot_be_read_is_null_and_kept_as_sent(
    field: dict[str, Any], sent: object, path: str
) -> None:
    record, problems = JOBS({"MatchedObjectId": "1", **field})

    assert record["unreadable_values"] == {path: sent}
    assert (path, UNREADABLE) in _problems(problems)


def test_empty_text_is_an_absent_value_not_an_unreadable_one() -> None:
    record, problems = JOBS(
        {"MatchedObjectId": "1", "PositionRemuneration": [{"MinimumRange": " "}]}
    )

    assert record["PositionRemuneration"] == [{"MinimumRange": None}]
    assert problems == []


def test_unknown_fields_are_kept_cleaned_and_reported() -> None:
    record, problems = JOBS(
        {"MatchedObjectId": "1", "UserArea": {"Details": {"NewThing": {"a": "b\x00"}}}}
    )

    assert record["UserArea"]["Details"]["NewThing"] == {"a": "b"}
    assert _problems(problems) == {("/UserArea/Details/NewThing", UNKNOWN_FIELD)}


def test_unreadable_originals_are_cleaned_so_a_jsonb_column_takes_them() -> None:
    record, _ = JOBS({"MatchedObjectId": "1", "RelevanceRank": "x\x00\ud83d"})

    assert record["unreadable_values"] == {"/RelevanceRank": "x\ufffd"}


def test_problem_fields_name_the_same_field_in_every_row() -> None:
    assert Problem("/PositionRemuneration/3/MinimumRange", UNREADABLE).field == (
        "/PositionRemuneration/*/MinimumRange"
    )


def test_a_nul_in_a_key_cannot_carry_a_value_past_its_type() -> None:
    # "PositionRemuneration\x00" cleans to a schema name: it is typed like the real key,
    # and the real key, the schema's own spelling, keeps its value.
    record, _ = JOBS(
        {
            "MatchedObjectId": "1",
            "PositionRemuneration\x00": "garbage",
            "PositionRemuneration": [{"MinimumRange": "5"}],
            "PublicationStartDate\x00": "zzzz",
            "PublicationStartDate": "2024-06-04T00:00:00",
        }
    )

    assert record["PositionRemuneration"] == [{"MinimumRange": Decimal(5)}]
    assert record["PublicationStartDate"] == "2024-06-04T00:00:00+00:00"
    assert record["unreadable_values"] == {
        "/PositionRemuneration": "garbage",
        "/PublicationStartDate": "zzzz",
    }


def test_a_second_spelling_with_another_value_is_kept_not_dropped() -> None:
    record, _ = JOBS({"MatchedObjectId": "1", "PositionTitle": "First", "positiontitle": "Second"})

    assert record["PositionTitle"] == "First"
    assert record["unreadable_values"] == {"/positiontitle": "Second"}


def test_values_json_cannot_hold_are_kept_as_text() -> None:
    record, _ = JOBS({"MatchedObjectId": "1", "RelevanceRank": float("nan")})

    assert record["RelevanceRank"] is None
    assert record["unreadable_values"] == {"/RelevanceRank": "nan"}


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, "1e25", 10**20])
def test_integers_past_bigint_are_unreadable(value: object) -> None:
    assert parse_integer(value) is None


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_dates_a_zone_pushes_past_the_calendar_are_unreadable(value: str) -> None:
    record, _ = JOBS({"MatchedObjectId": "1", "PublicationStartDate": value})

    assert record["PublicationStartDate"] is None
    assert record["unreadable_values"] == {"/PublicationStartDate": value}
