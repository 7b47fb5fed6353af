"""End to end: Historic JOA and code list streams -> target-postgres -> dbt, on PostgreSQL.

Streams are chosen per run with TAP_USAJOBS__SELECT, as a user would override meltano.yml's
`select`, so these tests hold whatever the default selection is.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from conftest import ROOT

if TYPE_CHECKING:
    from conftest import Pipeline

CODE_LIST_STREAMS = (
    "agency_subelements",
    "countries",
    "country_subdivisions",
    "hiring_paths",
    "occupational_series",
    "pay_plans",
    "position_offering_types",
    "position_opening_statuses",
    "position_schedule_types",
    "remuneration_rate_interval_codes",
    "security_clearances",
    "service_types",
    "travel_percentages",
    "who_may_apply",
)
# One narrow keyword keeps the Search part short; these tests are about the other streams.
NURSE = {"TAP_USAJOBS_KEYWORDS": '["nurse"]'}
ONLY_JOBS = {**NURSE, "TAP_USAJOBS__SELECT": json.dumps(["jobs.*"])}
EVERYTHING = {
    **NURSE,
    "TAP_USAJOBS__SELECT": json.dumps(
        [
            "jobs.*",
            "historic_jobs.*",
            "announcement_texts.*",
            *(f"{name}.*" for name in CODE_LIST_STREAMS),
        ]
    ),
}
SOURCES = ROOT / "transform" / "models" / "staging" / "usajobs"
HISTORY_DAYS = 240  # the fake's announcements open over the last 420 days


def _tables(pipeline: Pipeline) -> set[str]:
    rows = pipeline.query(
        "select table_name from information_schema.tables where table_schema = 'usajobs'"
    )
    return {row[0] for row in rows}


def _documented_columns(path: Path) -> dict[str, dict[str, str]]:
    """Column -> documented type, per table, from a sources file."""
    (source,) = yaml.safe_load(path.read_text())["sources"]
    return {
        table["name"]: {column["name"]: column["data_type"] for column in table["columns"]}
        for table in source["tables"]
    }


def test_with_only_jobs_selected_every_model_builds_and_tests_pass(pipeline: Pipeline) -> None:
    # dbt build is dbt run and dbt test in one; docs generate reads every relation too.
    pipeline.run_ok(
        "tap-usajobs",
        "target-postgres",
        "dbt-postgres:build",
        "dbt-postgres:freshness",
        "dbt-postgres:docs-generate",
        **ONLY_JOBS,
    )

    assert _tables(pipeline) & {"historic_jobs", "announcement_texts", "pay_plans"} == set()
    listed = pipeline.query("select count(*) from job_listings")[0][0]
    assert listed > 0
    assert pipeline.query("select count(*) from historic_job_listings") == [(0,)]
    assert pipeline.query("select count(*) from staging.stg_usajobs__pay_plans") == [(0,)]
    # The marts over both sources hold the Search postings alone.
    assert pipeline.query("select count(*), bool_and(in_search) from postings") == [(listed, True)]
    assert pipeline.query("select count(*) from posting_lifecycle") == [(listed,)]
    assert pipeline.query("select count(*) from daily_postings")[0][0] > 0

    # The data dictionary: one page, and every column of every public mart typed and
    # described (a contract and a description each).
    target = Path(pipeline.env()["DBT_TARGET_PATH"])
    assert (target / "static_index.html").stat().st_size > 0
    manifest = json.loads((target / "manifest.json").read_text())
    marts = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["path"].startswith("marts/")
    ]
    assert len(marts) >= 10
    undocumented = {
        f"{node['name']}.{name}"
        for node in marts
        for name, column in node["columns"].items()
        if not (column["description"].strip() and column["data_type"])
    }
    assert undocumented == set()
    assert all(node["contract"]["enforced"] for node in marts)


def test_historic_and_code_lists_load_and_a_removed_code_is_marked_deleted(
    pipeline: Pipeline,
) -> None:
    today = datetime.now(timezone.utc).date()
    first = (today - timedelta(days=HISTORY_DAYS)).isoformat()
    historic = {**EVERYTHING, "TAP_USAJOBS_START_DATE": first}
    pipeline.run_ok("tap-usajobs", "target-postgres", "dbt-postgres:build", **historic)

    # Every announcement opened since start_date, once.
    served: list[dict[str, Any]] = pipeline.api.control("historic")["items"]
    expected = {
        row["usajobsControlNumber"]
        for row in served
        if first <= row["positionOpenDate"] <= today.isoformat()
    }
    loaded = [row[0] for row in pipeline.query("select control_number from historic_job_listings")]
    assert len(loaded) == len(set(loaded))
    assert set(loaded) == expected
    sample = pipeline.query(
        """
        select pay_plan_name, occupational_series_names, rate_interval_code, annual_salary_min,
               salary_min, has_announcement_text, opened_on
        from historic_job_listings
        where pay_plan_code = 'GS' and salary_type = 'Per Year'
        limit 1
        """
    )[0]
    pay_plan, series_names, code, annual, salary, has_text, opened = sample
    assert pay_plan.startswith("General Schedule")
    assert series_names
    assert (code, annual, has_text) == ("PA", salary, True)
    assert isinstance(opened, date)
    requests = pipeline.api.control("keyless-requests")["requests"]
    assert requests
    assert not any(request["key_sent"] for request in requests)

    # postings: one row per control number of either API; Historic JOA lists some
    # Search postings too, and then the two agree on the announcement (a dbt test).
    searched = {row[0] for row in pipeline.query("select control_number from job_listings")}
    both = pipeline.query(
        "select control_number, in_search, in_historic, status, position_opening_status"
        " from postings"
    )
    assert {row[0] for row in both} == searched | expected
    assert len(both) == len(searched | expected)
    assert {row[0] for row in both if row[1] and row[2]} == searched & expected != set()
    ended = {"Candidate selected": "selected", "Job canceled": "cancelled", "Job closed": "closed"}
    final = dict(pipeline.query("select control_number, final_status from posting_lifecycle"))
    for number, _, _, _, historic_status in both:
        assert final[number] == ended.get(historic_status), number

    # The raw tables have the columns and types the sources files document, so the
    # empty stand-ins of never-loaded tables have the same shape.
    documented = {
        **_documented_columns(SOURCES / "_usajobs__historic__sources.yml"),
        **_documented_columns(SOURCES / "_usajobs__code_lists__sources.yml"),
    }
    types = {"timestamp without time zone": "timestamp"}
    for table, columns in documented.items():
        actual = dict(
            pipeline.query(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'usajobs' and table_name = %s",
                table,
            )
        )
        assert {name: types.get(actual.get(name, ""), actual.get(name)) for name in columns} == (
            columns
        ), table

    # A code that leaves its list keeps its row, marked deleted, once the list is read
    # again: not by the next run (lists are read weekly), by the first one due.
    pipeline.api.control("codelists", {"list": "payplans", "remove": ["AA"]})
    pipeline.run_ok("tap-usajobs", "target-postgres", **historic)
    retired = 'select "Code" from usajobs.pay_plans where _sdc_deleted_at is not null'
    assert pipeline.query(retired) == []
    pipeline.api.control("reset-stats", {})
    pipeline.run_ok(
        "tap-usajobs", "target-postgres", **historic, TAP_USAJOBS_CODE_LIST_REFRESH_DAYS="0"
    )

    assert pipeline.query(retired) == [("AA",)]
    flags = pipeline.query(
        "select code, is_deleted from staging.stg_usajobs__pay_plans where code in ('AA', 'GS')"
    )
    assert sorted(flags) == [("AA", True), ("GS", False)]

    # The second run polled only the months that can still change.
    def windows(log: list[dict[str, Any]]) -> set[str]:
        return {
            r["params"]["StartPositionOpenDate"]
            for r in log
            if r["path"].lower() == "/api/historicjoa" and "StartPositionOpenDate" in r["params"]
        }

    second = windows(pipeline.api.control("keyless-requests")["requests"])
    assert second
    assert second < windows(requests)
