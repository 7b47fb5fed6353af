"""Where target-postgres's memory goes on a backfill: SQLAlchemy's statement cache.

    .venv/bin/python bench/target_memory.py                  # H = 100,000 and 300,000
    .venv/bin/python bench/target_memory.py --sizes 20000,60000

For each H, the project's fake API serves H Historic JOA announcements opened over ten
years, and the tap's Singer messages for a ten-year backfill are captured once, untimed.
target-postgres, configured as meltano.yml configures it, then loads the capture into a
fresh database twice: as installed, and with SQLAlchemy's compiled-statement cache off
(``query_cache_size=0``, set by a wrapper for this measurement only). target-postgres
gives each batch's temporary table a new name, so every batch's statements are new to
the cache, and the cache keeps up to 500 of them with the tables they name. The script
prints each load's peak RSS and wall time. It is a diagnosis, not a change: the pipeline
runs target-postgres unmodified.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import devenv
import harness
from harness import ROOT, Databases

TARGET_PYTHON = ROOT / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin" / "python"
#: target-postgres's own entry point, with the cache on (as installed) or off.
LOADS = {
    "as installed": "from target_postgres.target import TargetPostgres; TargetPostgres.cli()",
    "statement cache off": (
        "import functools, sqlalchemy\n"
        "create = sqlalchemy.create_engine\n"
        "sqlalchemy.create_engine = functools.partial(create, query_cache_size=0)\n"
        "from target_postgres.target import TargetPostgres; TargetPostgres.cli()"
    ),
}


def capture(api: str, workdir: Path, size: int) -> Path:
    """The tap's Singer messages for a ten-year backfill, in a file."""
    today = datetime.now(UTC).date()
    env = {
        **harness.clean_env(),
        **harness.tap_env_vars(api, {}),
        "TAP_USAJOBS_START_DATE": (today - timedelta(days=3650)).replace(day=1).isoformat(),
        "TAP_USAJOBS_HISTORIC_END_DATE": today.isoformat(),
        "TAP_USAJOBS__SELECT": '["historic_jobs.*", "announcement_texts.*"]',
    }
    messages = workdir / f"backfill-{size}.jsonl"
    with messages.open("wb") as out:
        tap = subprocess.run(  # noqa: S603
            [str(harness.MELTANO), "invoke", "tap-usajobs"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
    if tap.returncode:
        sys.exit(f"capturing the tap's output failed:\n{tap.stderr.decode()[-3000:]}")
    return messages


def load(code: str, config: Path, messages: Path, env: dict[str, str]) -> tuple[float, float]:
    """target-postgres on ``messages``: (wall seconds, peak RSS in MiB)."""
    started = time.monotonic()
    with messages.open("rb") as stdin:
        proc = subprocess.Popen(  # noqa: S603
            [str(TARGET_PYTHON), "-c", code, "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"target-postgres failed on {messages}")
    return time.monotonic() - started, usage.ru_maxrss / 1024


def main() -> int:
    """Capture each size once, load it both ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    dump = [str(harness.MELTANO), "invoke", "--dump=config", "target-postgres"]
    config_json = harness.run_checked(dump, cwd=ROOT, env=harness.clean_env()).stdout
    print("| H | target-postgres | peak RSS | wall |\n|--:|:--|--:|--:|")
    with (
        tempfile.TemporaryDirectory(prefix="bench-target-memory-") as work,
        devenv.postgres(Path(work) / "pgdata") as server,
    ):
        config = Path(work) / "target.json"
        config.write_text(json.dumps(json.loads(config_json)))
        databases = Databases(server, toast=None)
        for size in sizes:
            extra = ("--historic", str(size), "--historic-days", "3650",
                     "--historic-page-size", "500", "--historic-mirror-every", "0")  # fmt: skip
            with harness.fake_api(ROOT, 10, 2, 0, Path(work), extra) as fake:
                messages = capture(fake.url, Path(work), size)
            for name, code in LOADS.items():
                with databases.fresh(f"target_memory_{size}") as db:
                    env = {**harness.clean_env(), **server.env(db)}
                    wall, rss = load(code, config, messages, env)
                print(f"| {size:,} | {name} | {rss:.1f} MiB | {wall:.1f} s |", flush=True)
            messages.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
