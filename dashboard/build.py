"""Build the dashboard: a static site of two pages from the marts, as BI-as-code.

    python dashboard/build.py --out output/dashboard        build from the PG* database
    python dashboard/build.py --out DIR --serve 8050        build, then serve DIR locally

Every query is a file in dashboard/queries/ (its name is the query's name); every page a
Jinja2 template in dashboard/templates/. The build runs each query once against the
database libpq's PG* variables name, and renders the pages with the results: figures as
text, charts as inline SVG (charts.py), and the open postings as JSON for the explorer's
filters (static/dashboard.js; the health page filters its runs, static/health.js). The
site needs no server and fetches nothing: open index.html from disk, publish it to a
bucket, or serve it.

What the API sent is untrusted, so templates escape every value (autoescape), and the
explorer's JSON is escaped for a <script> element. No connection setting is written to
the site. ADR 18 says why this is not Evidence.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import sys
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parent))

import charts

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "queries"
PAGES = ("index.html", "health.html")
#: The daily schedule (orchestrate/jobs.meltano.yml) plus a grace period: older is late.
FRESH_HOURS = 26
RUNBOOK = os.environ.get("USAJOBS_RUNBOOK_URL", "docs/runbook.md")
#: Where the runbook explains each exit code of orchestrate/run.py.
RUNBOOK_SECTIONS = {
    1: "exit-codes-of-orchestraterunpy",
    64: "config-errors-a-setting-missing-empty-or-malformed-or-an-unknown-stream",
    65: "result-count-dropped-exit-65",
    69: "database-down-or-unreachable",
    75: "incomplete-read-exit-75",
    76: "refused-a-changed-field",
    137: "a-run-was-killed-or-another--pipeline-is-already-running",
    143: "a-run-was-killed-or-another--pipeline-is-already-running",
}

#: Queries of usajobs_ops.pipeline_runs, which exists once orchestrate/run.py has run.
RUN_QUERIES = ("runs", "query_counts")

Rows = list[dict[str, Any]]


def run_queries(conn: psycopg.Connection[Any]) -> dict[str, Rows | None]:
    """Every query's rows by name; None for a run query before any run was recorded."""
    recorded = conn.execute("select to_regclass('usajobs_ops.pipeline_runs')").fetchone()
    results: dict[str, Rows | None] = {}
    for path in sorted(QUERIES.glob("*.sql")):
        if path.stem in RUN_QUERIES and not (recorded and recorded[0]):
            results[path.stem] = None
            continue
        with conn.cursor(row_factory=dict_row) as cursor:
            results[path.stem] = cursor.execute(path.read_text()).fetchall()
    return results


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def script_json(rows: Rows) -> Markup:
    """Rows as JSON that is safe inside <script>: no "</script>" or "<!--" can close it."""
    text = json.dumps([{k: _json_value(v) for k, v in row.items()} for row in rows])
    safe = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(safe)  # noqa: S704  # escaped for a script element just above


#: time_open.sql puts every posting open this many weeks or longer in one bucket.
LONGEST_WEEKS = 12


def _weeks(weeks: int) -> str:
    return f"{LONGEST_WEEKS}+ weeks" if weeks >= LONGEST_WEEKS else f"{weeks} to {weeks + 1} weeks"


def page_context(data: dict[str, Rows | None]) -> dict[str, Any]:
    """What the templates show, shaped from the query results."""
    runs = data["runs"] or []
    failures = [run for run in runs if run["status"] not in ("succeeded", "running")]
    freshness = (data["freshness"] or [{}])[0]
    age = freshness.get("age_hours")
    counts: dict[str, list[tuple[datetime, float]]] = {}
    for row in data["query_counts"] or []:
        counts.setdefault(row["query"], []).append((row["started_at"], row["reported"] or 0))
    opened = data["opened_closed"] or []
    return {
        "built_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kpis": (data["market_kpis"] or [{}])[0],
        "open_chart": charts.line_chart(
            [(row["day"], row["open"]) for row in data["open_over_time"] or []],
            label="Open postings per day",
            y_label="open postings",
        ),
        "opened_closed_chart": charts.column_chart(
            [row["day"] for row in opened],
            {
                "opened": [row["opened"] for row in opened],
                "closed": [row["closed"] for row in opened],
            },
            label="Postings opened and closed per day",
            y_label="postings",
        ),
        "agencies_chart": charts.bar_chart(
            [(row["agency"], row["open_postings"]) for row in data["top_agencies"] or []],
            label="Open postings by agency",
        ),
        "series_chart": charts.bar_chart(
            [(row["series"], row["open_postings"]) for row in data["top_series"] or []],
            label="Open postings by occupational series",
        ),
        "time_open_chart": charts.bar_chart(
            [(_weeks(row["weeks"]), row["postings"]) for row in data["time_open"] or []],
            label="Postings by weeks open",
        ),
        "states": data["states"] or [],
        "pay": data["pay"] or [],
        "lifecycle": (data["lifecycle"] or [{}])[0],
        "explorer": data["explorer"] or [],
        "explorer_json": script_json(data["explorer"] or []),
        "runs": runs,
        "runs_recorded": data["runs"] is not None,
        "last_failure": failures[0] if failures else None,
        "runbook": RUNBOOK,
        "runbook_sections": RUNBOOK_SECTIONS,
        "count_charts": {
            query: charts.line_chart(
                [(moment.date(), value) for moment, value in points],
                label=f"Result count of {query}",
                y_label="postings",
            )
            for query, points in counts.items()
        },
        "alerts": [run for run in runs if run["alerts"]],
        "newest_load": freshness.get("newest_load"),
        "age_hours": age,
        "is_fresh": age is not None and age <= FRESH_HOURS,
        "fresh_hours": FRESH_HOURS,
    }


def build(out: Path) -> float:
    """Query the database and write the site to ``out``; returns the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect("", autocommit=False) as conn:
        data = run_queries(conn)
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["number"] = lambda v, digits=0: "-" if v is None else f"{v:,.{digits}f}"
    environment.filters["percent"] = lambda v: "-" if v is None else f"{100 * float(v):.1f}%"
    context = page_context(data)
    if out.exists():
        shutil.rmtree(out)
    (out / "static").mkdir(parents=True)
    for name in PAGES:
        (out / name).write_text(environment.get_template(name).render(page=name, **context))
    for asset in (HERE / "static").iterdir():
        shutil.copy(asset, out / "static" / asset.name)
    return time.perf_counter() - started


def serve(folder: Path, port: int) -> None:
    """Serve ``folder`` on 127.0.0.1 until interrupted."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"The dashboard: http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print()


def main(argv: list[str] | None = None) -> int:
    """Build, and serve when asked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("output/dashboard"))
    parser.add_argument("--serve", type=int, metavar="PORT", help="serve the site afterwards")
    args = parser.parse_args(argv)
    try:
        seconds = build(args.out)
    except psycopg.OperationalError as exc:
        print(f"Cannot reach the database (PG* variables): {exc}", file=sys.stderr)
        return 69
    except psycopg.errors.UndefinedTable as exc:
        print(f"The marts are missing ({exc}); run `make demo` first.", file=sys.stderr)
        return 64
    print(f"Built {args.out / 'index.html'} in {seconds:.1f} s")
    if args.serve is not None:
        serve(args.out, args.serve)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
