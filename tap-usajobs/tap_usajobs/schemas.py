"""JSON schemas of the tap's records.

Every property is nullable: the API omits keys freely (a Details field present on one
posting is absent on the next), and a target must never reject a posting for that.
Field names are the API's own, so the schema reads against the USAJobs docs.
"""

from __future__ import annotations

from singer_sdk import typing as th

_S = th.StringType
_STRINGS = th.ArrayType(th.StringType)

#: In every stream: what the tap could not read, so that no value is lost silently.
UNREADABLE_VALUES = th.Property(
    "unreadable_values",
    th.ObjectType(additional_properties=True),
    description=(
        "Values the tap could not read into their declared type, as the API sent them, "
        "keyed by JSON Pointer (e.g. /PositionRemuneration/0/MinimumRange). Each of them is "
        "null in its own field. Null when every value was read."
    ),
)

CODE_NAME = th.ObjectType(
    th.Property("Code", _S),
    th.Property("Name", _S),
)

POSITION_LOCATION = th.ObjectType(
    th.Property("LocationName", _S),
    th.Property("CountryCode", _S, description="Country name, despite the key's name."),
    th.Property(
        "CountrySubDivisionCode",
        _S,
        description='State name, despite the key\'s name, or "N/A".',
    ),
    th.Property("CityName", _S, description='"City, State".'),
    th.Property("Longitude", th.NumberType, description="0 for a negotiable location."),
    th.Property("Latitude", th.NumberType, description="0 for a negotiable location."),
)

POSITION_REMUNERATION = th.ObjectType(
    th.Property("MinimumRange", th.NumberType, description="Parsed from the API's string."),
    th.Property("MaximumRange", th.NumberType, description="Parsed from the API's string."),
    th.Property(
        "RateIntervalCode",
        _S,
        description='As sent: "PA", "PH", ... or legacy text such as "Per Year".',
    ),
    th.Property("Description", _S, description="As sent; absent in pre-2023 data."),
)

FORMATTED_DESCRIPTION = th.ObjectType(
    th.Property("Content", _S),
    th.Property("Label", _S),
    th.Property("LabelDescription", _S),
)

DETAILS = th.ObjectType(
    th.Property("JobSummary", _S),
    th.Property("WhoMayApply", CODE_NAME),
    th.Property("LowGrade", _S),
    th.Property("HighGrade", _S),
    th.Property("PromotionPotential", _S),
    th.Property("SubAgencyName", _S),
    th.Property("OrganizationCodes", _S, description='Agency path such as "DD/ARAF".'),
    th.Property("TotalOpenings", _S, description='Free text: "2", "Few", "Many".'),
    th.Property("AgencyMarketingStatement", _S),
    th.Property("TravelCode", _S),
    th.Property("ApplyOnlineUrl", _S),
    th.Property("DetailStatusUrl", _S),
    th.Property("MajorDuties", _STRINGS),
    th.Property("Education", _S),
    th.Property("Requirements", _S),
    th.Property("Evaluations", _S),
    th.Property("HowToApply", _S),
    th.Property("WhatToExpectNext", _S),
    th.Property("RequiredDocuments", _S),
    th.Property("Benefits", _S),
    th.Property("BenefitsUrl", _S),
    th.Property("BenefitsDisplayDefaultText", th.BooleanType),
    th.Property("OtherInformation", _S),
    th.Property("KeyRequirements", _STRINGS),
    th.Property("WithinArea", th.BooleanType, description='Parsed from "True"/"False".'),
    th.Property("CommuteDistance", _S),
    th.Property("ServiceType", _S),
    th.Property("AnnouncementClosingType", _S, description='Code: "01" closing date, ...'),
    th.Property(
        "AnnouncementClosingTypeOption",
        _S,
        description='How it closes, as text: "Closing Date", "Applicant Cut-Off", ...',
    ),
    th.Property("AgencyContactEmail", _S),
    th.Property("AgencyContactPhone", _S),
    th.Property("AgencyContactWebsite", _S),
    th.Property("SecurityClearance", _S),
    th.Property("DrugTestRequired", th.BooleanType, description='Parsed from "True"/"False".'),
    th.Property("Relocation", th.BooleanType, description='Parsed from "True"/"False".'),
    th.Property("PositionSensitivitiy", _S, description="Sic: the API's spelling."),
    th.Property("AdjudicationType", _STRINGS),
    th.Property("TeleworkEligible", th.BooleanType),
    th.Property("RemoteIndicator", th.BooleanType),
    th.Property("HiringPath", _STRINGS, description='Lower-case codes: "public", "vet", ...'),
    th.Property("MCOTags", _STRINGS),
)

JOBS = th.PropertiesList(
    th.Property(
        "MatchedObjectId",
        _S,
        required=True,
        description="USAJobs control number: the posting's stable key.",
    ),
    th.Property("RelevanceRank", th.NumberType),
    th.Property("PositionID", _S, description="Announcement number; not unique."),
    th.Property("PositionTitle", _S),
    th.Property("PositionURI", _S),
    th.Property("ApplyURI", _STRINGS),
    th.Property("PositionLocationDisplay", _S),
    th.Property("PositionLocation", th.ArrayType(POSITION_LOCATION)),
    th.Property("OrganizationName", _S),
    th.Property("DepartmentName", _S),
    th.Property("SubAgency", _S),
    th.Property("JobCategory", th.ArrayType(CODE_NAME), description="Occupational series."),
    th.Property(
        "JobGrade",
        th.ArrayType(th.ObjectType(th.Property("Code", _S))),
        description="Pay plan.",
    ),
    th.Property("PositionSchedule", th.ArrayType(CODE_NAME)),
    th.Property("PositionOfferingType", th.ArrayType(CODE_NAME)),
    th.Property("QualificationSummary", _S),
    th.Property("PositionRemuneration", th.ArrayType(POSITION_REMUNERATION)),
    th.Property("PositionStartDate", th.DateTimeType),
    th.Property("PositionEndDate", th.DateTimeType),
    th.Property(
        "PublicationStartDate",
        th.DateTimeType,
        description="When the posting opened; the replication key.",
    ),
    th.Property("ApplicationCloseDate", th.DateTimeType),
    th.Property("PositionFormattedDescription", th.ArrayType(FORMATTED_DESCRIPTION)),
    th.Property(
        "UserArea",
        th.ObjectType(
            th.Property("Details", DETAILS),
            th.Property("IsRadialSearch", th.BooleanType),
        ),
    ),
    UNREADABLE_VALUES,
    th.Property(
        "scan_version",
        th.IntegerType,
        description=(
            "The run that emitted the posting (its start in Unix milliseconds; a full "
            "scan's table version). For targets that ignore ACTIVATE_VERSION: the posting "
            "is open if this is at least the newest jobs_scans.scan_version whose "
            "closes_unseen is true."
        ),
    ),
)
