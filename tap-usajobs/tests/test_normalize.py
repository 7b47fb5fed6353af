"""Unit tests of the value parsers that give the Search API's loose values honest types."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from tap_usajobs.conform import SchemaConformer
from tap_usajobs.normalize import hoist_search_item, parse_amount, parse_bool, parse_datetime
from tap_usajobs.streams import SearchJobsStream, normalize_search_item


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("134751.0", "134751", id="one-decimal"),
        pytest.param("92166", "92166", id="integer-string"),
        pytest.param("32318.0000", "32318", id="four-decimals"),
        pytest.param("18.25", "18.25", id="hourly-cents"),
        pytest.param("$1,234.50", "1234.5", id="dollar-sign-and-thousands-comma"),
        pytest.param(" 45000 ", "45000", id="surrounding-spaces"),
        pytest.param("100000.0", "100000", id="round-number-stays-plain-not-1E+5"),
        pytest.param("0.0", "0", id="without-compensation"),
        pytest.param(25, "25", id="json-integer"),
        pytest.param(25.5, "25.5", id="json-float"),
    ],
)
def test_parse_amount_reads_every_salary_format_as_a_plain_decimal(
    raw: object, expected: str
) -> None:
    amount = parse_amount(raw)
    assert isinstance(amount, Decimal)
    assert str(amount) == expected  # value and representation: no cosmetic zeros, no exponent


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("$", id="symbol-only"),
        pytest.param("N/A", id="text"),
        pytest.param("12.5.3", id="two-points"),
        pytest.param("NaN", id="nan-string"),
        pytest.param("Infinity", id="infinity-string"),
        pytest.param("9" * 40, id="more-digits-than-decimal-precision"),
        pytest.param(float("nan"), id="nan-float"),
        pytest.param(True, id="boolean"),
        pytest.param(["92166"], id="list"),
    ],
)
def test_parse_amount_returns_none_for_what_is_not_an_amount(raw: object) -> None:
    assert parse_amount(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "2024-06-04T00:00:00.0000",
            "2024-06-04T00:00:00+00:00",
            id="four-digit-fraction-no-zone",
        ),
        pytest.param(
            "2024-06-12T23:59:59.9970",
            "2024-06-12T23:59:59.997000+00:00",
            id="closing-time-milliseconds",
        ),
        pytest.param("2016-06-08T00:00:00Z", "2016-06-08T00:00:00+00:00", id="z-suffix"),
        pytest.param(
            "2015-05-01T00:00:00.0000000Z",
            "2015-05-01T00:00:00+00:00",
            id="seven-digit-fraction-and-z",
        ),
        pytest.param(
            "2024-06-04T00:00:00.9999999",
            "2024-06-04T00:00:00.999999+00:00",
            id="seventh-digit-truncated-not-rounded",
        ),
        pytest.param(
            "2024-06-04T10:00:00-05:00",
            "2024-06-04T15:00:00+00:00",
            id="explicit-offset-converted-to-utc",
        ),
        pytest.param(" 2024-06-04T00:00:00Z ", "2024-06-04T00:00:00+00:00", id="padded"),
    ],
)
def test_parse_datetime_returns_rfc3339_in_utc(raw: str, expected: str) -> None:
    assert parse_datetime(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("06/04/2024", id="us-style"),
        pytest.param("2024-13-01T00:00:00", id="month-13"),
        pytest.param("2024-06-31T00:00:00.0000", id="june-31"),
        pytest.param("soon", id="text"),
        pytest.param(20240604, id="number"),
    ],
)
def test_parse_datetime_returns_none_for_unreadable_dates(raw: object) -> None:
    assert parse_datetime(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("True", True, id="True-string"),
        pytest.param("False", False, id="False-string"),
        pytest.param("true", True, id="lower-case"),
        pytest.param(" FALSE ", False, id="upper-case-padded"),
        pytest.param("Yes", True, id="yes"),
        pytest.param("No", False, id="no"),
        pytest.param(True, True, id="real-true"),
        pytest.param(False, False, id="real-false"),
        pytest.param("", None, id="empty"),
        pytest.param("Maybe", None, id="other-text"),
        pytest.param(None, None, id="none"),
        pytest.param(1, None, id="integer-is-not-a-flag"),
    ],
)
def test_parse_bool_reads_string_flags_and_keeps_real_booleans(
    raw: object, *, expected: bool | None
) -> None:
    assert parse_bool(raw) is expected


def _search_item() -> dict[str, Any]:
    """One Search result item shaped like the API's 2024 responses, trimmed."""
    return {
        "MatchedObjectId": "795123400",
        "MatchedObjectDescriptor": {
            "PositionID": "NIST-25-12345-DE",
            "PositionTitle": "Data Engineer",
            "PositionURI": "https://www.usajobs.gov:443/GetJob/ViewDetails/795123400",
            "PositionLocation": [
                {
                    "LocationName": "Denver, Colorado",
                    "CountryCode": "United States",
                    "CountrySubDivisionCode": "Colorado",
                    "CityName": "Denver, Colorado",
                    "Longitude": -104.9847,
                    "Latitude": 39.7392,
                }
            ],
            "OrganizationName": "National Institute of Standards and Technology",
            "DepartmentName": "Department of Commerce",
            "JobCategory": [{"Name": "Data Science Series", "Code": "1560"}],
            "PositionRemuneration": [
                {
                    "MinimumRange": "134751.0",
                    "MaximumRange": "175176.0000",
                    "RateIntervalCode": "PA",
                    "Description": "Per Year",
                },
                "not an object",
            ],
            "PositionStartDate": "2024-06-04T00:00:00.0000",
            "PositionEndDate": "2024-06-12T23:59:59.9970",
            "PublicationStartDate": "2024-06-04T00:00:00.0000",
            "ApplicationCloseDate": "2024-06-12T23:59:59.9970",
            "UserArea": {
                "Details": {
                    "JobSummary": "Builds data pipelines.",
                    "LowGrade": "13",
                    "Relocation": "False",
                    "WithinArea": "True",
                    "DrugTestRequired": "Maybe",
                    "TeleworkEligible": True,
                    "RemoteIndicator": False,
                    "HiringPath": ["public", "fed-competitive"],
                },
                "IsRadialSearch": False,
            },
        },
        "RelevanceRank": 0,
    }


def test_normalize_search_item_hoists_the_descriptor_next_to_the_key() -> None:
    record = normalize_search_item(_search_item())

    assert "MatchedObjectDescriptor" not in record
    assert record["MatchedObjectId"] == "795123400"
    assert record["RelevanceRank"] == 0
    assert record["PositionID"] == "NIST-25-12345-DE"
    assert record["PositionTitle"] == "Data Engineer"
    assert float(record["PositionLocation"][0]["Longitude"]) == -104.9847
    assert record["JobCategory"] == [{"Name": "Data Science Series", "Code": "1560"}]


def test_normalize_search_item_types_salaries_dates_and_flags() -> None:
    record = normalize_search_item(_search_item())

    assert record["PositionRemuneration"] == [
        {
            "MinimumRange": Decimal(134751),
            "MaximumRange": Decimal(175176),
            "RateIntervalCode": "PA",
            "Description": "Per Year",
        }
    ]  # the entry that is not an object is left out of the list...
    assert record["unreadable_values"] == {
        "/PositionRemuneration/1": "not an object",  # ...and kept as sent
        "/UserArea/Details/DrugTestRequired": "Maybe",
    }
    assert record["PositionStartDate"] == "2024-06-04T00:00:00+00:00"
    assert record["PositionEndDate"] == "2024-06-12T23:59:59.997000+00:00"
    assert record["PublicationStartDate"] == "2024-06-04T00:00:00+00:00"
    assert record["ApplicationCloseDate"] == "2024-06-12T23:59:59.997000+00:00"
    assert record["UserArea"] == {
        "Details": {
            "JobSummary": "Builds data pipelines.",
            "LowGrade": "13",
            "Relocation": False,
            "WithinArea": True,
            "DrugTestRequired": None,
            "TeleworkEligible": True,
            "RemoteIndicator": False,
            "HiringPath": ["public", "fed-competitive"],
        },
        "IsRadialSearch": False,
    }


def test_normalize_search_item_leaves_its_input_untouched() -> None:
    item = _search_item()
    pristine = copy.deepcopy(item)
    normalize_search_item(item)
    assert item == pristine


def test_normalize_search_item_leaves_missing_optional_keys_missing() -> None:
    item = _search_item()
    descriptor = item["MatchedObjectDescriptor"]
    for key in ("PositionEndDate", "ApplicationCloseDate", "PositionLocation"):
        del descriptor[key]
    del descriptor["UserArea"]["Details"]["Relocation"]
    del descriptor["PositionRemuneration"][0]["Description"]
    del descriptor["PositionRemuneration"][0]["MaximumRange"]

    record = normalize_search_item(item)

    assert "PositionEndDate" not in record
    assert "ApplicationCloseDate" not in record
    assert "PositionLocation" not in record
    assert "Relocation" not in record["UserArea"]["Details"]
    assert record["PositionRemuneration"] == [
        {"MinimumRange": Decimal(134751), "RateIntervalCode": "PA"}
    ]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(
            {"MatchedObjectId": "1"},
            {"MatchedObjectId": "1", "RelevanceRank": None, "unreadable_values": None},
            id="no-descriptor",
        ),
        pytest.param(
            {"MatchedObjectId": "1", "MatchedObjectDescriptor": None},
            {"MatchedObjectId": "1", "RelevanceRank": None, "unreadable_values": None},
            id="null-descriptor",
        ),
        pytest.param(
            {"MatchedObjectDescriptor": {"PositionTitle": "Nurse"}, "RelevanceRank": 2147483644},
            {
                "PositionTitle": "Nurse",
                "MatchedObjectId": None,
                "RelevanceRank": 2147483644,
                "unreadable_values": None,
            },
            id="no-key",
        ),
        pytest.param(
            {
                "MatchedObjectId": "1",
                "MatchedObjectDescriptor": {
                    "PositionRemuneration": None,
                    "UserArea": {"IsRadialSearch": False},
                    "PublicationStartDate": None,
                },
            },
            {
                "MatchedObjectId": "1",
                "RelevanceRank": None,
                "PositionRemuneration": None,
                "UserArea": {"IsRadialSearch": False},
                "PublicationStartDate": None,
                "unreadable_values": None,
            },
            id="null-and-partial-members",
        ),
    ],
)
def test_normalize_search_item_tolerates_sparse_items(
    item: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert normalize_search_item(item) == expected


def test_the_closing_type_option_is_a_field_of_the_schema_not_an_unknown_one() -> None:
    # Analysts filter on how an announcement closes (closing date, cut-off, open
    # continuous); before it was in the schema it was reported as unknown.
    item = _search_item()
    details = item["MatchedObjectDescriptor"]["UserArea"]["Details"]
    details.update(AnnouncementClosingType="02", AnnouncementClosingTypeOption="Applicant Cut-Off")

    record, problems = SchemaConformer(SearchJobsStream.schema)(hoist_search_item(item))

    assert record["UserArea"]["Details"]["AnnouncementClosingTypeOption"] == "Applicant Cut-Off"
    assert record["UserArea"]["Details"]["AnnouncementClosingType"] == "02"
    assert not [problem for problem in problems if "AnnouncementClosingType" in problem.path]
