"""The analyst questions in transform/analyses/, answered on demo-like data, against
answers computed here in plain Python from the postings the fake API served.

Nothing here reads the marts' logic: the expected numbers come from the fake's own
JSON, so a wrong join, filter or date rule in a mart shows up as a different answer.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conftest import KEYWORD, ROOT, expected_ids

if TYPE_CHECKING:
    from conftest import Pipeline

ANALYSES = ROOT / "transform" / "analyses"
Rows = list[tuple[Any, ...]]


def day(text: str) -> date:
    """The calendar day of one of the API's timestamps."""
    return date.fromisoformat(text[:10])


def remote_gs13_it_jobs_by_state(postings: list[dict[str, Any]], today: date) -> Rows:
    days_open: dict[str, list[int]] = defaultdict(list)
    for posting in postings:
        details = posting["UserArea"]["Details"]
        opened, closes = day(posting["PublicationStartDate"]), day(posting["ApplicationCloseDate"])
        if (
            posting["JobGrade"][0]["Code"] == "GS"
            and int(details["HighGrade"]) >= 13
            and "2210" in [category["Code"] for category in posting["JobCategory"]]
            and details["RemoteIndicator"]
            and opened >= today - timedelta(days=30)
        ):
            states = {place["CountrySubDivisionCode"] for place in posting["PositionLocation"]}
            for state in states - {"N/A"}:
                days_open[state].append((closes - opened).days)
    rows = [(state, len(spans), statistics.median(spans)) for state, spans in days_open.items()]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def open_postings_by_agency(postings: list[dict[str, Any]], today: date) -> Rows:
    open_now = [p for p in postings if day(p["ApplicationCloseDate"]) >= today]
    counts = Counter(p["OrganizationName"] for p in open_now)
    remote = Counter(
        p["OrganizationName"] for p in open_now if p["UserArea"]["Details"]["RemoteIndicator"]
    )
    rows = [(agency, count, remote[agency]) for agency, count in counts.items()]
    return sorted(rows, key=lambda row: (-row[1], row[0]))[:5]


def gs_yearly_pay_by_series(postings: list[dict[str, Any]], _today: date) -> Rows:
    minimums: dict[str, list[Decimal]] = defaultdict(list)
    maximums: dict[str, list[Decimal]] = defaultdict(list)
    for posting in postings:
        pay = posting["PositionRemuneration"]
        yearly = pay[0]["RateIntervalCode"] in ("PA", "Per Year")  # the first entry's interval
        if posting["JobGrade"][0]["Code"] == "GS" and yearly:
            for category in posting["JobCategory"]:
                minimums[category["Code"]].append(min(Decimal(e["MinimumRange"]) for e in pay))
                maximums[category["Code"]].append(max(Decimal(e["MaximumRange"]) for e in pay))
    return [
        (code, len(minimums[code]), statistics.median(minimums[code]), max(maximums[code]))
        for code in sorted(minimums)
    ]


def telework_share_of_open_postings(postings: list[dict[str, Any]], today: date) -> Rows:
    open_now = [p for p in postings if day(p["ApplicationCloseDate"]) >= today]
    telework = sum(bool(p["UserArea"]["Details"]["TeleworkEligible"]) for p in open_now)
    remote = sum(bool(p["UserArea"]["Details"]["RemoteIndicator"]) for p in open_now)
    share = lambda part: round(part / len(open_now), 4)  # noqa: E731
    return [(len(open_now), share(telework), share(remote))]


EXPECTED = {
    function.__name__: function
    for function in (
        remote_gs13_it_jobs_by_state,
        open_postings_by_agency,
        gs_yearly_pay_by_series,
        telework_share_of_open_postings,
    )
}


def comparable(rows: Rows) -> list[tuple[Any, ...]]:
    """Numbers as floats rounded to cents, so Decimal, float and int compare."""
    return [
        tuple(round(float(v), 2) if isinstance(v, (int, float, Decimal)) else v for v in row)
        for row in rows
    ]


def test_the_analyst_questions_give_the_answers_computed_from_the_served_postings(
    pipeline: Pipeline,
) -> None:
    pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:run")
    compiled = pipeline.meltano("invoke", "dbt-postgres", "compile", "--select", "path:analyses")
    assert compiled.returncode == 0, compiled.stderr[-4000:]
    folder = Path(pipeline.env()["DBT_TARGET_PATH"]) / "compiled" / "usajobs" / "analyses"
    answers = {path.stem: pipeline.query(path.read_text()) for path in folder.glob("*.sql")}
    read = expected_ids(pipeline.api, Keyword=KEYWORD)
    items = pipeline.api.control("postings")["items"]
    postings = [i["MatchedObjectDescriptor"] for i in items if i["MatchedObjectId"] in read]
    today = pipeline.query("select current_date")[0][0]  # the database's day, as dbt's

    assert set(answers) == {path.stem for path in ANALYSES.glob("*.sql")} == set(EXPECTED)
    expected = {name: compute(postings, today) for name, compute in EXPECTED.items()}
    assert all(expected.values()), f"every question should have an answer to give: {expected}"
    assert {name: comparable(rows) for name, rows in answers.items()} == {
        name: comparable(rows) for name, rows in expected.items()
    }
