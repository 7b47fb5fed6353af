"""``python -m tap_usajobs.testing.fake_api``: serve the fake until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .faults import fault
from .handler import FakeUsaJobsServer
from .state import FakeApiConfig

if TYPE_CHECKING:
    from collections.abc import Sequence


class _Stopped(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the SIGTERM/SIGINT handler to leave the serving loop."""


def _raise_stopped(_signum: int, _frame: object) -> None:
    """Stop serving; raising is signal-safe where Event.set() could deadlock on its lock."""
    raise _Stopped


def _now_arg(text: str) -> datetime:
    """Parse --now as ISO 8601; aware times are converted to naive UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _fault_arg(text: str) -> list[dict[str, Any]]:
    """Parse one --fault value: a JSON rule or list of rules."""
    try:
        rules = json.loads(text)
        return [fault(rule) for rule in (rules if isinstance(rules, list) else [rules])]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m tap_usajobs.testing.fake_api",
        description="Serve a fake USAJobs Search API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--postings", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--api-key", default="fake-key")
    parser.add_argument("--row-cap", type=int, default=10_000, help="0 = no cap")
    parser.add_argument("--latency-ms", type=int, default=0, help="sleep per Search request")
    parser.add_argument("--detail-kb", type=int, default=3, help="approximate posting size")
    parser.add_argument("--now", type=_now_arg, help="fixed clock (default: UTC now)")
    parser.add_argument("--port-file", type=Path, help="write the bound port here")
    fault_help = "JSON fault rule or list of rules (repeatable)"
    parser.add_argument(
        "--fault", dest="faults", type=_fault_arg, action="extend", metavar="JSON", help=fault_help
    )
    parser.add_argument("--verbose", action="store_true", help="log request lines to stderr")
    parser.add_argument("--historic", type=int, default=400, help="historic announcements")
    parser.add_argument(
        "--historic-days", type=int, default=420, help="how far back historic announcements open"
    )
    parser.add_argument(
        "--historic-page-size", type=int, default=500, help="rows per Historic JOA page"
    )
    parser.add_argument(
        "--historic-latency-ms", type=int, default=0, help="sleep per Historic JOA request"
    )
    parser.add_argument(
        "--historic-mirror-every",
        type=int,
        default=4,
        help="every Nth Search posting is in Historic JOA too (0: none)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT."""
    # Option names match FakeApiConfig fields, except --port-file which is the CLI's own.
    options = vars(_parser().parse_args(argv))
    port_file: Path | None = options.pop("port_file")
    config = FakeApiConfig(**{**options, "faults": tuple(options["faults"] or ())})
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stopped)
    with contextlib.suppress(_Stopped), FakeUsaJobsServer(config) as server:
        if port_file:
            partial = port_file.with_name(port_file.name + ".tmp")
            partial.write_text(f"{server.port}\n")
            partial.replace(port_file)  # atomic, so readers never see a half-written port
        # Announced after the port file, so a reader of this line can rely on that file too.
        print(f"fake USAJobs API listening on {server.url}", flush=True)
        while True:
            time.sleep(3600)
    return 0
