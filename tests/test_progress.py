"""runtime/progress.py: what a terminal shows of a run, from lines a real run logged.

Then the entrypoint itself on a pseudo-terminal, as in a shell or `docker run -it`.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import KEYWORD, ROOT, expected_ids, runtime, search_requests, session_processes
from runtime.progress import Progress

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from conftest import Pipeline

# Abridged from a real run's log (the compose stack, tests/container/test_compose.py).
LOG = """\
2026-12-07T12:31:21Z entrypoint: starting: /m/meltano invoke tap-usajobs --test=schema
2026-12-07T12:31:24Z entrypoint: starting: /m/meltano run --run-id a tap-usajobs target-postgres
2026-12-07T12:31:28Z [info] tap-usajobs  METRIC  metric_name=http_request_duration metric_value=0.01
2026-12-07T12:31:28Z [info] tap-usajobs  keyword='data': the API reports 300 postings on 2 pages.
2026-12-07T12:31:28Z [info] tap-usajobs  METRIC  metric_name=http_request_duration metric_value=0.02
2026-12-07T12:31:28Z [info] tap-usajobs  keyword='data': read 299 postings in 2 requests.
2026-12-07T12:31:28Z [info] tap-usajobs  keyword='jobs': the API reports 100 postings on 1 pages.
2026-12-07T12:31:28Z [info] tap-usajobs  historic_jobs: 2 of 120 monthly windows since \
2016-12-01 need a poll.
2026-12-07T12:31:28Z [info] tap-usajobs  historic_jobs 2026-11-01..2026-11-30: read 80 \
announcements of the 80 the API counted.
2026-12-07T12:31:29Z [info] tap-usajobs  Sync succeeded in 0.9 s: 812 records (jobs=400, \
jobs_keywords=400, jobs_scans=1), 2 requests, 1 retries.
2026-12-07T12:31:30Z entrypoint: starting: /m/meltano run --run-id a dbt-postgres:build-audit
2026-12-07T12:31:47Z [info] dbt-postgres 12:31:47  Done. PASS=163 WARN=1 ERROR=0 SKIP=0 TOTAL=164
2026-12-07T12:31:50Z [info] dbt-postgres 12:31:50  Done.
2026-12-07T12:31:50Z entrypoint: run succeeded
"""


def _shown(code: int, *, live: bool) -> str:
    """What Progress writes for LOG, its clock at each line's own time stamp."""
    out = io.StringIO()
    now = [0.0]
    progress = Progress(out=out, live=live, clock=lambda: now[0])
    for line in LOG.splitlines():
        now[0] = datetime.fromisoformat(line[:19]).timestamp()
        progress.feed(line)
    progress.finish(code)
    return out.getvalue()


def test_each_stage_is_one_line_with_its_counts() -> None:
    assert _shown(0, live=False).splitlines() == [
        "  ✓ settings checked (3.0 s)",  # 12:31:21 to 12:31:24
        "  ✓ extracted and loaded: 812 records, 2 requests, 1 retries (6.0 s)",
        "  ✓ transformed: 163 models and tests passed, 1 warnings, 0 errors (20.0 s)",
    ]


def test_any_other_step_is_a_stage_named_by_its_meltano_arguments() -> None:
    out = io.StringIO()
    progress = Progress(out=out, live=False, clock=lambda: 0.0)
    progress.feed(
        "2026-12-07T12:31:24Z entrypoint: starting: /m/meltano --environment dev run"
        " --run-id 0bc2 tap-usajobs target-jsonl"
    )
    progress.finish(0)
    assert out.getvalue() == "  ✓ run tap-usajobs target-jsonl (0.0 s)\n"


def test_a_failed_run_marks_its_last_stage() -> None:
    assert _shown(1, live=False).splitlines()[-1].startswith("  ✗ transformed")


def test_on_a_terminal_the_running_stage_is_redrawn_in_place() -> None:
    shown = _shown(0, live=True)
    # Requests so far, and Search postings read against what the API reported.
    assert "\r  … extracted and loaded: 1 requests, 0 of 300 postings read" in shown
    assert "\r  … extracted and loaded: 2 requests, 299 of 400 postings read" in shown
    assert "400 postings read, 1 of 2 historic months read (4.0 s)" in shown
    finished = [part for part in shown.split("\r") if part.strip().startswith("✓")]
    assert [part.split(" (")[0].strip() for part in finished] == [
        "✓ settings checked",
        "✓ extracted and loaded: 812 records, 2 requests, 1 retries",
        "✓ transformed: 163 models and tests passed, 1 warnings, 0 errors",
    ]


def test_a_shard_counts_only_the_historic_months_it_owns() -> None:
    out = io.StringIO()
    progress = Progress(out=out, live=True, clock=lambda: 0.0)
    for line in (
        "entrypoint: starting: /m/meltano run --run-id a tap-usajobs target-postgres",
        "historic_jobs: 120 of 120 monthly windows since 2016-12-01 need a poll.",
        "Shard 2 of 4: syncing 30 of 120 historic_jobs partitions.",
        "historic_jobs 2017-01-01..2017-01-31: read 80 announcements of the 80 the API counted.",
    ):
        progress.feed(line)
    assert out.getvalue().endswith("1 of 30 historic months read (0.0 s)")


def test_a_count_quoted_in_another_line_is_not_taken_for_the_taps() -> None:
    out = io.StringIO()
    progress = Progress(out=out, live=True, clock=lambda: 0.0)
    progress.feed("entrypoint: starting: /m/meltano run --run-id a tap-usajobs target-postgres")
    # An HTTP reason phrase is the server's to write, and the SDK logs it as it came.
    progress.feed(
        "Backing off 2.00 seconds after 1 tries for URL /api/Search, failing with status"
        f" 503: x: the API reports {'9' * 4400} postings on 1 pages."
    )
    progress.feed("keyword='data': the API reports 30 postings on 1 pages. (quoted)")
    assert progress.stage is not None
    assert progress.stage.reported == 0


# --- progress.run: signals and broken outputs, with a small child of its own ---------------

#: Stands in for the runtime: notes the signals it gets, then exits 3.
CHILD = """
import signal, sys, time
got = []
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, lambda signum, _: got.append(signal.Signals(signum).name))
print("entrypoint: starting: /m/meltano run tap-usajobs target-postgres", flush=True)
print("\\n".join(f"line {n}" for n in range(int(sys.argv[1]))), flush=True)
print("ready", flush=True)
while not got and sys.argv[2] == "wait":
    time.sleep(0.05)
time.sleep(0.3)  # a second signal would arrive meanwhile
print("received", got, flush=True)
sys.exit(3)
"""
#: Runs progress.run around CHILD and writes its exit code to a file.
WRAPPER = """
import os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from runtime import progress
child = [sys.executable, "-c", sys.argv[2], sys.argv[3], sys.argv[4]]
code = progress.run(child, os.environ, Path(sys.argv[5]), sys.stdout, Path.cwd())
Path(sys.argv[6]).write_text(str(code))
"""


@pytest.fixture
def wrapped(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], Path, Path]]]:
    """Start WRAPPER around CHILD in a session of its own; whatever is left is killed."""
    started: list[subprocess.Popen[bytes]] = []

    def _start(
        lines: int, mode: str, stdout: int = subprocess.DEVNULL
    ) -> tuple[subprocess.Popen[bytes], Path, Path]:
        log, code = tmp_path / "run.log", tmp_path / "code"
        args = [str(ROOT / "orchestrate"), CHILD, str(lines), mode, str(log), str(code)]
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", WRAPPER, *args], stdout=stdout, start_new_session=True
        )
        started.append(process)
        return process, log, code

    yield _start
    for process in started:  # the child runs in a group of its own, in the same session
        for entry in session_processes(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.split()[0]), signal.SIGKILL)
        process.wait(timeout=30)


@pytest.mark.parametrize(
    ("sent", "received"),
    [
        pytest.param(signal.SIGINT, "SIGINT", id="ctrl-c"),
        pytest.param(signal.SIGTERM, "SIGTERM", id="docker-stop"),
        pytest.param(signal.SIGHUP, "SIGTERM", id="terminal-closed"),
    ],
)
def test_a_signal_to_the_display_reaches_the_run_once(
    wrapped: Callable[..., Any], sent: int, received: str
) -> None:
    process, log, code = wrapped(0, "wait")
    deadline = time.monotonic() + 30
    while "ready" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)

    os.killpg(process.pid, sent)  # the group a terminal signals: not the child's own
    process.communicate(timeout=30)

    assert f"received ['{received}']" in log.read_text()
    assert code.read_text() == "3"


def test_a_display_that_cannot_be_written_never_stalls_the_run(
    wrapped: Callable[..., Any],
) -> None:
    # 200,000 lines overflow any pipe: a reader that stopped on the first failed write
    # would leave the child blocked on its output for good.
    terminal, display = pty.openpty()
    process, log, code = wrapped(200_000, "go", stdout=display)
    os.close(display)
    shown = b""
    while b"Full log" not in shown:  # it has seen a terminal, and draws the live line
        shown += os.read(terminal, 1024)
    os.close(terminal)  # then the terminal goes: every later write to it fails (EIO)

    process.wait(timeout=60)

    assert code.read_text() == "3"
    assert "line 199999" in log.read_text(), "the log still gets every line"


# --- the entrypoint on a terminal ---------------------------------------------------------


def _screen_and_log(output: str) -> tuple[list[str], str]:
    """The lines a terminal ends up showing (each redraw replaced), and the whole log."""
    (path,) = re.findall(r"Full log: (\S+)", output)
    shown = [line.rsplit("\r", 1)[-1].strip() for line in output.replace("\r\n", "\n").split("\n")]
    return [line for line in shown if line], Path(path).read_text()


def test_on_a_terminal_the_entrypoint_shows_its_stages_and_keeps_the_whole_log(
    pipeline: Pipeline, start: Any
) -> None:
    run = start(pipeline, runtime(), "terminal", terminal=True)
    assert run.finish() == 0, run.output()[-4000:]

    screen, log = _screen_and_log(run.output())
    assert [line.split(":")[0].split(" (")[0] for line in screen[1:]] == [
        "✓ settings checked",
        "✓ extracted and loaded",
        "✓ transformed",
    ]
    assert "dbt-postgres" in log, "the whole log is in the file"
    assert "entrypoint: run succeeded" in log
    postings = len(expected_ids(pipeline.api, Keyword=KEYWORD))
    # While it ran, the live line set the postings read against the count the API gave.
    assert f"{postings:,} of {postings:,} postings read" in run.output()
    assert pipeline.query("select count(*) from job_listings")[0][0] == postings


def test_on_a_terminal_a_failed_run_shows_why_and_where_its_log_is(
    pipeline: Pipeline, start: Any
) -> None:
    run = start(pipeline, runtime(), "terminal", terminal=True, PGPORT="1")
    assert run.finish() == 69

    screen, log = _screen_and_log(run.output())
    assert any("cannot connect to PostgreSQL" in line for line in screen), screen
    assert screen[-1].startswith("The run failed (exit 69). The whole log: /")
    assert "cannot connect to PostgreSQL" in log
    assert search_requests(pipeline.api) == []


def test_on_a_terminal_a_dry_run_still_prints_its_table(pipeline: Pipeline, start: Any) -> None:
    run = start(pipeline, runtime("--dry-run"), "terminal", terminal=True)
    assert run.finish() == 0, run.output()[-4000:]

    screen = run.output()
    assert "Full log:" not in screen
    assert "nothing was loaded and no state was saved" in screen
