"""Run one pipeline and measure it: wall time, peak RSS and CPU time of each process.

Two ways to get a process's peak resident set size (RSS):

- exact, for processes the harness starts itself (the plain ``tap | target`` pipes,
  target-postgres replaying a file, and bench/floor.py): ``os.wait4`` returns the child's
  ``ru_maxrss`` and CPU times;
- sampled, for the tap and target that ``meltano run`` starts: a thread reads
  ``/proc/<pid>/status`` ``VmHWM`` (the kernel's own high-water mark of the RSS, so a
  short spike between two samples is not lost) and ``/proc/<pid>/stat`` CPU ticks every
  50 ms, and keeps the last reading before the process exits. Only growth within the
  last 50 ms of a process's life can be missed. The pipes are sampled as well, so each
  report shows how close sampling comes to wait4 on the same kind of process.

Processes are told apart by their command line (``tap-usajobs``, ``target-postgres``, ...);
descendants are found through the parent pid in ``/proc/<pid>/stat``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self

SAMPLE_SECONDS = 0.05
RESCAN_SECONDS = 1.0  # once every expected role is found, look for new processes rarely
_TICKS = os.sysconf("SC_CLK_TCK")
#: Roles by executable name: the name of argv[0] or, for Python scripts, of argv[1].
ROLES = {
    "tap-usajobs": "tap",
    "tap-rest-api-msdk": "tap",
    "target-postgres": "target",
    "meltano": "meltano",
    "floor.py": "floor",
}


@dataclass
class ProcStats:
    """What was seen of one process."""

    role: str
    pid: int
    peak_rss_kb: int = 0
    cpu_s: float = 0.0
    method: str = "sampled VmHWM"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, in MiB and seconds."""
        return {
            "pid": self.pid,
            "peak_rss_mib": round(self.peak_rss_kb / 1024, 1),
            "cpu_s": round(self.cpu_s, 2),
            "method": self.method,
        }


def role_of(cmdline: list[str]) -> str | None:
    """The role of a process by its command line, or None for processes of no interest."""
    for arg in cmdline[:3]:
        role = ROLES.get(Path(arg).name)
        if role:
            return role
    return None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:  # noqa: PTH123
            return handle.read()
    except OSError:  # the process is gone
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, ...)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat or ")" not in stat:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return fields if len(fields) > 12 else None  # noqa: PLR2004


def _parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def _cpu_seconds(pid: int) -> float | None:
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS if fields else None  # utime + stime


def _hwm_kb(pid: int) -> int | None:
    status = _read(f"/proc/{pid}/status")
    for line in (status or "").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None  # gone, or a zombie (its memory is already released)


class ProcessWatch(threading.Thread):
    """Samples the peak RSS and CPU time of every descendant of ``roots`` with a role."""

    def __init__(self, roots: list[int], expected_roles: set[str]) -> None:
        """Watch ``roots`` and their descendants until stop()."""
        super().__init__(name="process-watch", daemon=True)
        self.expected = expected_roles
        self.seen: dict[int, ProcStats] = {}
        self.errors: list[str] = []
        self._tree: set[int] = set(roots)
        self._cmdlines: dict[int, str] = {}
        self._stop_event = threading.Event()
        self._last_scan = 0.0

    def stop(self) -> dict[str, ProcStats]:
        """Stop sampling; return the largest process of each role."""
        self._stop_event.set()
        self.join()
        by_role: dict[str, ProcStats] = {}
        for stats in self.seen.values():
            best = by_role.get(stats.role)
            if best is None or stats.peak_rss_kb > best.peak_rss_kb:
                by_role[stats.role] = stats
        return by_role

    def run(self) -> None:
        """Sample until stopped; an error in one round is recorded, not fatal."""
        while not self._stop_event.is_set():
            try:
                self._scan_if_due()
                self._classify()
                self._sample()
            except Exception as exc:  # noqa: BLE001  # a measurement gap beats a dead thread
                self.errors.append(repr(exc))
            self._stop_event.wait(SAMPLE_SECONDS)

    def _sample(self) -> None:
        for pid, stats in list(self.seen.items()):
            hwm, cpu = _hwm_kb(pid), _cpu_seconds(pid)
            if hwm is not None:
                stats.peak_rss_kb = max(stats.peak_rss_kb, hwm)
            if cpu is not None:
                stats.cpu_s = max(stats.cpu_s, cpu)

    def _classify(self) -> None:
        """(Re)assign roles whenever a process's command line changes.

        A forked child carries its parent's command line (meltano's, for the tap and
        target) until it execs; exec also starts a new VmHWM, so the stats start afresh.
        """
        for pid in self._tree:
            cmdline = _read(f"/proc/{pid}/cmdline")
            if not cmdline or cmdline == self._cmdlines.get(pid):
                continue  # gone, a zombie (empty), or unchanged
            self._cmdlines[pid] = cmdline
            role = role_of(cmdline.split("\0"))
            if role is None:
                self.seen.pop(pid, None)
            else:
                self.seen[pid] = ProcStats(role=role, pid=pid)

    def _scan_if_due(self) -> None:
        found = {stats.role for stats in self.seen.values()}
        interval = RESCAN_SECONDS if self.expected <= found else SAMPLE_SECONDS
        now = time.monotonic()
        if now - self._last_scan < interval:
            return
        self._last_scan = now
        # /proc/<pid>/task/*/children needs CONFIG_PROC_CHILDREN; walking ppids always works.
        parents: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                parent = _parent_of(int(entry.name))
                if parent is not None:
                    parents[int(entry.name)] = parent
        grew = True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in self._tree and pid not in self._tree:
                    self._tree.add(pid)
                    grew = True


@dataclass
class Outcome:
    """How one pipeline run went."""

    wall_s: float
    exit_codes: dict[str, int]
    processes: dict[str, dict[str, Any]] = field(default_factory=dict)
    stdout: str = ""
    watch_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every process exited 0."""
        return all(code == 0 for code in self.exit_codes.values())


def _wait4(proc: subprocess.Popen[Any]) -> tuple[int, int, float]:
    """Reap ``proc``; return its exit code, peak RSS (KiB) and CPU seconds."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def _kill_groups(procs: list[subprocess.Popen[Any]]) -> None:
    """SIGKILL the process groups of ``procs`` (each started in a session of its own)."""
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


class _Guard:
    """Kills a run's process groups when it outlives ``seconds`` or the harness stops."""

    def __init__(self, seconds: float, procs: list[subprocess.Popen[Any]]) -> None:
        self.expired = False
        self._procs = procs
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def _expire(self) -> None:
        self.expired = True
        _kill_groups(self._procs)

    def __enter__(self) -> Self:
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._timer.cancel()
        if kind is not None:  # interrupted (SIGTERM, Ctrl-C, an error): leave no orphans
            _kill_groups(self._procs)
            for proc in self._procs:
                with contextlib.suppress(ChildProcessError):
                    proc.wait(timeout=10)


def run_single(  # noqa: PLR0913  # keyword-only knobs of one run
    command: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log: IO[bytes],
    expected_roles: set[str],
    timeout: float,
    capture_stdout: bool = False,
    stdin: IO[bytes] | None = None,
) -> Outcome:
    """Run one command (``meltano run``, floor.py, a target on a file); sample its descendants.

    ``stdin``: an open file for the command's standard input (default: the harness's own).
    """
    started = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603
        command,
        cwd=cwd,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE if capture_stdout else log,
        stderr=log,
        start_new_session=True,
    )
    watch = ProcessWatch([proc.pid], expected_roles)
    watch.start()
    with _Guard(timeout, [proc]) as guard:
        stdout = proc.stdout.read().decode() if proc.stdout else ""
        code, rss_kb, cpu_s = _wait4(proc)
    wall = time.monotonic() - started
    sampled = watch.stop()
    processes = {role: stats.as_dict() for role, stats in sampled.items()}
    # The root process itself: exact figures from wait4 beat the samples. (For meltano,
    # ru_maxrss would include its children's maximum, so keep meltano's own samples.)
    root_role = role_of(command[:2]) or "root"
    if root_role != "meltano":
        processes[root_role] = ProcStats(root_role, proc.pid, rss_kb, cpu_s, "wait4").as_dict()
    return Outcome(
        wall_s=wall,
        exit_codes={root_role: -9 if guard.expired else code},
        processes=processes,
        stdout=stdout,
        watch_errors=watch.errors,
    )


def run_pipe(  # noqa: PLR0913  # keyword-only knobs of one run
    tap: list[str],
    target: list[str],
    *,
    tap_env: dict[str, str],
    target_env: dict[str, str],
    cwd: Path,
    tap_log: IO[bytes],
    target_log: IO[bytes],
    timeout: float,
) -> Outcome:
    """``tap | target`` as a shell would run it, with exact per-process figures."""
    started = time.monotonic()
    tap_proc = subprocess.Popen(  # noqa: S603
        tap, cwd=cwd, env=tap_env, stdout=subprocess.PIPE, stderr=tap_log, start_new_session=True
    )
    target_proc = subprocess.Popen(  # noqa: S603
        target,
        cwd=cwd,
        env=target_env,
        stdin=tap_proc.stdout,
        stdout=subprocess.PIPE,
        stderr=target_log,
        start_new_session=True,
    )
    assert tap_proc.stdout is not None  # noqa: S101  # for type checkers
    tap_proc.stdout.close()  # the target holds the read end; the tap sees EPIPE if it dies
    watch = ProcessWatch([tap_proc.pid, target_proc.pid], {"tap", "target"})
    watch.start()
    with _Guard(timeout, [tap_proc, target_proc]) as guard:
        assert target_proc.stdout is not None  # noqa: S101
        state = target_proc.stdout.read().decode()
        reaped = {"tap": _wait4(tap_proc), "target": _wait4(target_proc)}
    wall = time.monotonic() - started
    sampled = watch.stop()
    processes: dict[str, dict[str, Any]] = {}
    for role, (_code, rss_kb, cpu_s) in reaped.items():
        pid = tap_proc.pid if role == "tap" else target_proc.pid
        exact = ProcStats(role, pid, rss_kb, cpu_s, "wait4").as_dict()
        if role in sampled:
            exact["sampled_peak_rss_mib"] = sampled[role].as_dict()["peak_rss_mib"]
        processes[role] = exact
    return Outcome(
        wall_s=wall,
        exit_codes={role: -9 if guard.expired else code for role, (code, _, _) in reaped.items()},
        processes=processes,
        stdout=state,
        watch_errors=watch.errors,
    )
