"""Historic JOA at scale: a ten-year ``--backfill`` end to end, against a floor.

    .venv/bin/python bench/historic.py                       # H = 50,000 / 100,000 / 300,000
    .venv/bin/python bench/historic.py --sizes 20000 --latency-ms 0

The project's fake API serves H announcements opened over ten years, in pages of 500 rows
(what the real API served in a 2026 live check), with ``--latency-ms`` (200) added to
every Historic JOA request. For each H, on a fresh database:

- ``backfill``: ``orchestrate/run.py --backfill START END``, as a user or a Cloud Run task
  runs it: tap-usajobs (``historic_jobs`` and ``announcement_texts``) into target-postgres,
  then ``dbt build`` of ``historic_job_listings`` and what it reads. It runs the plugins
  ``make install`` installed, so it measures the working tree.
- ``floor``: the same month windows and pages, ``--concurrency`` windows at a time (the
  tap's ``max_concurrent_requests``, 4 by default), each window's pages one after another
  as its ``next`` links require; then one ``COPY`` per stream of the rows as jsonb: the
  least work that moves the same data.

It prints, and writes to ``bench/results/historic-<time>.json``: wall time, rows/s,
requests, the peak RSS of each process, the ratio to the floor, and a least-squares line
of wall time against H with its R², extrapolated to 3,000,000. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import devenv
import harness
import measure
from harness import ROOT, Databases

RUN = [str(harness.PYTHON), str(ROOT / "orchestrate" / "run.py")]
YEARS_DAYS = 3650
PAGE_SIZE = 500
STREAMS = {
    "historic_jobs": "/api/historicjoa",
    "announcement_texts": "/api/historicjoa/announcementtext",
}


def month_windows(first: date, last: date) -> list[tuple[date, date]]:
    """Calendar months from ``first`` to ``last``, as the tap's windows are cut."""
    windows = []
    start = first
    while start <= last:
        following = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        windows.append((start, min(following - timedelta(days=1), last)))
        start = following
    return windows


def floor(
    api: str,
    windows: list[tuple[date, date]],
    server: devenv.Postgres,
    db: str,
    concurrency: int,
) -> dict[str, Any]:
    """Fetch every page of every window, ``concurrency`` windows at a time, then COPY."""
    started = time.monotonic()

    def window_rows(path: str, start: date, end: date) -> tuple[list[str], int]:
        rows: list[str] = []
        requests = 0
        link: str | None = f"{path}?StartPositionOpenDate={start}&EndPositionOpenDate={end}"
        while link:
            with urllib.request.urlopen(f"{api}{link}", timeout=120) as response:  # noqa: S310
                requests += 1
                body = response.read()
            if not body:  # 204: no announcement in the window
                break
            page = json.loads(body)
            rows += [json.dumps(row) for row in page.get("data") or []]
            link = (page.get("paging") or {}).get("next")
        return rows, requests

    rows: dict[str, list[str]] = {stream: [] for stream in STREAMS}
    requests = 0
    with ThreadPoolExecutor(concurrency) as pool:
        for stream, path in STREAMS.items():
            for got, made in pool.map(lambda w, p=path: window_rows(p, *w), windows):
                rows[stream] += got
                requests += made
    fetched = time.monotonic() - started
    with server.connect(db) as conn:
        for stream, texts in rows.items():
            conn.execute(f"create table {stream} (row jsonb)")
            with conn.cursor().copy(f"copy {stream} (row) from stdin") as copy:
                for text in texts:
                    copy.write_row((text,))
    return {
        "wall_s": round(time.monotonic() - started, 2),
        "fetch_s": round(fetched, 2),
        "requests": requests,
        "concurrency": concurrency,
        "rows": {stream: len(texts) for stream, texts in rows.items()},
    }


def backfill(  # noqa: PLR0913  # the run's knobs, named
    api: str,
    window: tuple[date, date],
    server: devenv.Postgres,
    db: str,
    logs: Path,
    concurrency: int,
) -> dict[str, Any]:
    """The runtime's --backfill, its processes sampled for peak RSS."""
    env = {
        **harness.clean_env(),
        **server.env(db),
        "TAP_USAJOBS_BASE_URL": api,
        "TAP_USAJOBS_API_KEY": devenv.FAKE_API_KEY,
        "TAP_USAJOBS_USER_AGENT": harness.USER_AGENT,
        "MELTANO_BIN": str(harness.MELTANO),
        "TAP_USAJOBS_MAX_CONCURRENT_REQUESTS": str(concurrency),
    }
    log = logs / f"backfill-{db}.log"
    with log.open("wb") as file:
        outcome = measure.run_single(
            [*RUN, "--backfill", window[0].isoformat(), window[1].isoformat()],
            env=env,
            cwd=ROOT,
            log=file,
            expected_roles={"meltano", "tap", "target"},
            timeout=harness.RUN_TIMEOUT * 4,
        )
    if not outcome.ok:
        sys.exit(f"the backfill failed: {outcome.exit_codes}; see {log}")
    loaded = {
        stream: int(server.value(db, f"select count(*) from usajobs.{stream}"))  # noqa: S608
        for stream in STREAMS
    }
    marts = int(server.value(db, "select count(*) from public.historic_job_listings"))
    return {
        "wall_s": round(outcome.wall_s, 2),
        "rows": loaded,
        "historic_job_listings": marts,
        "processes": outcome.processes,
        "log": str(log),
    }


def line_fit(points: list[tuple[float, float]]) -> dict[str, float]:
    """Least squares y = a + b x, and R²."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for _, y in points)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in points)
    return {
        "intercept_s": intercept,
        "s_per_row": slope,
        "r2": 1 - residual / total if total else 1.0,
    }


def main() -> int:
    """Run every size, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000,100000,300000")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="windows fetched at once, by the tap (max_concurrent_requests) and the floor",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    today = datetime.now(UTC).date()
    window = ((today - timedelta(days=YEARS_DAYS)).replace(day=1), today)
    windows = month_windows(*window)
    results: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-historic-") as work,
        devenv.postgres(Path(work) / "pgdata") as server,
    ):
        databases = Databases(server, toast=None)
        logs = ROOT / "bench" / "results" / "historic-logs"
        logs.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            extra = (
                *("--historic", str(size), "--historic-days", str(YEARS_DAYS)),
                *("--historic-page-size", str(PAGE_SIZE), "--historic-mirror-every", "0"),
                *("--historic-latency-ms", str(args.latency_ms)),
            )
            with harness.fake_api(ROOT, 10, 2, 0, Path(work), extra) as fake:
                with databases.fresh(f"historic_{size}") as db:
                    ours = backfill(fake.url, window, server, db, logs, args.concurrency)
                ours["requests"] = len(fake.control("keyless-requests")["requests"])
                with databases.fresh(f"floor_{size}") as db:
                    least = floor(fake.url, windows, server, db, args.concurrency)
            row = {"H": size, "backfill": ours, "floor": least}
            row["ratio"] = round(ours["wall_s"] / least["wall_s"], 2)
            row["rows_per_s"] = round(sum(ours["rows"].values()) / ours["wall_s"])
            results.append(row)
            print(json.dumps({k: row[k] for k in ("H", "ratio", "rows_per_s")}), flush=True)
    fit = line_fit([(r["H"], r["backfill"]["wall_s"]) for r in results]) if len(results) > 1 else {}
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "page_size": PAGE_SIZE,
        "windows": len(windows),
        "results": results,
        "fit": fit,
        "extrapolated_3m_s": round(fit["intercept_s"] + fit["s_per_row"] * 3_000_000)
        if fit
        else None,
    }
    out = ROOT / "bench" / "results" / f"historic-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(_table(report))
    print(f"\nwritten: {out}")
    return 0


def _table(report: dict[str, Any]) -> str:
    lines = [
        "| H | backfill wall | rows/s | requests (floor) | floor wall (fetch) | ratio | "
        "peak RSS tap / target / meltano |",
        "|--:|--:|--:|--:|--:|--:|:--|",
    ]
    for r in report["results"]:
        procs = r["backfill"]["processes"]
        rss = " / ".join(
            f"{procs[role]['peak_rss_mib']:.0f} MiB" if role in procs else "?"
            for role in ("tap", "target", "meltano")
        )
        floor_part = f"{r['floor']['wall_s']:.1f} s ({r['floor']['fetch_s']:.1f} s)"
        lines.append(
            f"| {r['H']:,} | {r['backfill']['wall_s']:.1f} s | {r['rows_per_s']:,} | "
            f"{r['backfill']['requests']:,} ({r['floor']['requests']:,}) | "
            f"{floor_part} | {r['ratio']:.2f} | {rss} |"
        )
    if report["fit"]:
        fit = report["fit"]
        lines.append(
            f"\nwall ≈ {fit['intercept_s']:.1f} s + {fit['s_per_row'] * 1000:.3f} s per 1,000 rows "
            f"(R² {fit['r2']:.4f}); at 3,000,000: ~{report['extrapolated_3m_s'] / 3600:.1f} h"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
