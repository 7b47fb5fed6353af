"""A run as a newcomer reads it: one line per stage, the full log in a file.

`make demo` and `make run` start the runtime (orchestrate/run.py), whose output is
Meltano's and dbt's full log, some 500 lines. This keeps that log in a file and shows
one line per stage, with its counts and elapsed time. On a terminal the running stage's
line is redrawn as the log comes in (requests so far); elsewhere each stage prints once,
when it ends. Stdlib only.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

#: The runtime's "starting: <command>" lines, by what the command does.
STAGES = (
    (re.compile(r"starting: .* --test=schema"), "settings checked"),
    (re.compile(r"starting: .* run .*tap-usajobs target-postgres"), "extracted and loaded"),
    (re.compile(r"starting: .* run .*dbt-postgres:"), "transformed"),
)
_REQUEST = re.compile(r"metric_name=http_request_duration\b")
_TAP_SUMMARY = re.compile(r"Sync \w+ in [\d.]+ s: (\d+) records .*?, (\d+) requests, (\d+) retries")
_DBT_DONE = re.compile(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+)")


@dataclass
class Stage:
    """One stage of the run: its name, when it started, and what it reported."""

    name: str
    started: float
    requests: int = 0
    detail: str = ""


@dataclass
class Progress:
    """Reads the runtime's log line by line and writes the stage lines to ``out``."""

    out: TextIO
    live: bool
    clock: Callable[[], float] = time.monotonic
    stage: Stage | None = None
    _width: int = 0

    def feed(self, line: str) -> None:
        """Take one line of the log."""
        for pattern, name in STAGES:
            if pattern.search(line):
                self._end_stage()
                self.stage = Stage(name, self.clock())
                break
        else:
            self._note(line)
        if self.live and self.stage:
            self._draw(f"  … {self._describe(self.stage)}", end="")

    def finish(self, code: int) -> None:
        """The run ended with ``code``: close the last stage, marked failed if it did."""
        self._end_stage(failed=code != 0)

    def _note(self, line: str) -> None:
        stage = self.stage
        if stage is None:
            return
        if _REQUEST.search(line):
            stage.requests += 1
        if summary := _TAP_SUMMARY.search(line):
            records, requests, retries = (int(group) for group in summary.groups())
            stage.detail = f"{records:,} records, {requests:,} requests, {retries:,} retries"
        elif done := _DBT_DONE.search(line):
            passed, warned, errors = (int(group) for group in done.groups())
            stage.detail = f"{passed:,} models and tests passed, {warned} warnings, {errors} errors"

    def _describe(self, stage: Stage) -> str:
        detail = stage.detail or (f"{stage.requests:,} requests" if stage.requests else "")
        elapsed = f"{self.clock() - stage.started:.1f} s"
        return f"{stage.name}{': ' + detail if detail else ''} ({elapsed})"

    def _end_stage(self, *, failed: bool = False) -> None:
        if self.stage is not None:
            mark = "✗" if failed else "✓"
            self._draw(f"  {mark} {self._describe(self.stage)}", end="\n")
            self.stage = None

    def _draw(self, text: str, end: str) -> None:
        if self.live:
            # Redraw in place: back to the line's start, overwrite, blank what is left.
            self.out.write("\r" + text.ljust(self._width))
            self._width = 0 if end else len(text)
        else:
            self.out.write(text)
        self.out.write(end)
        self.out.flush()


def run(command: Sequence[str], env: dict[str, str], log: Path, out: TextIO, cwd: Path) -> int:
    """Run ``command`` with its output in ``log``; stage lines on ``out``; its exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    progress = Progress(out=out, live=out.isatty())
    out.write(f"Full log: {log}\n")
    with (
        log.open("w") as file,
        subprocess.Popen(  # noqa: S603
            list(command),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process,
    ):
        assert process.stdout is not None  # noqa: S101  # PIPE above
        for line in process.stdout:
            file.write(line)
            progress.feed(line.rstrip("\n"))
        code = process.wait()
    progress.finish(code)
    return code
