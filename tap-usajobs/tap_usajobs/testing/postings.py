"""Deterministic generator of realistic USAJobs Search result items.

Each posting depends only on (seed, index, now, detail_kb), never on how many others are
generated, so the fake server can mint more later. Codes and names come from the real
code lists (mid-2024); field names, types and quirks follow real Search responses.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import datetime, time, timedelta
from typing import Any, Literal, NamedTuple

DATA_ENGINEERING = "data engineering"
Fresh = Literal["data", "other"]

_DUPLICATE_SHARE = 0.08  # control numbers re-using the previous announcement number
_LEGACY_SHARE = 0.05  # 2015-2022 shape: RateIntervalCode "Per Year", no Description
_SPARSE_SHARE = 0.10  # postings that omit a few optional keys
_MAX_AGE_DAYS = 120


class _Org(NamedTuple):
    codes: str  # OrganizationCodes: "<department>/<agency subelement>"
    name: str
    department: str
    prefix: str  # announcement number prefix


class _Role(NamedTuple):
    title: str
    series: tuple[str, ...]
    pay_plan: str
    grades: tuple[int, int]
    topic: str  # quoted in JobSummary, which keyword search reads
    weight: int


# fmt: off
_ORGS = (
    _Org("DD/ARAF", "U.S. Army Futures Command", "Department of the Army", "ARMY"),
    _Org("DD/AF1M", "Air Force Materiel Command", "Department of the Air Force", "AF"),
    _Org("DD/DD04", "Defense Information Systems Agency", "Department of Defense", "DISA"),
    _Org("DD/NV24", "Naval Sea Systems Command", "Department of the Navy", "NAVSEA"),
    _Org("VA/VATA", "Veterans Health Administration", "Department of Veterans Affairs", "VHA"),
    _Org("HE/HE38", "National Institutes of Health", "Department of Health and Human Services",
         "NIH"),
    _Org("HE/HE36", "Food and Drug Administration", "Department of Health and Human Services",
         "FDA"),
    _Org("HS/HSAD", "U.S. Secret Service", "Department of Homeland Security", "USSS"),
    _Org("DJ/DJ02", "Federal Bureau of Investigation", "Department of Justice", "FBI"),
    _Org("TR/TR93", "Internal Revenue Service", "Department of the Treasury", "IRS"),
    _Org("IN/IN05", "Bureau of Land Management", "Department of the Interior", "BLM"),
    _Org("CM/CM57", "National Institute of Standards and Technology", "Department of Commerce",
         "NIST"),
    # Independent agencies come with an empty DepartmentName in real data.
    _Org("NN/NN00", "National Aeronautics and Space Administration", "", "NASA"),
)

_ROLES = (
    _Role("Data Engineer", ("1560",), "GS", (12, 13),
          "data engineering and pipeline development", 9),
    _Role("IT Specialist (Data Management)", ("2210",), "GS", (11, 13),
          "data engineering and data management", 10),
    _Role("Computer Scientist (Data Engineering)", ("1550", "2210"), "GS", (13, 14),
          "data engineering for research systems", 4),
    _Role("Supervisory Data Scientist", ("1560", "1530"), "GS", (14, 14),
          "data science and data engineering", 3),
    _Role("Data Analyst", ("0343",), "GS", (9, 11), "data analysis and reporting", 3),
    _Role("IT Specialist (INFOSEC)", ("2210",), "GS", (12, 13),
          "cybersecurity and information assurance", 8),
    _Role("Management and Program Analyst", ("0343",), "GS", (9, 12),
          "program evaluation and analysis", 10),
    _Role("Nurse", ("0610",), "VN", (1, 3), "patient care and clinical coordination", 10),
    _Role("Budget Analyst", ("0560",), "GS", (9, 12), "budget formulation and execution", 8),
    _Role("Police Officer", ("0083",), "GS", (5, 7), "law enforcement and physical security", 7),
    _Role("Contract Specialist", ("1102",), "GS", (7, 12),
          "acquisition and contract administration", 7),
    _Role("Human Resources Specialist", ("0201",), "GS", (9, 12),
          "staffing and position classification", 6),
    _Role("Statistician", ("1530",), "GS", (11, 13), "statistical methods and survey design", 4),
    _Role("Criminal Investigator", ("1811",), "GS", (10, 13), "complex criminal investigations", 4),
    _Role("Medical Officer", ("0602",), "GP", (13, 15), "clinical medicine", 4),
    _Role("Electronics Mechanic", ("2604",), "WG", (10, 11), "electronic equipment maintenance", 5),
    _Role("Auditor", ("0511",), "GG", (12, 13), "financial and performance audits", 3),
    _Role("Deputy Chief Information Officer", ("2210",), "ES", (0, 0),
          "enterprise technology leadership", 1),
)

_SERIES = {
    "0083": "Police", "0201": "Human Resources Management",
    "0343": "Management And Program Analysis", "0511": "Auditing", "0560": "Budget Analysis",
    "0602": "Medical Officer", "0610": "Nurse", "1102": "Contracting", "1530": "Statistics",
    "1550": "Computer Science", "1560": "Data Science Series", "1811": "Criminal Investigation",
    "2210": "Information Technology Management", "2604": "Electronics Mechanic",
}

# (city, state name or "N/A", country name, longitude, latitude)
_PLACES = (
    ("Washington", "District of Columbia", "United States", -77.032, 38.8904),
    ("Aberdeen Proving Ground", "Maryland", "United States", -76.1678, 39.4665),
    ("Bethesda", "Maryland", "United States", -77.1001, 38.9807),
    ("Austin", "Texas", "United States", -97.7437, 30.2711),
    ("Wright-Patterson AFB", "Ohio", "United States", -84.0537, 39.8261),
    ("San Diego", "California", "United States", -117.1628, 32.7174),
    ("Denver", "Colorado", "United States", -104.9847, 39.7392),
    ("Kansas City", "Missouri", "United States", -94.5781, 39.1001),
    ("Seattle", "Washington", "United States", -122.3301, 47.6038),
    ("Atlanta", "Georgia", "United States", -84.3902, 33.749),
    ("Ogden", "Utah", "United States", -111.9738, 41.223),
    ("Honolulu", "Hawaii", "United States", -157.8581, 21.3099),
    ("Chicago", "Illinois", "United States", -87.6244, 41.8756),
    ("Kaiserslautern", "N/A", "Germany", 7.7689, 49.4447),
    ("Yokosuka", "N/A", "Japan", 139.6722, 35.2815),
)
_NEGOTIABLE = {
    "LocationName": "Location Negotiable After Selection", "CountryCode": "United States",
    "CountrySubDivisionCode": "N/A", "CityName": "Location Negotiable After Selection",
    "Longitude": 0, "Latitude": 0,
}

# Repeats weight the draw towards the common values.
_SCHEDULES = (("Full-time", "1"), ("Full-time", "1"), ("Full-time", "1"), ("Part-time", "2"),
              ("Intermittent", "4"), ("Multiple Schedules", "6"))
_OFFERINGS = (("Permanent", "15317"), ("Permanent", "15317"), ("Temporary", "15318"),
              ("Term", "15319"), ("Multiple Appointment Types", "15327"))
_HIRING_PATHS = ("public", "fed-competitive", "fed-excepted", "vet", "mspouse", "disability",
                 "fed-internal-search", "land", "graduates", "nguard", "special-authorities")
_CLEARANCES = ("Not Required", "Not Required", "Secret", "Top Secret",
               "Public Trust - Background Investigation")
# AnnouncementClosingType code and its AnnouncementClosingTypeOption text.
_CLOSING = (("01", "Closing Date"), ("01", "Closing Date"), ("02", "Applicant Cut-Off"),
            ("03", "Open Continuous"))
_SENSITIVITY = ("Non-sensitive (NS)/Low Risk", "Noncritical-Sensitive (NCS)/Moderate Risk",
                "Moderate Risk", "High Risk", "Critical-Sensitive (CS)/High Risk")

# RateIntervalCode: (Description, lowest minimum, highest minimum, weight)
_RATES = {
    "PA": ("Per Year", 45_000, 165_000, 86),
    "PH": ("Per Hour", 18, 48, 6),
    "PD": ("Per Day", 250, 800, 2),
    "BW": ("Bi-weekly", 1_800, 6_500, 2),
    "PM": ("Per Month", 3_800, 14_000, 2),
    "WC": ("Without Compensation", 0, 0, 2),
}

_DUTIES = (
    "Plans and carries out projects in {topic} of broad scope and complexity.",
    "Advises senior leadership on policies, priorities and risks related to {topic}.",
    "Coordinates with program offices to define requirements and measure results.",
    "Prepares briefings, reports and correspondence for management review.",
    "Serves as a team lead, assigning and reviewing the work of other employees.",
)
_BOILERPLATE = {
    "Education": "Education cannot be substituted for experience at this grade level.",
    "Requirements": "U.S. Citizenship is required. Males born after 12-31-59 must be "
                    "registered for Selective Service.",
    "Evaluations": "Your application will be evaluated against the specialized experience "
                   "described above.",
    "HowToApply": "Submit a complete application package by 11:59 PM (ET) on the closing date.",
    "WhatToExpectNext": "You will receive an email once your application is received.",
    "RequiredDocuments": "A resume, and an SF-50 if you are a current or former federal "
                         "employee.",
    "Benefits": "A career with the U.S. government provides employees with a comprehensive "
                "benefits package.",
    "BenefitsUrl": "https://www.usajobs.gov/Help/working-in-government/benefits/",
    "OtherInformation": "This announcement may be used to fill additional vacancies.",
}
# Neutral boilerplate (no search keywords) used to grow postings to detail_kb.
_FILLER = (
    "Applicants must meet all qualification and eligibility requirements by the closing date.",
    "Specialized experience is experience that equipped you with the knowledge, skills and "
    "abilities to perform successfully the duties of the position.",
    "Part-time or unpaid experience is credited on the basis of time actually spent in "
    "appropriate activities, including volunteer experience.",
    "Education completed in foreign colleges or universities may be used to meet the "
    "requirements if it is shown to be comparable to that gained in accredited institutions.",
    "Your resume must show complete information for each job entry, including dates, hours "
    "worked per week and the duties you performed.",
    "Selectees may be required to serve a one-year probationary period.",
)
_PADDED = ("MajorDuties", "Requirements", "Education", "Evaluations", "OtherInformation")
_OPTIONAL = ("PositionLocationDisplay", "SubAgency", "AgencyContactPhone", "Description",
             "PromotionPotential", "AgencyContactEmail")
# fmt: on


def generate_postings(
    count: int, *, seed: int, now: datetime, detail_kb: int = 3
) -> list[dict[str, Any]]:
    """Return ``count`` Search result items, deterministic for the arguments."""
    return [new_posting(i, seed=seed, now=now, detail_kb=detail_kb) for i in range(count)]


def new_posting(
    index: int, *, seed: int, now: datetime, detail_kb: int = 3, fresh: Fresh | None = None
) -> dict[str, Any]:
    """Return posting number ``index`` as a Search result item.

    ``fresh=None`` gives a catalogue posting published within ~120 days before ``now``;
    "data" or "other" gives one published on ``now``'s date with or without a
    data-engineering role.
    """
    rng = random.Random(f"{seed}:{index}")
    org, role, position_id = _announcement(seed, index, now, fresh)
    legacy = fresh is None and rng.random() < _LEGACY_SHARE
    # Some catalogue postings go out on now's own date, so DatePosted=0 finds something.
    age = 0 if fresh is not None or rng.random() < 0.05 else rng.randint(1, _MAX_AGE_DAYS)
    published = datetime.combine(now.date() - timedelta(days=age), time())
    closes = datetime.combine(
        published.date() + timedelta(days=rng.randint(7, 60)), time(23, 59, 59, 997_000)
    )
    # Old control numbers are shorter, so only a numeric sort orders ids correctly.
    number = (
        40_000_000 + index * 13 + rng.randrange(13)
        if legacy
        else (800_000_000 + index * 37 + rng.randrange(37))
    )
    descriptor = {
        "PositionID": position_id,
        **_descriptor(rng, str(number), org, role, legacy=legacy),
    }
    style = rng.choice((1, 2)) if legacy else rng.choices((0, 1, 2), weights=(85, 10, 5))[0]
    for key, moment in (
        ("PositionStartDate", published),
        ("PositionEndDate", closes),
        ("PublicationStartDate", published),
        ("ApplicationCloseDate", closes),
    ):
        descriptor[key] = _timestamp(moment, style)
    if legacy:
        descriptor.pop("SubAgency")
        descriptor.pop("PositionLocationDisplay")
    elif rng.random() < _SPARSE_SHARE:
        _drop_keys(descriptor, set(rng.sample(_OPTIONAL, 3)))
    _pad(descriptor, detail_kb * 1024)
    return {
        "MatchedObjectId": str(number),
        "MatchedObjectDescriptor": descriptor,
        "RelevanceRank": 0,
    }


def _announcement(
    seed: int, index: int, now: datetime, fresh: Fresh | None
) -> tuple[_Org, _Role, str]:
    """Pick the agency, role and announcement number shared by an announcement's postings."""
    root = index
    # Real announcements split into several control numbers (grades, locations), so
    # PositionID repeats; walking back the chain makes all of them share the root's draw.
    while (
        fresh is None
        and root > 0
        and random.Random(f"{seed}:dup:{root}").random() < _DUPLICATE_SHARE
    ):
        root -= 1
    rng = random.Random(f"{seed}:announcement:{root}")
    roles = (
        _ROLES
        if fresh is None
        else [role for role in _ROLES if (DATA_ENGINEERING in role.topic) == (fresh == "data")]
    )
    org = rng.choice(_ORGS)
    role = rng.choices(roles, weights=[r.weight for r in roles])[0]
    year = now.year % 100 - rng.randrange(2)
    suffix = rng.choice(("DE", "MP", "DH", "MRP", "CR"))
    return org, role, f"{org.prefix}-{year:02d}-{rng.randrange(10_000, 100_000)}-{suffix}"


def _timestamp(moment: datetime, style: int) -> str:
    """Format like one of the real styles: 4-digit fraction, plain Z, 7-digit fraction + Z."""
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if style == 0:
        return f"{base}.{moment.microsecond // 100:04d}"
    if style == 1:
        return f"{base}Z"
    return f"{base}.{moment.microsecond * 10:07d}Z"


def _descriptor(
    rng: random.Random, number: str, org: _Org, role: _Role, *, legacy: bool
) -> dict[str, Any]:
    """Build a MatchedObjectDescriptor without dates or PositionID."""
    uri = (
        f"https://www.usajobs.gov:443/GetJob/ViewDetails/{number}"
        if legacy or rng.random() < 0.6
        else f"https://www.usajobs.gov/job/{number}"
    )
    locations = _locations(rng)
    low = f"{role.grades[0]:02d}"
    return {
        "PositionTitle": role.title,
        "PositionURI": uri,
        "ApplyURI": [uri],
        "PositionLocationDisplay": locations[0]["LocationName"]
        if len(locations) == 1
        else "Multiple Locations",
        "PositionLocation": locations,
        "OrganizationName": org.name,
        "DepartmentName": org.department,
        "SubAgency": org.name,
        "JobCategory": [{"Name": _SERIES[code], "Code": code} for code in role.series],
        "JobGrade": [{"Code": role.pay_plan}],
        "PositionSchedule": [dict(zip(("Name", "Code"), rng.choice(_SCHEDULES), strict=True))],
        "PositionOfferingType": [dict(zip(("Name", "Code"), rng.choice(_OFFERINGS), strict=True))],
        "QualificationSummary": (
            f"To qualify at the {role.pay_plan}-{low} level you must have one year of specialized "
            f"experience in {role.topic} equivalent to the next lower grade."
        ),
        "PositionRemuneration": _remuneration(rng, role, legacy=legacy),
        "PositionFormattedDescription": [
            {
                "Content": "",
                "Label": "Dynamic Teaser",
                "LabelDescription": "Hit highlighting for keyword searches.",
            }
        ],
        "UserArea": {
            "Details": _details(rng, org, role, number, legacy=legacy),
            "IsRadialSearch": False,
        },
    }


def _locations(rng: random.Random) -> list[dict[str, Any]]:
    """Return 1-3 PositionLocation entries, or the 'Location Negotiable' one at 0/0."""
    if rng.random() < 0.06:
        return [dict(_NEGOTIABLE)]
    places = rng.sample(_PLACES, k=rng.choices((1, 2, 3), weights=(75, 17, 8))[0])
    return [
        {
            "LocationName": f"{city}, {country if state == 'N/A' else state}",
            "CountryCode": country,
            "CountrySubDivisionCode": state,
            "CityName": f"{city}, {country if state == 'N/A' else state}",
            "Longitude": longitude,
            "Latitude": latitude,
        }
        for city, state, country, longitude, latitude in places
    ]


def _remuneration(rng: random.Random, role: _Role, *, legacy: bool) -> list[dict[str, str]]:
    """Return one salary range (sometimes two, for split grades) as strings."""
    if legacy:
        code = "Per Year"
    elif role.pay_plan == "WG":
        code = "PH"  # wage-grade jobs are paid by the hour
    else:
        code = rng.choices(list(_RATES), weights=[rate[3] for rate in _RATES.values()])[0]
    description, lowest, highest, _ = _RATES.get(code, _RATES["PA"])
    formats = ("{:.2f}", "{:.1f}", "{:.4f}") if highest < 1000 else ("{:.1f}", "{:.0f}", "{:.4f}")
    fmt = "{:.1f}" if code == "WC" else rng.choice(formats)
    digits = 2 if highest < 1000 else 0  # annual, monthly and bi-weekly pay is whole dollars
    minimum = round(rng.uniform(lowest, highest), digits)
    ranges = []
    for _ in range(2 if rng.random() < 0.12 else 1):
        maximum = round(minimum * rng.uniform(1.15, 1.35), digits)
        entry = {
            "MinimumRange": fmt.format(minimum),
            "MaximumRange": fmt.format(maximum),
            "RateIntervalCode": code,
        }
        if not legacy:
            entry["Description"] = description
        ranges.append(entry)
        minimum = round(maximum * 0.85, digits)
    return ranges


def _details(
    rng: random.Random, org: _Org, role: _Role, number: str, *, legacy: bool
) -> dict[str, Any]:
    """Build UserArea.Details with the real mix of strings, "True"/"False" and booleans."""
    low, high = (f"{grade:02d}" for grade in role.grades)
    data_role = DATA_ENGINEERING in role.topic
    # A draw of its own, so every field drawn from rng stays what it was before.
    closing_code, closing_option = random.Random(f"{number}:closing").choice(_CLOSING)
    return {
        "JobSummary": (
            f"This {role.title} position with the {org.name} focuses on {role.topic} "
            "in support of the agency mission."
        ),
        "WhoMayApply": {"Name": "United States Citizens", "Code": "15514"}
        if legacy
        else {"Name": "", "Code": ""},
        "LowGrade": low,
        "HighGrade": high,
        "PromotionPotential": high,
        "OrganizationCodes": org.codes,
        "Relocation": str(rng.random() < 0.2),
        "HiringPath": rng.sample(_HIRING_PATHS, k=rng.randint(1, 3)),
        "MCOTags": ["Data Scientist"] if data_role else [],
        "TotalOpenings": rng.choice(("1", "1", "2", "3", "Few", "Many")),
        "AgencyMarketingStatement": f"Join the {org.name} and help serve the American people.",
        "TravelCode": rng.choice(("0", "0", "1", "2", "5")),
        "ApplyOnlineUrl": "https://apply.usastaffing.gov/Application/Apply",
        "DetailStatusUrl": "https://apply.usastaffing.gov/Application/ApplicationStatus",
        "MajorDuties": [duty.format(topic=role.topic) for duty in rng.sample(_DUTIES, k=3)],
        **_BOILERPLATE,
        "BenefitsDisplayDefaultText": True,
        "KeyRequirements": ["U.S. Citizenship is required."] if rng.random() < 0.5 else [],
        "WithinArea": "False",
        "CommuteDistance": "0",
        "ServiceType": "01",
        "AnnouncementClosingType": closing_code,
        "AnnouncementClosingTypeOption": closing_option,
        "AgencyContactEmail": f"{org.prefix.lower()}-hr@example.com",
        "AgencyContactPhone": f"(202) 555-01{rng.randrange(100):02d}",
        "SecurityClearance": rng.choice(_CLEARANCES),
        "DrugTestRequired": str(rng.random() < 0.3),
        "PositionSensitivitiy": rng.choice(_SENSITIVITY),  # sic, as the API spells it
        "AdjudicationType": rng.sample(
            ("Suitability/Fitness", "Security Clearance"), k=rng.randint(1, 2)
        ),
        "TeleworkEligible": rng.random() < 0.5,
        "RemoteIndicator": rng.random() < 0.15,
        "SubAgencyName": org.name,
    }


def _drop_keys(descriptor: dict[str, Any], keys: set[str]) -> None:
    """Remove optional keys wherever they live, as real postings do at random."""
    details = descriptor["UserArea"]["Details"]
    for mapping in (descriptor, details, *descriptor["PositionRemuneration"]):
        for key in keys & mapping.keys():
            del mapping[key]


def _pad(descriptor: dict[str, Any], target_bytes: int) -> None:
    """Grow the long text fields with boilerplate until the JSON is about target_bytes."""
    details = descriptor["UserArea"]["Details"]
    share = (target_bytes - len(json.dumps(descriptor))) / len(_PADDED)
    sentences = itertools.cycle(_FILLER)
    for field in _PADDED:
        extra: list[str] = []
        size = 0
        while size < share:
            extra.append(next(sentences))
            size += len(extra[-1]) + 4  # quotes, comma and space around a list item
        if isinstance(details[field], list):
            details[field].extend(extra)
        else:
            details[field] = " ".join([details[field], *extra])
