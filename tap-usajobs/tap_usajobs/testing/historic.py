"""Fake Historic JOA data and paging: ``/api/historicjoa`` and its ``/announcementtext``.

Announcements are deterministic for (seed, index, now) and shaped like the real API's
rows, quirks included:

- key case varies by age: older rows say ``HiringPaths``/``JobCategories``/
  ``PositionLocations``, newer ones ``hiringpaths``/``jobcategories``/``positionlocations``,
  and a few ``hiringPaths`` (camelCase, as the docs write it);
- the apply-online flag is spelled ``disableAppyOnline``; flags are "Y"/"N"; dates are
  "YYYY-MM-DD"; salaries are numbers and ``salaryType`` is text ("Per Year");
- ``positionOpeningStatus`` follows the clock: open, then "Applications under review"
  for a few weeks to five months after closing, then final. Codes and names come from
  the real code lists, except hiring paths, which in historic data are texts that only
  mostly match the code list's values ("Internal to an agency");
- Historic JOA lists current announcements too: the fake server mirrors every fourth
  Search posting (``--historic-mirror-every``) into it with ``mirror_search_posting``,
  under the same control number.

Paging follows the docs: ``paging.metadata {totalCount, pageSize, continuationToken}``
and ``paging.next``, a path with lower-cased parameter names and the token URL-encoded;
no rows is HTTP 204 with an empty body (``/api/historicjoa``) or the literal text
"204 No Content" (``/announcementtext``), the two forms AH's collector handles. The docs
do not say whether the date filters include their end dates; here both ends do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Iterable

JOBS = "jobs"
TEXTS = "texts"
ACCEPTING = "Accepting applications"
UNDER_REVIEW = "Applications under review"
FINAL_STATUSES = ("Job closed", "Candidate selected", "Job canceled")
NO_CONTENT = b"204 No Content"
_FILTERS = {
    # parameter (lower case) -> row field it matches; several values split on , or ;
    "hiringagencycodes": "hiringAgencyCode",
    "hiringdepartmentcodes": "hiringDepartmentCode",
    "positionseries": "series",
    "announcementnumbers": "announcementNumber",
    "usajobscontrolnumbers": "usajobsControlNumber",
}
_DATE_FILTERS = {
    "startpositionopendate": ("positionOpenDate", 1),
    "endpositionopendate": ("positionOpenDate", -1),
    "startpositionclosedate": ("positionCloseDate", 1),
    "endpositionclosedate": ("positionCloseDate", -1),
}
HISTORIC_FAULT_KINDS = ("status", "repeat_token", "short")

# fmt: off
# (agency code, agency name, department code, department name): real agency subelements.
_AGENCIES = (
    ("ARAF", "United States Army Futures Command", "AR", "Department of Defense"),
    ("AF1M", "Air Force Materiel Command", "AF", "Department of Defense"),
    ("DD04", "Defense Information Systems Agency", "DD", "Department of Defense"),
    ("NV24", "Naval Sea Systems Command", "NV", "Department of Defense"),
    ("VATA", "Veterans Health Administration", "VA", "Department of Veterans Affairs"),
    ("HE38", "National Institutes of Health", "HE", "Department of Health and Human Services"),
    ("HSAD", "U.S. Secret Service", "HS", "Department of Homeland Security"),
    ("TR93", "Internal Revenue Service", "TR", "Department of the Treasury"),
    ("IN05", "Bureau of Land Management", "IN", "Department of the Interior"),
    ("NN00", "National Aeronautics and Space Administration", "NN",
     "National Aeronautics and Space Administration"),
)
# (title, series, pay plan, low grade, high grade, salary type, lowest, highest minimum)
_ROLES = (
    ("Data Engineer", ("1560",), "GS", "12", "13", "Per Year", 82_000, 120_000),
    ("IT Specialist (Data Management)", ("2210",), "GS", "11", "13", "Per Year", 68_000, 110_000),
    ("Management and Program Analyst", ("0343",), "GS", "09", "12", "Per Year", 55_000, 95_000),
    ("Nurse", ("0610",), "VN", "01", "03", "Per Year", 60_000, 110_000),
    ("Police Officer", ("0083",), "GS", "05", "07", "Per Year", 40_000, 60_000),
    ("Contract Specialist", ("1102",), "GS", "07", "12", "Per Year", 50_000, 95_000),
    ("Statistician", ("1530", "1560"), "GS", "11", "13", "Per Year", 68_000, 110_000),
    ("Electronics Mechanic", ("2604",), "WG", "10", "11", "Per Hour", 28, 42),
    ("Medical Officer", ("0602",), "GP", "13", "15", "Per Year", 150_000, 250_000),
    ("Intern (Summer)", ("0343",), "GS", "04", "05", "Per Hour", 17, 22),
    ("Consulting Physician", ("0602",), "GP", "15", "15", "Per Day", 900, 1_400),
    ("Volunteer Archivist", ("1102",), "GG", "00", "00", "Without Compensation", 0, 0),
)
_PLACES = (
    ("Washington", "District of Columbia", "United States"),
    ("Bethesda", "Maryland", "United States"),
    ("Austin", "Texas", "United States"),
    ("Denver", "Colorado", "United States"),
    ("Seattle", "Washington", "United States"),
    ("Kaiserslautern", "", "Germany"),
)
# Values of the real code lists (who may apply is almost never filled in historic data).
_APPOINTMENTS = ("Permanent", "Permanent", "Permanent", "Temporary", "Term", "Detail", "Summer",
                 "Intermittent")
_SCHEDULES = ("Full-time", "Full-time", "Full-time", "Part-time", "Intermittent",
              "Multiple Schedules")
_SERVICES = ("Competitive", "Competitive", "Excepted", "Senior Executive")
_CLEARANCES = ("Not Required", "Not Required", "Secret", "Top Secret", "Confidential", "Other")
_TRAVEL = ("Not required", "Not required", "Occasional travel", "25% or less", "50% or less")
_PATHS = ("The public", "Federal employees - Competitive service", "Veterans",
          "Military spouses", "Individuals with disabilities",
          "Career transition (CTAP, ICTAP, RPL)", "Internal to an agency")
_CLOSING = (("01", "Closing Date"), ("02", "Applicant Cut-Off"), ("03", "Open Continuous"))
_VENDORS = ("USASTAFFING", "USASTAFFING", "Monster - Hiring Management", "FAA - SWIFT")
# fmt: on


def _flag(rng: random.Random, share: float) -> str:
    return "Y" if rng.random() < share else "N"


def status_on(today: date, row: dict[str, Any], settle_days: int, final: str) -> str:
    """The posting's status on ``today``: open, under review for a while, then final."""
    closes = date.fromisoformat(row["positionCloseDate"])
    if today <= closes:
        return ACCEPTING
    return UNDER_REVIEW if (today - closes).days <= settle_days else final


@dataclass
class Announcement:
    """One historic announcement: its row, its text row, and what indexing needs."""

    control_number: int
    row: dict[str, Any]
    text: dict[str, Any]

    @property
    def opened(self) -> str:
        """``positionOpenDate``."""
        return str(self.row["positionOpenDate"])

    def matches(self, filters: dict[str, Any]) -> bool:
        """Whether the row passes every (already parsed) filter."""
        for field, wanted in filters.items():
            if field in ("positionOpenDate", "positionCloseDate"):
                low, high = wanted
                value = self.row.get(field) or ""
                if (low and value < low) or (high and value > high):
                    return False
            elif field == "series":
                if wanted.isdisjoint(self.series):
                    return False
            elif str(self.row.get(field, "")).upper() not in wanted:
                return False
        return True

    @property
    def series(self) -> set[str]:
        """Occupational series codes, whichever case the categories key has."""
        categories: list[dict[str, str]] = next(
            (value for key, value in self.row.items() if key.lower() == "jobcategories"), []
        )
        return {entry["series"] for entry in categories}


def new_announcement(
    index: int,
    *,
    seed: int,
    now: datetime,
    max_age_days: int,
    opened: date | None = None,
) -> Announcement:
    """Announcement number ``index``, opened within ``max_age_days`` (or on ``opened``)."""
    rng = random.Random(f"{seed}:historic:{index}")
    today = now.date()
    opened = opened or today - timedelta(days=rng.randint(0, max_age_days))
    closes = opened + timedelta(days=rng.randint(7, 45))
    agency, agency_name, department, department_name = rng.choice(_AGENCIES)
    title, series, pay_plan, low, high, salary_type, lowest, highest = rng.choice(_ROLES)
    minimum = round(rng.uniform(lowest, highest), 2 if highest < 1000 else 0)
    number = 700_000_000 + index * 29 + rng.randrange(29)
    code, closing = rng.choice(_CLOSING)
    places = rng.sample(_PLACES, k=rng.choices((1, 2), weights=(85, 15))[0])
    # Older rows carry Capitalised nested keys, newer lower-case ones (AH), a few camelCase.
    style = "old" if (today - opened).days > 200 else rng.choice(("new", "new", "new", "camel"))
    paths_key, categories_key, locations_key = {
        "old": ("HiringPaths", "JobCategories", "PositionLocations"),
        "new": ("hiringpaths", "jobcategories", "positionlocations"),
        "camel": ("hiringPaths", "jobCategories", "positionLocations"),
    }[style]
    row: dict[str, Any] = {
        "usajobsControlNumber": number,
        "hiringAgencyCode": agency,
        "hiringAgencyName": agency_name,
        "hiringDepartmentCode": department,
        "hiringDepartmentName": department_name,
        "agencyLevel": 2,
        "agencyLevelSort": f"{department_name}\\{agency_name}",
        "appointmentType": rng.choice(_APPOINTMENTS),
        "workSchedule": rng.choice(_SCHEDULES),
        "payScale": pay_plan,
        "salaryType": salary_type,
        "vendor": rng.choice(_VENDORS),
        "travelRequirement": rng.choice(_TRAVEL),
        "teleworkEligible": _flag(rng, 0.4),
        "serviceType": rng.choice(_SERVICES),
        "securityClearanceRequired": _flag(rng, 0.3),
        "securityClearance": rng.choice(_CLEARANCES),
        "whoMayApply": None,
        "announcementClosingTypeCode": code,
        "announcementClosingTypeDescription": closing,
        "positionOpenDate": opened.isoformat(),
        "positionCloseDate": closes.isoformat(),
        "positionExpireDate": (closes + timedelta(days=30)).isoformat()
        if rng.random() < 0.09
        else None,
        "announcementNumber": f"{agency}-{opened:%y}-{rng.randrange(10_000, 100_000)}-DE",
        "hiringSubelementName": f"{agency_name} Staffing Office" if rng.random() < 0.62 else None,
        "positionTitle": title,
        "minimumGrade": low,
        "maximumGrade": high,
        "promotionPotential": high,
        "minimumSalary": minimum,
        "maximumSalary": round(minimum * rng.uniform(1.1, 1.35), 2 if highest < 1000 else 0),
        "supervisoryStatus": _flag(rng, 0.15),
        "drugTestRequired": _flag(rng, 0.25),
        "relocationExpensesReimbursed": _flag(rng, 0.1),
        "totalOpenings": rng.choice(("1", "01", "2", "3", "Many", None)),
        "disableAppyOnline": _flag(rng, 0.05),  # sic: the API's spelling
        "positionOpeningStatus": None,
        paths_key: [{"hiringPath": path} for path in rng.sample(_PATHS, k=rng.randint(1, 3))],
        categories_key: [{"series": code} for code in series],
        locations_key: [
            {"positionLocationCity": city, "positionLocationState": state,
             "positionLocationCountry": country}
            for city, state, country in places
        ],
    }  # fmt: skip
    text = _text_row(row, categories_key, agency_name, title, pay_plan)
    announcement = Announcement(number, row, text)
    announcement.row["positionOpeningStatus"] = status_on(
        today,
        row,
        settle_days=rng.randint(20, 150),
        final=rng.choices(FINAL_STATUSES, weights=(45, 45, 10))[0],
    )
    return announcement


def mirror_search_posting(item: dict[str, Any], *, seed: int, now: datetime) -> Announcement:
    """The Historic JOA announcement of a Search posting: the same control number.

    Historic JOA lists current announcements too, so a posting can be in both APIs.
    The row carries what Search says about it, in Historic JOA's shape and words.
    """
    descriptor = item["MatchedObjectDescriptor"]
    details = descriptor["UserArea"]["Details"]
    number = int(item["MatchedObjectId"])
    rng = random.Random(f"{seed}:mirror:{number}")
    department, _, agency = str(details.get("OrganizationCodes", "/")).partition("/")
    (pay, *_) = descriptor["PositionRemuneration"]
    title = descriptor["PositionTitle"]
    pay_plan = descriptor["JobGrade"][0]["Code"]
    clearance = details.get("SecurityClearance")
    row: dict[str, Any] = {
        "usajobsControlNumber": number,
        "hiringAgencyCode": agency,
        "hiringAgencyName": descriptor["OrganizationName"],
        "hiringDepartmentCode": department,
        "hiringDepartmentName": descriptor["DepartmentName"] or descriptor["OrganizationName"],
        "agencyLevel": 2,
        "agencyLevelSort": f"{descriptor['DepartmentName']}\\{descriptor['OrganizationName']}",
        "appointmentType": descriptor["PositionOfferingType"][0]["Name"],
        "workSchedule": descriptor["PositionSchedule"][0]["Name"],
        "payScale": pay_plan,
        "salaryType": pay.get("Description") or pay["RateIntervalCode"],
        "vendor": rng.choice(_VENDORS),
        "travelRequirement": rng.choice(_TRAVEL),
        "teleworkEligible": "Y" if details.get("TeleworkEligible") else "N",
        "serviceType": "Competitive",
        "securityClearanceRequired": "N" if clearance in (None, "Not Required") else "Y",
        "securityClearance": clearance,
        "whoMayApply": None,
        "announcementClosingTypeCode": details.get("AnnouncementClosingType"),
        "announcementClosingTypeDescription": details.get("AnnouncementClosingTypeOption"),
        "positionOpenDate": descriptor["PublicationStartDate"][:10],
        "positionCloseDate": descriptor["ApplicationCloseDate"][:10],
        "positionExpireDate": None,
        "announcementNumber": descriptor["PositionID"],
        "hiringSubelementName": None,
        "positionTitle": title,
        "minimumGrade": details.get("LowGrade"),
        "maximumGrade": details.get("HighGrade"),
        "promotionPotential": details.get("PromotionPotential"),
        "minimumSalary": float(pay["MinimumRange"]),
        "maximumSalary": float(pay["MaximumRange"]),
        "supervisoryStatus": "Y" if title.startswith("Supervisory") else "N",
        "drugTestRequired": "Y" if details.get("DrugTestRequired") == "True" else "N",
        "relocationExpensesReimbursed": "Y" if details.get("Relocation") == "True" else "N",
        "totalOpenings": details.get("TotalOpenings"),
        "disableAppyOnline": "N",  # sic: the API's spelling
        "positionOpeningStatus": None,
        "hiringpaths": [{"hiringPath": path} for path in details.get("HiringPath", [])],
        "jobcategories": [{"series": entry["Code"]} for entry in descriptor["JobCategory"]],
        "positionlocations": [
            {
                "positionLocationCity": str(place["CityName"]).split(",")[0],
                "positionLocationState": ""
                if place["CountrySubDivisionCode"] == "N/A"
                else place["CountrySubDivisionCode"],
                "positionLocationCountry": place["CountryCode"],
            }
            for place in descriptor["PositionLocation"]
        ],
    }
    row["positionOpeningStatus"] = status_on(
        now.date(),
        row,
        settle_days=rng.randint(20, 150),
        final=rng.choices(FINAL_STATUSES, weights=(45, 45, 10))[0],
    )
    text = _text_row(row, "jobcategories", row["hiringAgencyName"], title, pay_plan)
    return Announcement(number, row, text)


def _text_row(
    row: dict[str, Any], categories_key: str, agency_name: str, title: str, pay_plan: str
) -> dict[str, Any]:
    """The ``/announcementtext`` row of an announcement."""
    return {
        "usajobsControlNumber": row["usajobsControlNumber"],
        "positionOpenDate": row["positionOpenDate"],
        "positionCloseDate": row["positionCloseDate"],
        "hiringAgencyCode": row["hiringAgencyCode"],
        "hiringDepartmentCode": row["hiringDepartmentCode"],
        "announcementNumber": row["announcementNumber"],
        "positionSeries": row[categories_key][0]["series"],
        categories_key: row[categories_key],
        "summary": f"<p>The {agency_name} is hiring a {title}.</p>",
        "duties": f"<ul><li>Serves as {title} for the {agency_name}.</li></ul>",
        "majorDutiesList": f"Serves as {title}.|Advises management.",
        "hiringPathExplanation": "<p>Open to the groups listed under hiring paths.</p>",
        "requirements": None,
        "requirementsConditionsOfEmployment": "<ul><li>U.S. Citizenship is required.</li></ul>",
        "requirementsQualifications": f"<p>One year of specialized experience at {pay_plan}-"
        f"{row['minimumGrade']} or equivalent.</p>",
        "requirementsEducation": "<p>Education cannot be substituted for experience.</p>",
        "evaluations": "<p>Your resume is rated against the specialized experience.</p>",
        "requiredDocuments": "<p>Resume and, if applicable, an SF-50.</p>",
        "requiredStandardDocuments": "RESUME|SF50",
        "howToApply": "<p>Apply online by 11:59 PM Eastern on the closing date.</p>",
        "howToApplyNextSteps": "<p>You will get an email once your application is in.</p>",
        "benefits": None,
        "benefitsURL": "https://www.usajobs.gov/Help/working-in-government/benefits/",
        "otherInformation": "<p>This announcement may fill additional vacancies.</p>",
    }


def _token(offset: int, fingerprint: str) -> str:
    """An opaque continuation token with '/', '+' or '=' in it, as base64 tokens have."""
    raw = base64.b64encode(f"{offset}:{fingerprint}".encode()).decode()
    return f"ct/{raw}"


def _read_token(token: str, fingerprint: str) -> int:
    """The offset a token stands for; ValueError when it is not one of ours for this query."""
    if not token.startswith("ct/"):
        msg = f"Invalid continuation token {token[:40]!r}."
        raise ValueError(msg)
    try:
        offset, _, owner = base64.b64decode(token[3:], validate=True).decode().partition(":")
        position = int(offset)
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"Invalid continuation token {token[:40]!r}."
        raise ValueError(msg) from exc
    if owner != fingerprint:
        msg = "The continuation token belongs to another query."
        raise ValueError(msg)
    return position


def _parse_filters(params: dict[str, str]) -> dict[str, Any]:
    """Filters from lower-cased parameters; ValueError for a malformed date."""
    filters: dict[str, Any] = {}
    for name, field in _FILTERS.items():
        raw = params.get(name, "")
        values = {part.strip().upper() for part in raw.replace(";", ",").split(",") if part.strip()}
        if values:
            filters[field] = values
    for name, (field, side) in _DATE_FILTERS.items():
        raw = params.get(name, "").strip()
        if not raw:
            continue
        try:
            day = date.fromisoformat(raw).isoformat()
        except ValueError as exc:
            msg = f"Invalid value for {name}: {raw!r}; expected YYYY-MM-DD."
            raise ValueError(msg) from exc
        low, high = filters.get(field, (None, None))
        filters[field] = (day, high) if side > 0 else (low, day)
    return filters


class HistoricStore:
    """The fake's historic announcements, their one-shot faults, thread-safe."""

    def __init__(  # noqa: PLR0913  # the fake's knobs, named
        self,
        count: int,
        *,
        seed: int,
        now: datetime,
        max_age_days: int,
        page_size: int,
        mirrored: Iterable[dict[str, Any]] = (),
    ) -> None:
        """Generate ``count`` announcements, plus those of the ``mirrored`` Search postings.

        Generated ones open up to ``max_age_days`` before ``now``; mirrored ones are
        ``mirror_search_posting`` of each posting.
        """
        self._lock = threading.RLock()  # _take_fault runs inside page()'s lock too
        self._seed = seed
        self._now = now
        self._max_age_days = max_age_days
        self.page_size = page_size
        self._announcements = {
            a.control_number: a
            for a in (
                new_announcement(i, seed=seed, now=now, max_age_days=max_age_days)
                for i in range(count)
            )
        }
        for item in mirrored:
            mirror = mirror_search_posting(item, seed=seed, now=now)
            self._announcements[mirror.control_number] = mirror
        self._next_index = count
        self._faults: list[dict[str, Any]] = []
        # Each query's rows, worked out once: at 300,000 announcements sorting and
        # filtering them on every page made the fake the benchmark's bottleneck.
        # Rows are shared, so a status set in place shows; adding rows clears it.
        self._hits: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[Any]] = {}

    def rows(self) -> list[dict[str, Any]]:
        """Every announcement row, by control number."""
        with self._lock:
            return [self._announcements[key].row for key in sorted(self._announcements)]

    def page(
        self, kind: str, path: str, params: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        """Answer one request for ``kind`` (JOBS or TEXTS) on ``path``: status, body, headers.

        A "status" fault with ``retry_after`` sends that ``Retry-After`` header.
        """
        if fault := self._take_fault("status"):
            wait = fault.get("retry_after")
            headers = {} if wait is None else {"Retry-After": str(wait)}
            return int(fault.get("status", 503)), _json({"message": "Injected fault."}), headers
        lowered = {name.lower(): value for name, value in params.items()}
        query = {k: v for k, v in sorted(lowered.items()) if k != "continuationtoken" and v}
        fingerprint = hashlib.sha256(repr((path.lower(), query)).encode()).hexdigest()[:12]
        try:
            filters = _parse_filters(lowered)
            token = lowered.get("continuationtoken")
            offset = _read_token(token, fingerprint) if token is not None else 0
        except ValueError as exc:
            return HTTPStatus.BAD_REQUEST, _json({"message": str(exc)}), {}
        with self._lock:
            key = (kind, path.lower(), tuple(query.items()))
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = [
                    announcement.row if kind == JOBS else announcement.text
                    for _, announcement in sorted(self._announcements.items())
                    if announcement.matches(filters)
                ]
            if not hits:
                # Both forms of "no rows" that real clients have met.
                if kind == JOBS:
                    return HTTPStatus.NO_CONTENT, b"", {}
                return HTTPStatus.OK, NO_CONTENT, {}
            data = hits[offset : offset + self.page_size]
            following = offset + self.page_size
            next_token = _token(following, fingerprint) if following < len(hits) else None
            if next_token is None and (short := self._take_fault("short")):
                data = data[: max(0, len(data) - int(short.get("rows", 1)))]
            if next_token and token and self._take_fault("repeat_token"):
                next_token = token  # the API hands out the token it was just given
            next_link = None
            if next_token:
                rest = "".join(f"&{name}={quote(value, safe='')}" for name, value in query.items())
                next_link = f"{path.lower()}?continuationtoken={quote(next_token, safe='')}{rest}"
            return (
                HTTPStatus.OK,
                _json(
                    {
                        "paging": {
                            "metadata": {
                                "totalCount": len(hits),
                                "pageSize": self.page_size,
                                "continuationToken": next_token,
                            },
                            "next": next_link,
                        },
                        "data": data,
                    }
                ),
                {},
            )

    def _take_fault(self, kind: str) -> dict[str, Any] | None:
        """Consume the first pending fault of ``kind``."""
        with self._lock:
            for rule in self._faults:
                if rule["kind"] == kind:
                    self._faults.remove(rule)
                    return rule
            return None

    def change(self, request: dict[str, Any]) -> dict[str, Any]:
        """Apply a control request; see ``fake_api`` for the accepted keys."""
        added: list[int] = []
        with self._lock:
            self._hits.clear()
            for spec in request.get("add", []):
                opened = date.fromisoformat(spec["positionOpenDate"])
                announcement = new_announcement(
                    self._next_index,
                    seed=self._seed,
                    now=self._now,
                    max_age_days=self._max_age_days,
                    opened=opened,
                )
                self._next_index += 1
                if "positionOpeningStatus" in spec:
                    announcement.row["positionOpeningStatus"] = spec["positionOpeningStatus"]
                self._announcements[announcement.control_number] = announcement
                added.append(announcement.control_number)
            if request.get("finalize"):
                for announcement in self._announcements.values():
                    if announcement.row["positionOpeningStatus"] not in FINAL_STATUSES:
                        announcement.row["positionOpeningStatus"] = "Job closed"
            for number, status in (request.get("set_status") or {}).items():
                self._announcements[int(number)].row["positionOpeningStatus"] = status
            for rule in request.get("faults", []):
                if not isinstance(rule, dict) or rule.get("kind") not in HISTORIC_FAULT_KINDS:
                    msg = f"a historic fault needs a kind in {HISTORIC_FAULT_KINDS}: {rule!r}"
                    raise ValueError(msg)
                self._faults.append(dict(rule))
            return {"added": added, "count": len(self._announcements)}


def _json(value: object) -> bytes:
    return json.dumps(value).encode()
