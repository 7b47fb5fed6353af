"""Run the pipeline on this machine, and build the data dictionary over what it loaded.

``make demo`` runs it against the fake API, ``make run`` against the real one, and
``make docs`` builds dbt's docs site from the database they loaded.

Both load into the server PG* points at or, when PGHOST is unset, into a throwaway
embedded PostgreSQL kept under ``.demo/`` so a second run finds its data and state.
Run with the project venv: ``.venv/bin/python scripts/local.py demo|run``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dashboard"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "orchestrate"))

import build  # dashboard/build.py
import devenv
from runtime import progress  # orchestrate/runtime/progress.py

if TYPE_CHECKING:
    from collections.abc import Iterator

MELTANO = str(Path(sys.executable).with_name("meltano"))
DEMO_DIR = devenv.ROOT / ".demo"
EX_CONFIG = 64  # sysexits' EX_USAGE: fix the environment and run again
DEFAULT_JOB = "usajobs-elt"


def _meltano_env(pg_env: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **pg_env}
    # Keep local state beside the local database, apart from any production system DB.
    env.setdefault("MELTANO_DATABASE_URI", f"sqlite:///{DEMO_DIR / 'meltano.db'}")
    return env


def _print_summary(server: devenv.Postgres, database: str) -> None:
    count = server.value(database, "select count(*) from job_listings")
    with server.connect(database) as conn:
        rows = conn.execute(
            """
            select control_number, left(position_title, 40), rate_interval_code,
                   annual_salary_min, annual_salary_max, closes_at::date
            from job_listings
            order by published_at desc, control_number
            limit 5
            """
        ).fetchall()
    print(f"\njob_listings: {count} rows in database {database!r}. Newest five:")
    header = ("control_number", "position_title", "rate", "annual_min", "annual_max", "closes")
    print(" | ".join(header))
    for row in rows:
        print(" | ".join("" if value is None else str(value) for value in row))
    # Never the password: the hint is for the terminal, and logs keep terminals.
    where = " ".join(
        f"{key}={value}" for key, value in server.env(database).items() if key != "PGPASSWORD"
    )
    query = "psql -c 'SELECT COUNT(*) FROM job_listings'"
    print(
        "\nNext: `make dashboard` serves the dashboard over this data, `make docs` the data "
        f"dictionary, and\n  {where} {query}\nqueries it."
    )


def _run_pipeline(server: devenv.Postgres, extra_env: dict[str, str], job: str, name: str) -> int:
    database = os.environ.get("PGDATABASE") or "usajobs"
    server.create_database(database)
    env = {**_meltano_env(server.env(database)), **extra_env}
    # The runtime the image runs: the run is recorded in usajobs_ops.pipeline_runs too.
    blocks = [] if job == DEFAULT_JOB else [job]
    command = [sys.executable, str(devenv.ROOT / "orchestrate" / "run.py"), *blocks]
    log = devenv.ROOT / "output" / "logs" / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.log"
    print("$", " ".join(command), flush=True)
    code = progress.run(command, env, log, sys.stdout, devenv.ROOT)
    if code != 0:
        return code
    _print_summary(server, database)
    return 0


def demo(job: str, new_postings: int = 0) -> int:
    """Fake API, local Postgres, full job, then a look at the result.

    ``new_postings`` are published today on top of the fake's usual ones, so a second
    demo has something new to load (the dashboard's tests use it).
    """
    DEMO_DIR.mkdir(exist_ok=True)
    with (
        devenv.postgres(DEMO_DIR / "pgdata") as server,
        devenv.fake_api("--postings", "1500") as api,
    ):
        print(f"Fake USAJobs API at {api.url}", flush=True)
        if new_postings:
            api.control("postings", {"add": new_postings})
        return _run_pipeline(
            server,
            {
                "TAP_USAJOBS_BASE_URL": api.url,
                "TAP_USAJOBS_API_KEY": api.api_key,
                "TAP_USAJOBS_USER_AGENT": "demo@example.com",
            },
            job,
            "demo",
        )


def run(job: str) -> int:
    """The real USAJobs API; needs USAJOBS_API_KEY and USAJOBS_USER_AGENT."""
    required = {
        "USAJOBS_API_KEY": "your USAJobs API key (https://developer.usajobs.gov/apirequest/)",
        "USAJOBS_USER_AGENT": "the email address the key was issued to",
    }
    missing = [f"  {name}: {what}" for name, what in required.items() if not os.environ.get(name)]
    if missing:
        print("make run needs these environment variables:\n" + "\n".join(missing), file=sys.stderr)
        return EX_CONFIG
    DEMO_DIR.mkdir(exist_ok=True)
    with devenv.postgres(DEMO_DIR / "pgdata") as server:
        return _run_pipeline(
            server,
            {
                "TAP_USAJOBS_API_KEY": os.environ["USAJOBS_API_KEY"],
                "TAP_USAJOBS_USER_AGENT": os.environ["USAJOBS_USER_AGENT"],
            },
            job,
            "run",
        )


def docs() -> int:
    """Build dbt's docs site over the demo database: one static page in output/dbt-docs."""
    with _demo_database() as pg_env:
        if pg_env is None:
            return EX_CONFIG
        target = devenv.ROOT / "output" / "dbt-docs"
        env = {**_meltano_env(pg_env), "DBT_TARGET_PATH": str(target)}
        command = [MELTANO, "run", "dbt-postgres:docs-generate"]
        print("$", " ".join(command), flush=True)
        code = subprocess.call(command, cwd=devenv.ROOT, env=env)  # noqa: S603
    if code == 0:
        print(f"\nThe data dictionary: {target / 'static_index.html'} (open it in a browser)")
    return code


DASHBOARD_DIR = devenv.ROOT / "output" / "dashboard"
SCREENSHOT = devenv.ROOT / "docs" / "img" / "dashboard.png"


@contextlib.contextmanager
def _demo_database() -> Iterator[dict[str, str] | None]:
    """The PG* variables of the demo database, or None (and a message) if it has none."""
    database = os.environ.get("PGDATABASE") or "usajobs"
    DEMO_DIR.mkdir(exist_ok=True)
    with devenv.postgres(DEMO_DIR / "pgdata") as server:
        with server.connect("postgres") as conn:
            known = conn.execute("select 1 from pg_database where datname = %s", (database,))
            exists = known.fetchone() is not None
        if not exists:
            print(f"No database {database!r}: run `make demo` first.", file=sys.stderr)
            yield None
        else:
            yield server.env(database)


def _build_dashboard(pg_env: dict[str, str]) -> None:
    os.environ.update(pg_env)
    seconds = build.build(DASHBOARD_DIR)
    print(f"Built {DASHBOARD_DIR} in {seconds:.1f} s")


def dashboard() -> int:
    """Build the dashboard over the demo database and serve it until Ctrl-C."""
    with _demo_database() as pg_env:
        if pg_env is None:
            return EX_CONFIG
        _build_dashboard(pg_env)
    build.serve(DASHBOARD_DIR, int(os.environ.get("DASHBOARD_PORT", "8050")))
    return 0


def screenshot() -> int:
    """Rebuild the dashboard and save the job market page as the README's picture."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  # make screenshot installs it

    with _demo_database() as pg_env:
        if pg_env is None:
            return EX_CONFIG
        _build_dashboard(pg_env)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=["--no-sandbox"]
        )
        # The top of the page (figures and the first charts): the README's first screen
        # keeps room for what the project is and its two commands.
        page = browser.new_page(viewport={"width": 1280, "height": 560})
        page.goto((DASHBOARD_DIR / "index.html").as_uri())
        page.screenshot(path=str(SCREENSHOT))
        browser.close()
    print(f"Saved {SCREENSHOT}")
    return 0


def main() -> int:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["demo", "run", "docs", "dashboard", "screenshot"])
    parser.add_argument("--job", default=DEFAULT_JOB, help="meltano job or block to run")
    parser.add_argument(
        "--new-postings", type=int, default=0, help="demo: this many more, published today"
    )
    args = parser.parse_args()
    if args.mode in ("docs", "dashboard", "screenshot"):
        return {"docs": docs, "dashboard": dashboard, "screenshot": screenshot}[args.mode]()
    return demo(args.job, args.new_postings) if args.mode == "demo" else run(args.job)


if __name__ == "__main__":
    sys.exit(main())
