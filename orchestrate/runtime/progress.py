"""A run as a newcomer reads it: one line per stage, the full log in a file.

A run's output is Meltano's and dbt's full log, some 500 lines. `make demo`, `make run`
and the runtime itself when its stderr is a terminal (`docker run -it`, a shell) keep
that log in a file and show one line per stage, with its counts and elapsed time. On a
terminal the running stage's line is redrawn as the log comes in: requests so far,
Search postings read against the total the API reported for each query, and the
historic month windows read of those due (a backfill's); elsewhere each stage prints
once, when it ends. Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from runtime.children import OWN_PROCESS_GROUP

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path
    from types import FrameType

#: The runtime's "starting: <command>" lines, by what the command does.
STAGES = (
    (re.compile(r"starting: .* --test=schema"), "settings checked"),
    (re.compile(r"starting: .* run .*tap-usajobs target-postgres"), "extracted and loaded"),
    (re.compile(r"starting: .* run .*dbt-postgres:"), "transformed"),
)
#: Any other command the runtime starts is a stage named by its meltano arguments.
_STARTING = re.compile(r"entrypoint: starting: \S+ (.*)$")
_OPTIONS_WITH_VALUES = {"--environment", "--log-config", "--run-id", "--state-id-suffix"}
_REQUEST = re.compile(r"metric_name=http_request_duration\b")
#: The tap's lines at the start and the end of each Search query (tap_usajobs/search.py),
#: and of a historic stream's month windows (tap_usajobs/historic.py). Anchored at the
#: line's end and bounded in digits: other lines (an HTTP reason phrase) may quote them.
_REPORTED = re.compile(r": the API reports (\d{1,15}) postings on (?:\d{1,15}|None) pages\.$")
_READ = re.compile(r": read (\d{1,15}) postings in \d{1,15} requests\.$")
#: A stream name starts at a word's start: tried from inside every word, a long line of
#: letters (a server's reason phrase) would take seconds to search, stalling the run.
_WINDOWS_DUE = re.compile(
    r"(?<!\w)(\w+): (\d{1,15}) of \d{1,15} monthly windows since \S+ need a poll\.$"
)
#: A sharded run's share of a stream's partitions (tap_usajobs/client.py), after the above.
_SHARD = re.compile(r"Shard \d+ of \d+: syncing (\d{1,15}) of \d{1,15} (\w+) partitions\.$")
_WINDOW_READ = re.compile(
    r": read \d{1,15} announcements of the (?:\d{1,15}|None) the API counted\.$"
)
_TAP_SUMMARY = re.compile(
    r"Sync \w+ in [\d.]+ s: (\d{1,15}) records .*?, (\d{1,15}) requests, (\d{1,15}) retries"
)
_DBT_DONE = re.compile(r"Done\. PASS=(\d{1,15}) WARN=(\d{1,15}) ERROR=(\d{1,15})")


@dataclass
class Stage:
    """One stage of the run: its name, when it started, and what it reported."""

    name: str
    started: float
    requests: int = 0
    reported: int = 0  # postings, summed over the Search queries begun
    read: int = 0  # postings, summed over the Search queries finished
    #: Historic month windows to read, by stream (this shard's, when sharded).
    windows_due: dict[str, int] = field(default_factory=dict)
    windows_read: int = 0
    detail: str = ""


def _stage_name(line: str) -> str | None:
    """The stage a "starting: <command>" line begins; None for any other line."""
    started = _STARTING.search(line)
    if started is None:
        return None
    for pattern, name in STAGES:
        if pattern.search(line):
            return name
    words, kept = iter(started.group(1).split()), []
    for word in words:
        if word in _OPTIONS_WITH_VALUES:
            next(words, None)
        else:
            kept.append(word)
    return " ".join(kept)


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
        if name := _stage_name(line):
            self._end_stage()
            self.stage = Stage(name, self.clock())
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
        elif reported := _REPORTED.search(line):
            stage.reported += int(reported.group(1))
        elif read := _READ.search(line):
            stage.read += int(read.group(1))
        elif due := _WINDOWS_DUE.search(line):
            stage.windows_due[due.group(1)] = int(due.group(2))
        elif (share := _SHARD.search(line)) and share.group(2) in stage.windows_due:
            stage.windows_due[share.group(2)] = int(share.group(1))
        elif _WINDOW_READ.search(line):
            stage.windows_read += 1
        if summary := _TAP_SUMMARY.search(line):
            records, requests, retries = (int(group) for group in summary.groups())
            stage.detail = f"{records:,} records, {requests:,} requests, {retries:,} retries"
        elif done := _DBT_DONE.search(line):
            passed, warned, errors = (int(group) for group in done.groups())
            stage.detail = f"{passed:,} models and tests passed, {warned} warnings, {errors} errors"

    def _describe(self, stage: Stage) -> str:
        detail = stage.detail or ", ".join(
            part
            for part in (
                f"{stage.requests:,} requests" if stage.requests else "",
                f"{stage.read:,} of {stage.reported:,} postings read" if stage.reported else "",
                f"{stage.windows_read:,} of {sum(stage.windows_due.values()):,} historic months"
                " read"
                if stage.windows_due
                else "",
            )
            if part
        )
        elapsed = f"{self.clock() - stage.started:.1f} s"
        return f"{stage.name}{': ' + detail if detail else ''} ({elapsed})"

    def _columns(self) -> int | None:
        """The terminal's width, if ``out`` is one that knows it."""
        try:
            return os.get_terminal_size(self.out.fileno()).columns or None
        except (AttributeError, OSError, ValueError):
            return None

    def _end_stage(self, *, failed: bool = False) -> None:
        if self.stage is not None:
            mark = "✗" if failed else "✓"
            self._draw(f"  {mark} {self._describe(self.stage)}", end="\n")
            self.stage = None

    def _draw(self, text: str, end: str) -> None:
        if self.live:
            # Redraw in place: back to the line's start, overwrite, blank what is left.
            # A line longer than the terminal would wrap, and "\r" go back one row only.
            if columns := self._columns():
                text = text[: columns - 1]
            self.out.write("\r" + text.ljust(self._width))
            self._width = 0 if end else len(text)
        else:
            self.out.write(text)
        self.out.write(end)
        self.out.flush()


#: What each signal sent here is passed on as: SIGHUP (the terminal went away) as SIGTERM,
#: on which the runtime stops cleanly (it does not handle SIGHUP itself).
_FORWARDED: dict[int, int] = {
    signal.SIGTERM: signal.SIGTERM,
    signal.SIGINT: signal.SIGINT,
    signal.SIGHUP: signal.SIGTERM,
}
TAIL_LINES = 15


class _Relay:
    """A signal handler that passes signals on to the child, or keeps them until it exists."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.pending: list[int] = []

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.child is None:
            self.pending.append(_FORWARDED[signum])
        else:
            self.child.send_signal(_FORWARDED[signum])

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child
        for signum in self.pending:
            child.send_signal(signum)


def run(command: Sequence[str], env: Mapping[str, str], log: Path, out: TextIO, cwd: Path) -> int:
    """Run ``command`` with its output in ``log``; stage lines on ``out``; its exit code.

    The command runs in a process group of its own, and SIGTERM, SIGINT and SIGHUP sent
    here are passed on to it once, as the runtime passes them to meltano (children.py):
    a terminal's Ctrl-C then reaches it exactly once. Writing the log or the terminal is
    best effort (a full disk or a closed terminal must not stop reading, or the run
    would block on a full pipe); on any other error the run is stopped, and its output
    read to the end, before the error goes on. On failure the log's last lines are shown.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    progress = Progress(out=out, live=out.isatty())
    _best_effort(out.write, f"Full log: {log}\n")
    _best_effort(out.flush)
    relay = _Relay()
    previous = {signum: signal.signal(signum, relay) for signum in _FORWARDED}
    try:
        with (
            log.open("wb", buffering=0) as file,  # unbuffered: `tail -f` sees each line
            subprocess.Popen(  # noqa: S603
                list(command),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,  # in a process group of its own: never the terminal
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                **OWN_PROCESS_GROUP,
            ) as process,
        ):
            relay.attach(process)
            assert process.stdout is not None  # noqa: S101  # PIPE above
            try:
                for raw in process.stdout:
                    _best_effort(file.write, raw)
                    with contextlib.suppress(Exception):  # the display must never stop a run
                        progress.feed(raw.decode(errors="replace").rstrip("\n"))
            except BaseException:
                process.terminate()
                for _ in process.stdout:  # so that it can write its way to its end
                    pass
                raise
            code = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    code = 128 - code if code < 0 else code
    _best_effort(progress.finish, code)
    if code != 0:
        tail = log.read_text(errors="replace").splitlines()[-TAIL_LINES:]
        message = "\n".join(
            ["", *tail, "", f"The run failed (exit {code}). The whole log: {log}\n"]
        )
        _best_effort(out.write, message)
        _best_effort(out.flush)
    return code


def _best_effort(write: Callable[..., object], *args: object) -> None:
    """Write to a terminal or a file that may be gone, full, or unable to encode."""
    with contextlib.suppress(OSError, UnicodeError):
        write(*args)
