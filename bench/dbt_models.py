"""How long `dbt run` takes on N loaded postings, for one or more versions of transform/.

Loads N fake postings once, untimed: the project's fake API, then `meltano run tap-usajobs
target-postgres` into a fresh database. Then it runs `dbt run` from each given git ref's
transform/ (exported with ``git archive``; ``worktree`` is the working tree), interleaved
and rotated, ``--runs`` times each, on that same database, after one untimed warm-up run.
It reports the median wall time of each ref and the median time of each model, from
dbt's run_results.json.

    .venv/bin/python bench/dbt_models.py --ref 7619a46 --ref worktree
    .venv/bin/python bench/dbt_models.py --postings 40000 --runs 5 --ref HEAD

The load runs meltano in this checkout, so do not run another meltano command here at the
same time. dbt runs directly, without meltano's `dbt clean` and `dbt deps` (~5 s a run,
the same for every ref). Python 3.11 stdlib plus psycopg (the project venv).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(BENCH))

import devenv  # noqa: E402
import harness  # noqa: E402

DBT = ROOT / ".meltano" / "utilities" / "dbt-postgres" / "venv" / "bin" / "dbt"
DATABASE = "bench_dbt"
#: The fake's historic announcements open over this many days before today.
HISTORIC_DAYS = 420
RUN_TIMEOUT = 1800.0


def export_transform(ref: str, into: Path) -> Path:
    """transform/ as of ``ref`` (or the working tree) in a folder of its own."""
    folder = into / ref.replace("/", "_")
    if ref == "worktree":
        ignore = shutil.ignore_patterns("target", "logs", "dbt_packages")
        shutil.copytree(ROOT / "transform", folder / "transform", ignore=ignore)
    else:
        archive = subprocess.run(  # noqa: S603
            ["git", "archive", "--format=tar", ref, "transform"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
    return folder / "transform"


def default_select() -> list[str]:
    """tap-usajobs' `select` in meltano.yml: jobs and the code lists."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = (p for p in project["plugins"]["extractors"] if p["name"] == "tap-usajobs")
    return list(tap["select"])


def load(server: devenv.Postgres, postings: int, historic: int, workdir: Path) -> dict[str, int]:
    """Load fake postings, the code lists and (if ``historic``) historic_jobs; row counts."""
    server.create_database(DATABASE, replace=True)
    extra = ("--historic", str(historic), "--historic-days", str(HISTORIC_DAYS))
    with harness.fake_api(ROOT, postings, 15, 0, workdir, extra) as fake:
        overrides = {"TAP_USAJOBS_SEARCH_ROW_CAP": "0"}
        if historic:
            # meltano.yml's selection plus historic_jobs, from the fake's first opening day.
            start = datetime.now(UTC).date() - timedelta(days=HISTORIC_DAYS)
            overrides["TAP_USAJOBS_START_DATE"] = start.isoformat()
            overrides["TAP_USAJOBS__SELECT"] = json.dumps([*default_select(), "historic_jobs.*"])
        env = {
            **harness.clean_env(),
            **server.env(DATABASE),
            **harness.tap_env_vars(fake.url, overrides),
            "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
        }
        command = [str(harness.MELTANO), "run", "tap-usajobs", "target-postgres"]
        print(
            f"loading {postings:,} postings and {historic:,} historic announcements: "
            f"{' '.join(command[1:])}",
            flush=True,
        )
        harness.run_checked(command, cwd=ROOT, env=env, timeout=RUN_TIMEOUT)
    tables = ("jobs", "historic_jobs") if historic else ("jobs",)
    return {
        table: int(server.value(DATABASE, f"select count(*) from usajobs.{table}"))  # noqa: S608
        for table in tables
    }


def dbt_run(project: Path, server: devenv.Postgres, target_path: Path) -> dict[str, Any]:
    """One `dbt run`: its wall time and each model's execution time."""
    env = {
        **harness.clean_env(),
        **server.env(DATABASE),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [
        str(DBT), "run", "--project-dir", str(project), "--profiles-dir",
        str(project / "profiles"), "--target-path", str(target_path),
    ]  # fmt: skip
    started = time.monotonic()
    harness.run_checked(command, cwd=project, env=env, timeout=RUN_TIMEOUT)
    wall = time.monotonic() - started
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    models = {item["unique_id"].split(".")[-1]: item["execution_time"] for item in results}
    return {"wall_s": wall, "models": models}


def render(refs: list[str], runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """A markdown report: wall per ref, then the slowest models of any ref."""
    by_ref = {ref: [r for r in runs if r["ref"] == ref] for ref in refs}
    lines = [
        f"`dbt run` on {meta['rows']['jobs']:,} postings"
        f" and {meta['rows'].get('historic_jobs', 0):,} historic announcements,"
        f" {meta['runs']} run(s) per ref, interleaved; "
        f"medians (min-max). {meta['started']} to {meta['finished']}.",
        "",
        "| ref | dbt run wall s | " + " | ".join(f"{m} s" for m in meta["models"]) + " |",
        "|:--|--:|" + "--:|" * len(meta["models"]),
    ]
    for ref, group in by_ref.items():
        walls = [r["wall_s"] for r in group]
        cells = [f"{statistics.median(walls):.1f} ({min(walls):.1f}-{max(walls):.1f})"]
        for model in meta["models"]:
            times = [r["models"].get(model, 0.0) for r in group]
            cells.append(f"{statistics.median(times):.2f}")
        lines.append(f"| `{ref}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Load once, run dbt for every ref, print and save the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postings", type=int, default=20_000, help="N (default 20000)")
    parser.add_argument(
        "--historic", type=int, default=0, help="historic announcements too (default 0)"
    )
    parser.add_argument("--runs", type=int, default=3, help="dbt runs per ref (default 3)")
    parser.add_argument(
        "--ref", action="append", help="a git ref or 'worktree' (repeatable; default HEAD)"
    )
    parser.add_argument("--out", type=Path, help="results folder (default bench/results/dbt-<UTC>)")
    options = parser.parse_args(argv)
    refs: list[str] = options.ref or ["HEAD"]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out: Path = options.out or BENCH / "results" / f"dbt-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    if not DBT.exists():
        sys.exit(f"{DBT} is missing: run `make install` first.")
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="usajobs-bench-dbt-") as tmp:
        workdir = Path(tmp)
        projects = {ref: export_transform(ref, workdir / "refs") for ref in refs}
        with devenv.postgres(workdir / "pgdata") as server:
            rows = load(server, options.postings, options.historic, workdir)
            # Untimed: the first build creates every relation and fills the incremental
            # job_listing_versions; the timed runs all start from that steady state.
            print(f"  warm-up: dbt run from {refs[0]}", flush=True)
            dbt_run(projects[refs[0]], server, workdir / "target-warm-up")
            results: list[dict[str, Any]] = []
            for rep in range(options.runs):
                shift = rep % len(refs)
                for ref in refs[shift:] + refs[:shift]:
                    measured = dbt_run(
                        projects[ref], server, workdir / f"target-{rep}-{len(results)}"
                    )
                    results.append({"ref": ref, "rep": rep, **measured})
                    slowest = max(measured["models"].items(), key=lambda item: item[1])
                    print(
                        f"  {ref:<12} run {rep + 1}: {measured['wall_s']:6.2f} s "
                        f"(slowest model {slowest[0]} {slowest[1]:.2f} s)",
                        flush=True,
                    )
            server.drop_database(DATABASE)
    totals: dict[str, float] = {}
    for result in results:
        for model, seconds in result["models"].items():
            totals[model] = max(totals.get(model, 0.0), seconds)
    slowest_models = sorted(totals, key=totals.__getitem__, reverse=True)[:4]
    meta = {
        "rows": rows,
        "runs": options.runs,
        "refs": refs,
        "models": slowest_models,
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv,
    }
    (out / "results.json").write_text(json.dumps({"meta": meta, "runs": results}, indent=1))
    text = render(refs, results, meta)
    (out / "report.md").write_text(text)
    print("\n" + text + f"\nWritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
