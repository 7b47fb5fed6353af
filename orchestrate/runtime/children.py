"""Running meltano as a child: one at a time, in its own process group, signals passed on.

Meltano 4.4.1+ stops the running block by signalling its plugins once: the target then
commits what it has, emits the matching state, and meltano saves it. So SIGTERM and
SIGINT sent to this process go to meltano alone, once. Meltano runs in a process group
of its own, so a terminal's Ctrl-C reaches only this process, which passes it on:
signalling the whole group instead would hand the target a second signal while it
drains, and abort that commit. Before the first child starts, a signal stops the run at
once (exit 128+N); between two children, it keeps the next one from starting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import typing as t
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from types import FrameType

    from runtime.logs import Log

SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: Popen's arguments for a child that leads a process group of its own (Python 3.10 too).
OWN_PROCESS_GROUP: dict[str, t.Any] = (
    {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
)


class StoppedError(Exception):
    """A signal arrived while no child was running."""

    def __init__(self, signum: int) -> None:
        """Remember which signal."""
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell convention: 128 plus the signal number."""
        return 128 + self.signum


@dataclass
class Outcome:
    """How a child ended, and which of the watched phrases its stderr held."""

    code: int
    seen: set[str] = field(default_factory=set)


class Children:
    """Runs commands one after another; owns SIGTERM and SIGINT while it exists."""

    def __init__(self, log: Log) -> None:
        """Take over SIGTERM and SIGINT."""
        self.log = log
        self._child: subprocess.Popen[bytes] | None = None
        #: Set while a child runs; a signal then is passed on instead of raised.
        self.stop_requested: int | None = None
        for signum in SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name.removeprefix("SIG")
        if self._child is None:
            raise StoppedError(signum)
        self.stop_requested = signum
        self.log(f"received {name}, stopping the run")
        self._child.send_signal(signum)

    def run(
        self,
        command: list[str],
        env: Mapping[str, str] | None = None,
        *,
        watch: Iterable[str] = (),
        on_stdout: Callable[[str], None] | None = None,
    ) -> Outcome:
        """Run ``command`` to its end; its stderr is passed through and scanned for ``watch``.

        With ``on_stdout``, each line of its stdout goes there instead of to ours.
        """
        if self.stop_requested is not None:
            raise StoppedError(self.stop_requested)
        self.log(f"starting: {' '.join(command)}")
        outcome = Outcome(code=0)
        phrases = tuple(watch)
        child = subprocess.Popen(  # noqa: S603  # our own meltano and helpers
            command,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE if on_stdout else None,
            **OWN_PROCESS_GROUP,
        )
        self._child = child
        assert child.stderr is not None  # noqa: S101  # for type checkers
        tee = threading.Thread(target=_tee, args=(child.stderr, phrases, outcome.seen), daemon=True)
        tee.start()
        try:
            if on_stdout and child.stdout is not None:
                for line in child.stdout:
                    on_stdout(line.decode(errors="replace"))
            code = child.wait()
        finally:
            self._child = None
        tee.join()
        outcome.code = 128 - code if code < 0 else code
        return outcome


def _tee(stream: t.IO[bytes], phrases: tuple[str, ...], seen: set[str]) -> None:
    """Copy a child's stderr to ours, noting which ``phrases`` appear in it."""
    out = sys.stderr.buffer
    for line in stream:
        out.write(line)
        out.flush()
        if phrases:
            text = line.decode(errors="replace")
            seen.update(phrase for phrase in phrases if phrase in text)
