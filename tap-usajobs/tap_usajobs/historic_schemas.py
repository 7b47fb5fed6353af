"""JSON schemas of the Historic JOA streams (``historic_jobs``, ``announcement_texts``).

Field names are the API's camelCase ones, as the developer docs and public clients spell
them. The API varies the case of some keys and misspells one; ``SchemaConformer`` maps
those spellings onto these names, so each property here is the one true spelling. Every
property but the key is nullable: completeness varies from 0% (``whoMayApply``) to 100%.
"""

from __future__ import annotations

from singer_sdk import typing as th

from tap_usajobs.schemas import UNREADABLE_VALUES

_S = th.StringType
_FLAG = "Sent as Y/N."

#: Final values of ``positionOpeningStatus``: a posting in one of them changes no more.
FINAL_STATUSES = frozenset({"Job closed", "Candidate selected", "Job canceled"})

#: Other spellings the API has used, mapped (case-insensitively) to the schema's names.
KEY_ALIASES = {"disableAppyOnline": "disableApplyOnline"}

CONTROL_NUMBER = th.Property(
    "usajobsControlNumber",
    th.IntegerType,
    required=True,
    description="USAJobs control number: the key, equal to Search's MatchedObjectId.",
)
POSITION_OPEN_DATE = th.Property(
    "positionOpenDate",
    th.DateType,
    description="When the announcement opened; the date its window is chosen by.",
)

HIRING_PATH = th.ObjectType(
    th.Property("hiringPath", _S, description='Text such as "The public", not a code.'),
)
JOB_CATEGORY = th.ObjectType(th.Property("series", _S, description="Occupational series code."))
POSITION_LOCATION = th.ObjectType(
    th.Property("positionLocationCity", _S),
    th.Property("positionLocationState", _S),
    th.Property("positionLocationCountry", _S),
)

HISTORIC_JOBS = th.PropertiesList(
    CONTROL_NUMBER,
    th.Property("announcementNumber", _S, description="Not unique across control numbers."),
    th.Property("positionTitle", _S),
    th.Property("hiringAgencyCode", _S, description="Agency subelement code."),
    th.Property("hiringAgencyName", _S),
    th.Property("hiringDepartmentCode", _S, description="Agency code of the department."),
    th.Property("hiringDepartmentName", _S),
    th.Property("hiringSubelementName", _S),
    th.Property("agencyLevel", th.IntegerType),
    th.Property("agencyLevelSort", _S, description='"Department\\Agency".'),
    th.Property("appointmentType", _S, description='Text such as "Permanent".'),
    th.Property("workSchedule", _S, description='Text such as "Full-time".'),
    th.Property("serviceType", _S, description='Text such as "Competitive".'),
    th.Property("payScale", _S, description="Pay plan code."),
    th.Property("salaryType", _S, description='Rate interval as text: "Per Year", "Per Hour", ...'),
    th.Property("minimumGrade", _S),
    th.Property("maximumGrade", _S),
    th.Property("promotionPotential", _S),
    th.Property("minimumSalary", th.NumberType),
    th.Property("maximumSalary", th.NumberType),
    th.Property("totalOpenings", _S, description='Free text: "2", "01", "Many".'),
    th.Property("supervisoryStatus", th.BooleanType, description=_FLAG),
    th.Property("teleworkEligible", th.BooleanType, description=_FLAG),
    th.Property("securityClearanceRequired", th.BooleanType, description=_FLAG),
    th.Property("drugTestRequired", th.BooleanType, description=_FLAG),
    th.Property("relocationExpensesReimbursed", th.BooleanType, description=_FLAG),
    th.Property(
        "disableApplyOnline",
        th.BooleanType,
        description=f"{_FLAG} The API spells the key disableAppyOnline.",
    ),
    th.Property("securityClearance", _S, description='Text such as "Secret".'),
    th.Property("travelRequirement", _S, description='Text such as "25% or less".'),
    th.Property("vendor", _S, description="The hiring system, e.g. USASTAFFING."),
    th.Property("whoMayApply", _S, description="Almost never filled."),
    th.Property("announcementClosingTypeCode", _S, description='"01", "02" or "03".'),
    th.Property("announcementClosingTypeDescription", _S),
    POSITION_OPEN_DATE,
    th.Property("positionCloseDate", th.DateType),
    th.Property("positionExpireDate", th.DateType),
    th.Property(
        "positionOpeningStatus",
        _S,
        description=(
            "Accepting applications, Applications under review, Job closed, Candidate "
            "selected or Job canceled; the last three are final."
        ),
    ),
    th.Property("hiringPaths", th.ArrayType(HIRING_PATH)),
    th.Property("jobCategories", th.ArrayType(JOB_CATEGORY)),
    th.Property("positionLocations", th.ArrayType(POSITION_LOCATION)),
    UNREADABLE_VALUES,
)

ANNOUNCEMENT_TEXTS = th.PropertiesList(
    CONTROL_NUMBER,
    th.Property("announcementNumber", _S),
    POSITION_OPEN_DATE,
    th.Property("positionCloseDate", th.DateType),
    th.Property("hiringAgencyCode", _S),
    th.Property("hiringDepartmentCode", _S),
    th.Property("positionSeries", _S),
    th.Property("jobCategories", th.ArrayType(JOB_CATEGORY)),
    th.Property("summary", _S),
    th.Property("duties", _S),
    th.Property("majorDutiesList", _S),
    th.Property("hiringPathExplanation", _S),
    th.Property("requirements", _S),
    th.Property("requirementsConditionsOfEmployment", _S),
    th.Property("requirementsQualifications", _S),
    th.Property("requirementsEducation", _S),
    th.Property("evaluations", _S),
    th.Property("requiredDocuments", _S),
    th.Property("requiredStandardDocuments", _S),
    th.Property("howToApply", _S),
    th.Property("howToApplyNextSteps", _S),
    th.Property("benefits", _S),
    th.Property("benefitsURL", _S),
    th.Property("otherInformation", _S),
    UNREADABLE_VALUES,
)
