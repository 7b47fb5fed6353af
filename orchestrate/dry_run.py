"""Dry run: extract as the next run would, validate every record, load nothing, save no state.

    orchestrate/entrypoint.sh --dry-run          (or: python orchestrate/dry_run.py)

The tap starts from the pipeline's saved bookmark (read with ``meltano state get``, never
written), so it makes the requests the next real run would make. Every RECORD is checked
against its stream's SCHEMA with the same JSON Schema rules target-postgres applies
(draft 7, formats checked), and primary keys are checked for repeats. The counts per
stream are printed as a table on stdout; the tap's own logs go to stderr as usual.

Exit codes: 0 when every record is valid; 65 when any record is invalid or repeats a
key; the tap's (meltano's) exit code when the extraction itself fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import typing as t
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from jsonschema import Draft7Validator, FormatChecker

EX_DATAERR = 65
MAX_EXAMPLES = 5
EXTRACTOR = "tap-usajobs"
LOADER = "target-postgres"


@dataclass
class StreamCheck:
    """What one stream's records looked like."""

    validator: Draft7Validator
    key_properties: list[str]
    records: int = 0
    invalid: int = 0
    repeated_keys: int = 0
    seen: set[tuple[t.Any, ...]] = field(default_factory=set)


@dataclass
class DryRun:
    """Reads the tap's Singer messages and checks each record against its schema."""

    streams: dict[str, StreamCheck] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    states: int = 0
    unknown: Counter[str] = field(default_factory=Counter)

    def feed(self, line: str) -> None:
        """Take one line of the tap's output."""
        message = json.loads(line)
        kind = message.get("type")
        if kind == "SCHEMA":
            self.streams[message["stream"]] = StreamCheck(
                Draft7Validator(message["schema"], format_checker=FormatChecker()),
                list(message.get("key_properties") or []),
            )
        elif kind == "RECORD":
            self._check(message["stream"], message["record"])
        elif kind == "STATE":
            self.states += 1

    def _check(self, stream: str, record: dict[str, t.Any]) -> None:
        check = self.streams.get(stream)
        if check is None:
            self.unknown[stream] += 1
            self._example(f"{stream}: a RECORD before any SCHEMA for the stream")
            return
        check.records += 1
        error = next(iter(check.validator.iter_errors(record)), None)
        if error is not None:
            check.invalid += 1
            where = "/".join(str(part) for part in error.absolute_path) or "(record)"
            self._example(f"{stream}: {where}: {error.message[:200]}")
        if check.key_properties:
            key = tuple(
                json.dumps(record.get(name), sort_keys=True) for name in check.key_properties
            )
            if key in check.seen:
                check.repeated_keys += 1
                self._example(f"{stream}: key {dict(zip(check.key_properties, key))} repeated")
            check.seen.add(key)

    def _example(self, text: str) -> None:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(text)

    @property
    def problems(self) -> int:
        """Invalid records, repeated keys and records of undeclared streams."""
        return sum(c.invalid + c.repeated_keys for c in self.streams.values()) + sum(
            self.unknown.values()
        )

    def table(self) -> str:
        """Counts per stream as an aligned text table."""
        rows = [("stream", "records", "invalid", "repeated keys")]
        rows += [
            (name, str(c.records), str(c.invalid), str(c.repeated_keys))
            for name, c in sorted(self.streams.items())
        ]
        rows.append(
            (
                "total",
                str(sum(c.records for c in self.streams.values())),
                str(sum(c.invalid for c in self.streams.values())),
                str(sum(c.repeated_keys for c in self.streams.values())),
            )
        )
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        return "\n".join(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths))
            )
            for row in rows
        )


def saved_state(meltano: list[str], state_id: str) -> str | None:
    """The pipeline's saved state as JSON text, or None before its first run."""
    result = subprocess.run(  # noqa: S603
        [*meltano, "state", "get", state_id],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    try:
        saved = json.loads(result.stdout)
    except ValueError:
        return None
    # Meltano keeps the tap's state under "singer_state".
    state = saved.get("singer_state") if isinstance(saved, dict) else None
    return json.dumps(state) if isinstance(state, dict) and state else None


def main(argv: list[str] | None = None) -> int:
    """Run the tap through meltano, check its output, print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environment", default=os.environ.get("MELTANO_ENVIRONMENT", "dev"))
    parser.add_argument("--meltano", default=str(Path(sys.executable).with_name("meltano")))
    args = parser.parse_args(argv)

    meltano = [args.meltano, "--environment", args.environment]
    suffix = os.environ.get("USAJOBS_STATE_ID_SUFFIX")
    state_id = f"{args.environment}:{EXTRACTOR}-to-{LOADER}" + (f":{suffix}" if suffix else "")
    dry_run = DryRun()
    with tempfile.TemporaryDirectory(prefix="usajobs-dry-run.") as scratch:
        command = [*meltano, "invoke", EXTRACTOR]
        state = saved_state(meltano, state_id)
        if state is not None:
            state_file = Path(scratch) / "state.json"
            state_file.write_text(state)
            command += ["--state", str(state_file)]
        print(
            f"dry run: {EXTRACTOR} from the bookmark of {state_id}"
            if state
            else f"dry run: {EXTRACTOR} from scratch ({state_id} has no saved state)",
            file=sys.stderr,
            flush=True,
        )
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as tap:  # noqa: S603
            assert tap.stdout is not None
            for line in tap.stdout:
                if line.strip():
                    dry_run.feed(line)
        exit_code = tap.returncode

    print(dry_run.table())
    for example in dry_run.examples:
        print(f"  problem: {example}")
    print("nothing was loaded and no state was saved")
    if exit_code != 0:
        print(f"dry run failed: {EXTRACTOR} exited with {exit_code}", file=sys.stderr)
        return exit_code
    if dry_run.problems:
        print(f"dry run found {dry_run.problems} problem record(s)", file=sys.stderr)
        return EX_DATAERR
    return 0


if __name__ == "__main__":
    sys.exit(main())
