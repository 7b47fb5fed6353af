"""What a Search query asks for, which postings it matches, and how a page of them looks."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

SEARCH_PATH = "/api/search"
HISTORIC_PATH = "/api/historicjoa"
ANNOUNCEMENT_TEXT_PATH = "/api/historicjoa/announcementtext"
CODE_LIST_PATH = "/api/codelist/"
DEFAULT_RESULTS_PER_PAGE = 250
MAX_RESULTS_PER_PAGE = 500
MAX_DATE_POSTED = 60
FAULT_KINDS = ("status", "truncate", "slow", "reset", "short", "rewrite", "redirect")
#: What a "rewrite" fault may change about a Search page: the hints it gives, the items
#: it serves, and whether the query's split filters are honoured (see page_body).
REWRITES = frozenset({"count", "pages", "rows", "items", "ignore_filters"})
REQUEST_LOG_SIZE = 100_000  # bounded so long benchmark runs do not grow without limit


@dataclass(frozen=True)
class Query:
    """Parsed Search filters."""

    keywords: tuple[str, ...]
    posted_since: date | None
    organizations: frozenset[str]
    categories: frozenset[str]
    location: str


@dataclass(frozen=True)
class Entry:
    """A posting plus what filtering and serving need, computed once."""

    key: int
    posting_id: str
    body: str  # pre-encoded (and the dict dropped): a page is a join, memory stays lean
    text: str
    published: date
    organizations: frozenset[str]
    categories: frozenset[str]
    locations: tuple[str, ...]

    @classmethod
    def of(cls, item: dict[str, Any]) -> Entry:
        """Index one Search result item."""
        descriptor = item["MatchedObjectDescriptor"]
        details = descriptor["UserArea"]["Details"]
        names = [category["Name"] for category in descriptor["JobCategory"]]
        parts = details["OrganizationCodes"].split("/")
        return cls(
            key=int(item["MatchedObjectId"]),
            posting_id=item["MatchedObjectId"],
            body=json.dumps(item),
            text=" ".join([descriptor["PositionTitle"], *names, details["JobSummary"]]).lower(),
            published=date.fromisoformat(descriptor["PublicationStartDate"][:10]),
            # "DD/ARAF" answers to DD, ARAF and its agency AR, as the real code hierarchy does.
            organizations=frozenset(parts) | {part[:2] for part in parts},
            categories=frozenset(category["Code"] for category in descriptor["JobCategory"]),
            locations=tuple(
                place["LocationName"].lower() for place in descriptor["PositionLocation"]
            ),
        )


def int_param(params: dict[str, str], name: str, default: int, low: int, high: float) -> int:
    """Read an integer parameter within [low, high]; raise ValueError otherwise."""
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        msg = f"Invalid value for {name}: {raw!r}"
        raise ValueError(msg)
    return int(raw)


def codes(raw: str | None) -> frozenset[str]:
    """Split a ';'-separated code list, as the API joins multiple values."""
    return frozenset(code.strip().upper() for code in (raw or "").split(";") if code.strip())


def parse_query(params: dict[str, str], today: date) -> Query:
    """Build the filters from lower-cased Search parameters; raise ValueError when invalid."""
    days = int_param(params, "dateposted", -1, 0, MAX_DATE_POSTED)
    return Query(
        keywords=tuple(params.get("keyword", "").lower().split()),
        posted_since=None if days < 0 else today - timedelta(days=days),
        organizations=codes(params.get("organization")),
        categories=codes(params.get("jobcategorycode")),
        location=params.get("locationname", "").strip().lower(),
    )


def matches(entry: Entry, query: Query) -> bool:
    """Tell whether a posting passes every filter; /api/Search and /_fake/expected share it."""
    return (
        all(word in entry.text for word in query.keywords)
        and (query.posted_since is None or entry.published >= query.posted_since)
        and (not query.organizations or not query.organizations.isdisjoint(entry.organizations))
        and (not query.categories or not query.categories.isdisjoint(entry.categories))
        and (not query.location or any(query.location in place for place in entry.locations))
    )


def page_body(
    hits: list[Entry], page: int, per_page: int, row_cap: int, fault: dict[str, Any]
) -> bytes:
    """Render one Search page; rows past row_cap are never served, as with the real API.

    A "short" fault drops the page's last row but still announces the full count. A
    "rewrite" fault lies the way a broken or hostile API could: ``count`` reports that
    many matches (and, as a consistent liar, the pages they would fill), ``pages`` a
    NumberOfPages of its own, ``rows`` serves at most that many items, and ``items``
    serves none ("empty") or page 1's ("page1").
    """
    visible = hits[:row_cap] if row_cap else hits
    items = visible[(page - 1) * per_page : page * per_page]
    page_count = len(items)  # what SearchResultCount says, whatever is then left out
    rewrite = fault if fault["kind"] == "rewrite" else {}
    if fault["kind"] == "short":
        items = items[:-1]
    if rewrite.get("items") == "empty":
        items = []
    elif rewrite.get("items") == "page1":
        items = visible[:per_page]
    if rewrite.get("rows") is not None:
        items = items[: int(rewrite["rows"])]
    count = int(rewrite.get("count", len(hits)))
    reachable = min(count, row_cap) if row_cap else count
    pages = rewrite.get("pages", str(math.ceil(reachable / per_page)))
    envelope = json.dumps(
        {
            "LanguageCode": "EN",
            "SearchParameters": {},
            "SearchResult": {
                "SearchResultCount": page_count,
                "SearchResultCountAll": count,
                "SearchResultItems": [],
                "UserArea": {"NumberOfPages": pages, "IsRadialSearch": False},
            },
        }
    )
    served = ", ".join(entry.body for entry in items)
    return envelope.replace('"SearchResultItems": []', f'"SearchResultItems": [{served}]').encode()
