"""Key spelling and value types of Historic JOA and code list rows, without HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from tap_usajobs.conform import SchemaConformer, parse_date, parse_integer, parse_text
from tap_usajobs.continuation import continuation_token, is_empty_answer
from tap_usajobs.historic_schemas import HISTORIC_JOBS, KEY_ALIASES

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

    record = CONFORM(row)

    assert record == {
        "usajobsControlNumber": 767342200,
        "hiringPaths": [{"hiringPath": "The public"}],
        "jobCategories": [{"series": "2210"}],
        "positionLocations": [{"positionLocationCity": "Denver"}],
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

    record = CONFORM(row)

    assert record["disableApplyOnline"] is True
    assert "disableAppyOnline" not in record
    assert record["teleworkEligible"] is False
    assert record["supervisoryStatus"] is None  # unreadable: null, not a failed run
    assert record["positionOpenDate"] == "2024-06-19"
    assert record["minimumSalary"] == Decimal(72553)
    assert record["agencyLevel"] == 2
    assert record["maximumGrade"] == "15"
    assert record["brandNewField"] == {"kept": True}, "unknown keys reach the SDK, which warns"
    assert row["disableAppyOnline"] == "Y", "the input row is left alone"


def test_when_two_spellings_arrive_the_one_with_a_value_wins() -> None:
    record = CONFORM(
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
