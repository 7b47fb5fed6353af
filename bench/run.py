"""Benchmark of issue 7: tap-usajobs against tap-rest-api-msdk and the floor.

    .venv/bin/python bench/run.py            # full: N = 5,000, 20,000, 40,000; 3 runs each
    .venv/bin/python bench/run.py --quick    # smoke test of the harness: N = 1,000, 1 run

The workload is the fake USAJobs API (``tap_usajobs.testing.fake_api``) serving N
postings of ~15 KB with 100 ms added per request and no 10,000-row cap, so one
unfiltered query reaches them all. Each N gets one fake server, reused by every run.
Each run loads into a fresh database, after a CHECKPOINT. Variants, side by side:

  ours-meltano   meltano run tap-usajobs target-postgres   (as users run it)
  ours-meltano-incremental   the same command again on the same database and state
  ours-pipe      tap-usajobs | target-postgres, the executables meltano installed
  msdk-pipe      tap-rest-api-msdk (bench/.venv-msdk) | the same target-postgres, same config
  floor          bench/floor.py: fetch every page once, then COPY the same rows
  target-replay  target-postgres alone, its stdin the Singer messages ours-pipe's tap
                 wrote (captured once per N, untimed): the least any pipeline through
                 target-postgres can take

and, first, ours-meltano and ours-pipe against a tiny fake (``--tiny`` postings) to
measure meltano's fixed cost per run.

What is measured is a snapshot: by default the committed HEAD (``git archive``, read
only), whose meltano.yml, lock files and tap are installed with ``meltano install`` into
a private folder. ``--source worktree`` measures the working tree instead. See
bench/README.md for how to read the report. Python 3.11 stdlib plus psycopg.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(BENCH))

import devenv  # noqa: E402
import measure  # noqa: E402
import report  # noqa: E402
from harness import (  # noqa: E402
    ENV_PREFIXES,
    FLOOR,
    FULL_SIZES,
    MELTANO,
    MSDK_EXE,
    PYTHON,
    QUICK_SIZES,
    RUN_TIMEOUT,
    TAP_EXE,
    TARGET_EXE,
    VARIANTS,
    Databases,
    Fake,
    Options,
    clean_env,
    count_records,
    ensure_msdk_venv,
    fake_api,
    floor_concurrency,
    install_plugins,
    machine_info,
    msdk_config,
    prepare_project,
    run_checked,
    tap_env_vars,
    target_batch_seconds,
    workload_tap_env,
)

if TYPE_CHECKING:
    from collections.abc import Callable


# --- the variants --------------------------------------------------------------------------


class Bench:
    """Holds the shared pieces and runs the variants."""

    def __init__(self, options: Options, dbs: Databases, project: Path, workdir: Path) -> None:
        """Install the plugins and prepare every config that does not name a fake server."""
        self.options = options
        self.dbs = dbs
        self.project = project
        self.workdir = workdir
        self.logs = options.out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.results: list[dict[str, Any]] = []
        self.sys_dir = workdir / "meltano-sys"
        install_plugins(project, self.sys_dir, workdir)
        self.tap_exe = self.sys_dir / TAP_EXE
        self.target_exe = self.sys_dir / TARGET_EXE
        self.about = json.loads(run_checked([str(self.tap_exe), "--about", "--format=json"]).stdout)
        # The workload's fake serves every row of a query; a tap that mirrors the real
        # API's 10,000-row cap in a setting is told so, unless --env says otherwise.
        self.plugin_env = {**workload_tap_env(self.about), **options.plugin_env}
        probe_env = {
            **clean_env(),
            **tap_env_vars("http://127.0.0.1:9", self.plugin_env),
            "MELTANO_SYS_DIR_ROOT": str(self.sys_dir),
        }
        with ThreadPoolExecutor(2) as pool:  # two meltano starts at once: ~2 s saved
            tap_config = pool.submit(self._meltano_config, "tap-usajobs", probe_env)
            target_config = pool.submit(self._meltano_config, "target-postgres", probe_env)
            self.tap_config, self.target_config = tap_config.result(), target_config.result()
        self.target_config_path = workdir / "target.json"
        self.target_config_path.write_text(json.dumps(self.target_config))
        self.per_page = int(self.tap_config.get("results_per_page") or 500)
        probe_config = workdir / "tap-probe.json"
        probe_config.write_text(json.dumps(self.tap_config))
        self.catalog = workdir / "catalog.json"
        discover = [str(self.tap_exe), "--config", str(probe_config), "--discover"]
        self.catalog.write_text(run_checked(discover).stdout)
        # What `meltano run` hands the tap: discovery with meltano.yml's select and schema
        # extras applied. ours-pipe passes it too, so both load the same columns.
        self.meltano_catalog = workdir / "meltano-catalog.json"
        dump = [str(MELTANO), "invoke", "--dump=catalog", "tap-usajobs"]
        dump_env = {**probe_env, "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'probe-dump.db'}"}
        self.meltano_catalog.write_text(run_checked(dump, cwd=project, env=dump_env).stdout)
        self.concurrency, self.concurrency_source = floor_concurrency(self.tap_config, self.about)
        if options.floor_concurrency is not None:
            self.concurrency = options.floor_concurrency
            self.concurrency_source = "--floor-concurrency"

    def _meltano_config(self, plugin: str, env: dict[str, str]) -> dict[str, Any]:
        """The plugin's effective config, as ``meltano run`` passes it."""
        command = [str(MELTANO), "config", "--unsafe", "print", plugin]
        # A system database per call: two meltano processes migrating one file collide.
        env = {**env, "MELTANO_DATABASE_URI": f"sqlite:///{self.workdir / f'probe-{plugin}.db'}"}
        config: dict[str, Any] = json.loads(run_checked(command, cwd=self.project, env=env).stdout)
        return config

    def _record(  # noqa: PLR0913  # one run's facts, named
        self,
        fake: Fake,
        variant: str,
        rep: int,
        outcome: measure.Outcome,
        database: str,
        target_log: Path | None = None,
        **extra: Any,  # noqa: ANN401
    ) -> None:
        rows, distinct = self.dbs.count(database)
        result = {
            "variant": variant,
            "n": fake.postings,
            "rep": rep,
            "wall_s": round(outcome.wall_s, 3),
            "rows": rows,
            "distinct_rows": distinct,
            "expected_rows": fake.postings,
            "requests": fake.search_requests(),
            "exit_codes": outcome.exit_codes,
            "processes": outcome.processes,
            "loadavg_1m": round(os.getloadavg()[0], 2),
            **extra,
        }
        if target_log is not None:
            result["target_timed_batches_s"] = target_batch_seconds(target_log)
        if outcome.watch_errors:  # sampling gaps, kept for the record
            result["watch_errors"] = outcome.watch_errors[:5]
        self.results.append(result)
        with (self.options.out / "runs.jsonl").open("a") as partial:  # kept if interrupted
            partial.write(json.dumps(result) + "\n")
        status = "ok" if outcome.ok else f"FAILED {outcome.exit_codes}, see logs/"
        rss = ", ".join(
            f"{role} {p['peak_rss_mib']:.0f} MiB" for role, p in sorted(outcome.processes.items())
        )
        print(
            f"  {variant:<26} N={fake.postings:<6} run {rep + 1}: {outcome.wall_s:7.2f} s, "
            f"{distinct}/{fake.postings} rows, {result['requests']} requests, {rss} [{status}]",
            flush=True,
        )

    def _log(self, name: str) -> Any:  # noqa: ANN401
        return (self.logs / name).open("ab")

    def run_meltano(self, fake: Fake, rep: int, tag: str = "") -> None:
        """``meltano run tap-usajobs target-postgres``, then the same again (incremental)."""
        variant = f"ours-meltano{tag}"
        with self.dbs.fresh(f"bench_{fake.postings}_{rep}_meltano{tag.replace('-', '_')}") as db:
            state_db = self.workdir / f"meltano-{fake.postings}-{rep}{tag}.db"
            state_db.unlink(missing_ok=True)
            env = {
                **clean_env(),
                **self.dbs.server.env(db),
                **tap_env_vars(fake.url, self.plugin_env),
                "MELTANO_DATABASE_URI": f"sqlite:///{state_db}",  # state of this run alone
                "MELTANO_SYS_DIR_ROOT": str(self.sys_dir),
            }
            self._meltano_once(fake, rep, variant, env, db)
            if not tag:  # the tiny overhead runs need no second run
                self.dbs.checkpoint()
                self._meltano_once(fake, rep, f"{variant}-incremental", env, db)

    def _meltano_once(
        self, fake: Fake, rep: int, variant: str, env: dict[str, str], db: str
    ) -> None:
        fake.control("reset-stats", method="POST")
        log_name = f"{variant}-{fake.postings}-{rep}.log"
        with self._log(log_name) as log:
            outcome = measure.run_single(
                [str(MELTANO), "run", "tap-usajobs", "target-postgres"],
                env=env,
                cwd=self.project,
                log=log,
                expected_roles={"meltano", "tap", "target"},
                timeout=RUN_TIMEOUT,
            )
        self._record(fake, variant, rep, outcome, db, target_log=self.logs / log_name)

    def _ours_tap(self, fake: Fake) -> list[str]:
        """The tap-usajobs command of ours-pipe: the config meltano would pass, for ``fake``."""
        config = self.workdir / f"tap-{fake.postings}.json"
        config.write_text(json.dumps({**self.tap_config, "base_url": fake.url}))
        return [str(self.tap_exe), "--config", str(config), "--catalog", str(self.meltano_catalog)]

    def run_ours_pipe(self, fake: Fake, rep: int, tag: str = "") -> None:
        """tap-usajobs | target-postgres: the config meltano would pass, without meltano."""
        self._pipe(fake, rep, f"ours-pipe{tag}", self._ours_tap(fake))

    def run_msdk_pipe(self, fake: Fake, rep: int) -> None:
        """tap-rest-api-msdk | target-postgres."""
        config = self.workdir / f"msdk-{fake.postings}.json"
        search_params = dict(self.tap_config.get("search_params") or {})
        config.write_text(json.dumps(msdk_config(fake.url, self.per_page, search_params)))
        self._pipe(fake, rep, "msdk-pipe", [str(MSDK_EXE), "--config", str(config)])

    def _pipe(self, fake: Fake, rep: int, variant: str, tap: list[str]) -> None:
        with self.dbs.fresh(f"bench_{fake.postings}_{rep}_{variant.replace('-', '_')}") as db:
            fake.control("reset-stats", method="POST")
            name = f"{variant}-{fake.postings}-{rep}"
            with self._log(f"{name}.tap.log") as tap_log, self._log(f"{name}.target.log") as t_log:
                outcome = measure.run_pipe(
                    tap,
                    [str(self.target_exe), "--config", str(self.target_config_path)],
                    tap_env=clean_env(),
                    target_env={**clean_env(), **self.dbs.server.env(db)},
                    cwd=self.workdir,
                    tap_log=tap_log,
                    target_log=t_log,
                    timeout=RUN_TIMEOUT,
                )
            self._record(fake, variant, rep, outcome, db, self.logs / f"{name}.target.log")

    def _replay_file(self, fake: Fake) -> Path:
        """Where the tap's Singer messages for ``fake`` are kept for target-replay."""
        return self.workdir / f"replay-{fake.postings}.jsonl"

    def capture_tap_output(self, fake: Fake) -> None:
        """Run ours-pipe's tap once, untimed, its Singer messages into _replay_file(fake).

        The same command, config and environment as ours-pipe; stops the benchmark unless
        the tap exits 0 with exactly N RECORD messages of stream ``jobs``.
        """
        messages = self._replay_file(fake)
        command = self._ours_tap(fake)
        print(f"  capturing the tap's output for target-replay (N={fake.postings})", flush=True)
        log_name = f"target-replay-{fake.postings}-capture.tap.log"
        with messages.open("wb") as out, self._log(log_name) as log:
            try:
                code = subprocess.run(  # noqa: S603
                    command,
                    cwd=self.workdir,
                    env=clean_env(),
                    stdout=out,
                    stderr=log,
                    timeout=RUN_TIMEOUT,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                code = -9
        if code != 0:
            sys.exit(
                f"target-replay: capturing the tap's output failed (exit {code}): "
                f"`{shlex.join(command)}`; see {self.logs / log_name}"
            )
        records = count_records(messages, "jobs")
        if records != fake.postings:
            sys.exit(
                f"target-replay: the tap's captured output has {records} RECORD messages of "
                f"stream jobs, not N = {fake.postings}; see {self.logs / log_name}"
            )
        size_mib = messages.stat().st_size / 2**20
        print(f"  captured {records} records, {size_mib:,.0f} MiB", flush=True)

    def run_target_replay(self, fake: Fake, rep: int) -> None:
        """target-postgres alone, reading the tap's captured output from a file.

        No tap, no meltano, no HTTP at the same time: the least time any pipeline that
        loads through target-postgres can take for this stream. Same executable and config
        as the pipes; the fake's counter is reset and read as for them (so 0 requests).
        """
        with self.dbs.fresh(f"bench_{fake.postings}_{rep}_target_replay") as db:
            fake.control("reset-stats", method="POST")
            log_name = f"target-replay-{fake.postings}-{rep}.target.log"
            with self._log(log_name) as log, self._replay_file(fake).open("rb") as messages:
                outcome = measure.run_single(
                    [str(self.target_exe), "--config", str(self.target_config_path)],
                    env={**clean_env(), **self.dbs.server.env(db)},
                    cwd=self.workdir,
                    log=log,
                    expected_roles={"target"},
                    timeout=RUN_TIMEOUT,
                    capture_stdout=True,  # its STATE messages, read as in the pipes
                    stdin=messages,
                )
            self._record(fake, "target-replay", rep, outcome, db, self.logs / log_name)

    def run_floor(self, fake: Fake, rep: int) -> None:
        """bench/floor.py: fetch all pages, then COPY."""
        with self.dbs.fresh(f"bench_{fake.postings}_{rep}_floor") as db:
            fake.control("reset-stats", method="POST")
            command = [
                str(PYTHON), str(FLOOR), "--base-url", fake.url, "--catalog", str(self.catalog),
                "--tap-src", str(self.project / "tap-usajobs"),
                "--concurrency", str(self.concurrency), "--results-per-page", str(self.per_page),
                "--search-params", json.dumps(self.tap_config.get("search_params") or {}),
            ]  # fmt: skip
            with self._log(f"floor-{fake.postings}-{rep}.log") as log:
                outcome = measure.run_single(
                    command,
                    env={**clean_env(), **self.dbs.server.env(db)},
                    cwd=ROOT,
                    log=log,
                    expected_roles={"floor"},
                    timeout=RUN_TIMEOUT,
                    capture_stdout=True,
                )
            phases = json.loads(outcome.stdout.strip().splitlines()[-1]) if outcome.ok else {}
            # The floor is its two phases; the process wall (startup, DDL) is kept too.
            process_wall = outcome.wall_s
            if phases:
                outcome.wall_s = phases["floor_s"]
            self._record(
                fake, "floor", rep, outcome, db,
                process_wall_s=round(process_wall, 3), phases=phases,
            )  # fmt: skip

    def run_variants(self, fake: Fake) -> None:
        """Every variant ``runs`` times, the order rotated per round so drift spreads evenly."""
        steps: dict[str, Callable[[Fake, int], None]] = {
            "ours-meltano": self.run_meltano,
            "ours-pipe": self.run_ours_pipe,
            "msdk-pipe": self.run_msdk_pipe,
            "floor": self.run_floor,
            "target-replay": self.run_target_replay,
        }
        order = [v for v in VARIANTS if v in self.options.variants]
        try:
            if "target-replay" in order:  # its input, before any timed run
                self.capture_tap_output(fake)
            for rep in range(self.options.runs):
                shift = rep % len(order)
                for variant in order[shift:] + order[:shift]:
                    steps[variant](fake, rep)
        finally:  # ~300 MB at N = 20,000
            self._replay_file(fake).unlink(missing_ok=True)

    def run_overhead(self, fake: Fake) -> None:
        """Run `meltano run` and the plain pipe on a tiny workload: meltano's fixed cost."""
        for rep in range(self.options.runs):
            self.run_meltano(fake, rep, tag="-tiny")
            self.run_ours_pipe(fake, rep, tag="-tiny")


# --- the invocation ------------------------------------------------------------------------


def parse_args(argv: list[str]) -> Options:
    """Command line to Options."""
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=__doc__.split("\n\n")[0],
        epilog="Example: .venv/bin/python bench/run.py --sizes 20000 --runs 5 "
        "--source worktree --env TAP_USAJOBS_MAX_CONCURRENT_REQUESTS=8",
    )
    parser.add_argument("--quick", action="store_true", help="N=1,000, 1 run: a smoke test")
    parser.add_argument("--sizes", help="comma-separated N (default 5000,20000,40000)")
    parser.add_argument("--runs", type=int, help="runs per variant and N (default 3)")
    parser.add_argument("--detail-kb", type=int, default=15, help="posting size (default 15)")
    parser.add_argument("--latency-ms", type=int, default=100, help="per request (default 100)")
    parser.add_argument("--tiny", type=int, default=10, help="N of the meltano-overhead runs")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"subset of {','.join(VARIANTS)}"
    )
    parser.add_argument(
        "--source",
        default="HEAD",
        help="what to measure: a git ref (default HEAD, exported read-only) or 'worktree'",
    )
    parser.add_argument("--floor-concurrency", type=int, help="default: the tap's setting")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="a TAP_USAJOBS_* or TARGET_POSTGRES_* setting, in meltano and pipe runs alike "
        "(the target's reaches the msdk pipe too; repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--toast", choices=("pglz", "lz4"), help="default_toast_compression of every database"
    )
    parser.add_argument("--out", type=Path, help="results folder (default bench/results/<UTC>)")
    parser.add_argument(
        "--update-doc", nargs="?", const=report.DEFAULT_DOC, type=Path,
        help="replace the generated section of docs/performance.md (or of PATH)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    plugin_env = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith(ENV_PREFIXES):
            parser.error(f"--env wants {'|'.join(ENV_PREFIXES)}NAME=VALUE, got {item!r}")
        plugin_env[name] = value
    if args.sizes:
        sizes = tuple(int(size) for size in args.sizes.split(","))
    else:
        sizes = QUICK_SIZES if args.quick else FULL_SIZES
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Options(
        sizes=sizes,
        runs=args.runs or (1 if args.quick else 3),
        detail_kb=args.detail_kb,
        latency_ms=args.latency_ms,
        tiny=args.tiny,
        variants=variants,
        floor_concurrency=args.floor_concurrency,
        plugin_env=plugin_env,
        toast=args.toast,
        source=args.source,
        out=(args.out or BENCH / "results" / (stamp + ("-quick" if args.quick else ""))).resolve(),
        update_doc=args.update_doc,
        quick=args.quick,
        argv=argv,
    )


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write results.json, runs.jsonl, report.md and logs/."""
    options = parse_args(sys.argv[1:] if argv is None else argv)
    # SIGTERM unwinds like Ctrl-C: runs are killed, the fake and PostgreSQL stopped, the
    # temporary folder removed, and runs.jsonl keeps what was measured.
    signal.signal(signal.SIGTERM, _stop)
    if not MELTANO.exists():
        sys.exit("The project venv is missing: run `make install` first.")
    if "msdk-pipe" in options.variants:
        ensure_msdk_venv()
    options.out.mkdir(parents=True, exist_ok=True)
    print(f"Results go to {options.out}", flush=True)
    started = time.time()
    meta: dict[str, Any] = {
        "command": shlex.join(["bench/run.py", *options.argv]),
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_start": os.getloadavg(),
        "workload": {
            "sizes": options.sizes,
            "runs": options.runs,
            "detail_kb": options.detail_kb,
            "latency_ms": options.latency_ms,
            "tiny": options.tiny,
        },
    }
    with tempfile.TemporaryDirectory(prefix="usajobs-bench-") as tmp:
        workdir = Path(tmp)
        project, meta["git"] = prepare_project(options.source, workdir)
        with devenv.postgres(workdir / "pgdata") as server:
            dbs = Databases(server, options.toast)
            meta["postgres"] = dbs.describe()
            bench = Bench(options, dbs, project, workdir)
            meta["machine"] = machine_info(bench.tap_exe, bench.target_exe)
            meta["floor_concurrency"] = {
                "value": bench.concurrency,
                "source": bench.concurrency_source,
            }
            meta["workload"]["plugin_env"] = bench.plugin_env
            meta["tap_config"] = {k: v for k, v in bench.tap_config.items() if k != "api_key"}
            meta["target_config"] = {
                k: v for k, v in bench.target_config.items() if k != "sqlalchemy_url"
            }
            # --quick skips this: the same two code paths run at N anyway, and it keeps the
            # smoke test under a minute.
            if not options.quick and {"ours-meltano", "ours-pipe"} <= set(options.variants):
                print(f"meltano's fixed cost: N={options.tiny}", flush=True)
                with fake_api(
                    project, options.tiny, options.detail_kb, options.latency_ms, workdir
                ) as fake:
                    bench.run_overhead(fake)
            meta["posting_kb"] = {}
            for size in options.sizes:
                print(f"N={size}: starting the fake API", flush=True)
                with fake_api(
                    project, size, options.detail_kb, options.latency_ms, workdir
                ) as fake:
                    meta["posting_kb"][size] = round(fake.posting_kb(bench.per_page), 1)
                    bench.run_variants(fake)
    meta["finished_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    meta["duration_s"] = round(time.time() - started, 1)
    meta["loadavg_end"] = os.getloadavg()
    document = {"meta": meta, "runs": bench.results}
    (options.out / "results.json").write_text(json.dumps(document, indent=1))
    markdown = report.render(document)
    (options.out / "report.md").write_text(markdown)
    print("\n" + markdown)
    if options.update_doc:
        report.update_doc(options.update_doc, markdown)
        print(f"Updated {options.update_doc}")
    failed = [r for r in bench.results if any(code != 0 for code in r["exit_codes"].values())]
    if failed:
        print(f"{len(failed)} run(s) failed; see {options.out / 'logs'}.")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
