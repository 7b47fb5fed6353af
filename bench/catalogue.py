"""The daily full scan at scale: every open posting, past the 10,000-row cap.

    .venv/bin/python bench/catalogue.py                       # N = 40,000, 200 ms a request
    .venv/bin/python bench/catalogue.py --postings 20000 --latency-ms 0

The project's fake API serves N postings of ~15 KB with the real cap (10,000 rows per
query), so one unfiltered query cannot reach them all: the tap halves the set of
occupational series codes until every part fits (ADR 16), reading parts at several levels.
The tap runs alone, on its first run (a full scan), its output counted and dropped. Then:

- requests: what the tap asked for, against the least any reader could: the code list it
  splits by, one page 1 for each query that had to be split (the count that forces the
  split is on it), and ceil(count / 500) pages of each query that was not. The counts
  come from the fake.
- the floor: exactly those least requests, fetched ``--concurrency`` at a time (the tap's
  ``max_concurrent_requests``), nothing parsed or written.

It prints a table and writes bench/results/catalogue-<time>.json. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import devenv
import harness
from harness import ROOT

TAP = ROOT / ".meltano" / "extractors" / "tap-usajobs" / "venv" / "bin" / "tap-usajobs"
CAP = 10_000
PER_PAGE = 500
PAGING = {"page", "resultsperpage"}
SUMMARY = re.compile(r"Sync succeeded in [\d.]+ s: (\d+) records \(jobs=(\d+).*?(\d+) requests")


def query_of(params: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """A request's query without its paging."""
    return tuple(sorted((k, v) for k, v in params.items() if k.lower() not in PAGING))


def get(api: str, query: tuple[tuple[str, str], ...], page: int, per_page: int) -> bytes:
    """One Search page, as the tap asks for it."""
    params = urllib.parse.urlencode([*query, ("Page", page), ("ResultsPerPage", per_page)])
    request = urllib.request.Request(  # noqa: S310
        f"{api}/api/search?{params}",
        headers={"Authorization-Key": devenv.FAKE_API_KEY, "User-Agent": harness.USER_AGENT},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        body: bytes = response.read()
    return body


def scan(api: str, work: Path, concurrency: int) -> dict[str, Any]:
    """The tap alone, on a first run: wall, CPU, peak RSS and what it says it read."""
    config = {
        "base_url": api,
        "api_key": devenv.FAKE_API_KEY,
        "user_agent": harness.USER_AGENT,
        "keywords": [],
        "results_per_page": PER_PAGE,
        "search_row_cap": CAP,
        "max_concurrent_requests": concurrency,
    }
    (work / "config.json").write_text(json.dumps(config))
    log = work / "tap.log"
    started = time.monotonic()
    with log.open("wb") as stderr:
        tap = subprocess.Popen(  # noqa: S603
            [str(TAP), "--config", str(work / "config.json")],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "MALLOC_ARENA_MAX": "1"},  # as meltano.yml runs it
        )
        _, status, usage = os.wait4(tap.pid, 0)
    wall = time.monotonic() - started
    text = log.read_text(errors="replace")
    found = SUMMARY.search(text)
    if status or not found:
        sys.exit(f"the tap failed (wait status {status}):\n{text[-3000:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "jobs": int(found.group(2)),
    }


def least(api: str, log: list[dict[str, Any]]) -> dict[str, Any]:
    """The least requests that read every posting, given the queries the tap chose."""
    queries = {query_of(entry["params"]) for entry in log if entry["path"].lower() == "/api/search"}
    counts = {
        query: int(json.loads(get(api, query, 1, 1))["SearchResult"]["SearchResultCountAll"])
        for query in queries
    }
    split = [query for query, count in counts.items() if count > CAP]
    pages = [
        (query, page)
        for query, count in counts.items()
        if count <= CAP
        for page in range(1, max(1, math.ceil(count / PER_PAGE)) + 1)
    ]

    def within(query: tuple[tuple[str, str], ...], outer: tuple[tuple[str, str], ...]) -> bool:
        """Whether ``query`` narrows ``outer`` (each of outer's filters holds its codes)."""
        mine = {name: set(value.split(";")) for name, value in query}
        return query != outer and all(
            name in mine and mine[name] <= set(value.split(";")) for name, value in outer
        )

    return {
        "queries": len(queries),
        "split_queries": len(split),
        # How many splits deep the deepest query read lies.
        "levels": max(sum(within(query, outer) for outer in split) for query in queries),
        "requests": [*((query, 1) for query in split), *pages],
    }


def floor(api: str, requests: list[tuple[Any, int]], concurrency: int) -> float:
    """Fetch exactly ``requests``, ``concurrency`` at a time; the seconds it took."""
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        # Pages are dropped as they come: the bench's own size would otherwise show up in
        # the next tap's ru_maxrss (a forked child starts with its parent's peak).
        for _ in pool.map(lambda r: len(get(api, r[0], r[1], PER_PAGE)), requests):
            pass
    return round(time.monotonic() - started, 2)


def main() -> int:
    """One scan and its floor per run; medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=40_000)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--detail-kb", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
        work = Path(tmp)
        cap = ("--row-cap", str(CAP))  # after the harness's own --row-cap 0: the last one wins
        with harness.fake_api(
            ROOT, args.postings, args.detail_kb, args.latency_ms, work, cap
        ) as fake:
            for _ in range(args.runs):
                fake.control("reset-stats", method="POST")
                ours = scan(fake.url, work, args.concurrency)
                stats = fake.control("stats")
                made = stats["search_requests"]
                codelists = len(fake.control("keyless-requests")["requests"])
                if ours["jobs"] != args.postings:
                    sys.exit(f"the scan read {ours['jobs']} postings of {args.postings}")
                best = least(fake.url, stats["requests"])
                minimum = len(best["requests"]) + codelists
                least_wall = floor(fake.url, best["requests"], args.concurrency)
                runs.append(
                    {
                        **ours,
                        "requests": made + codelists,
                        "minimum": minimum,
                        "extra": round((made + codelists) / minimum - 1, 4),
                        "queries": best["queries"],
                        "split_queries": best["split_queries"],
                        "levels": best["levels"],
                        "floor_s": least_wall,
                        "ratio": round(ours["wall_s"] / least_wall, 2),
                    }
                )
                print(json.dumps(runs[-1]), flush=True)
    median = {
        key: statistics.median(r[key] for r in runs) for key in ("wall_s", "floor_s", "ratio")
    }
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "postings": args.postings,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "runs": runs,
        "median": median,
    }
    out = ROOT / "bench" / "results" / f"catalogue-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    first = runs[0]
    print(
        f"\n{args.postings:,} postings, {args.latency_ms} ms a request: "
        f"{first['queries']} queries, "
        f"{first['split_queries']} split, {first['levels']} levels deep; requests "
        f"{first['requests']} against a least of {first['minimum']} "
        f"(+{first['extra']:.1%}); wall {median['wall_s']} s against the floor's "
        f"{median['floor_s']} s ({median['ratio']}x, medians of {len(runs)})"
    )
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
