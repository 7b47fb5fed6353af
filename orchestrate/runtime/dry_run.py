"""Dry run: extract as the next run would, validate every record, load nothing, save no state.

    python orchestrate/run.py --dry-run

The tap starts from the pipeline's saved bookmark (read with ``meltano state get``, never
written) with the catalog and stream selection Meltano would give it, so it makes the
requests the next real run would make. Every RECORD is checked against its stream's
SCHEMA (JSON Schema draft 7, formats checked: what target-postgres checks when its
validate_records is on, stricter than our load, which turns it off), for a missing
primary key, and for NUL characters, which PostgreSQL's COPY refuses. The counts per
stream are printed as a table on stdout; the tap's own logs go to stderr as usual.
Repeated keys are counted but are not problems: a posting matching two keywords is sent
once per keyword, and the target upserts it.

Exit codes: 0 when every record is valid; 65 when any record is invalid; the tap's
(meltano's) exit code when the extraction itself fails, 128+N when stopped by signal N.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import typing as t
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from jsonschema import Draft7Validator, FormatChecker

if t.TYPE_CHECKING:
    from runtime.children import Children

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

    unparsable: int = 0

    def feed(self, line: str) -> None:
        """Take one line of the tap's output."""
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except ValueError:
            self.unparsable += 1
            self._example(f"a line that is not JSON: {line[:120]!r}")
            return
        kind = message.get("type")
        if kind == "SCHEMA":
            validator = Draft7Validator(message["schema"], format_checker=FormatChecker())
            keys = list(message.get("key_properties") or [])
            known = self.streams.get(message["stream"])
            if known is None:
                self.streams[message["stream"]] = StreamCheck(validator, keys)
            else:  # a stream may send its schema again; its counts go on
                known.validator, known.key_properties = validator, keys
        elif kind == "RECORD":
            if "\\u0000" in line:
                self.streams.setdefault(
                    message["stream"],
                    StreamCheck(Draft7Validator({}), []),
                ).invalid += 1
                self._example(f"{message['stream']}: a NUL character, which COPY refuses")
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
                self._example(
                    f"{stream}: key {dict(zip(check.key_properties, key, strict=True))} repeated"
                )
            check.seen.add(key)

    def _example(self, text: str) -> None:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(text)

    @property
    def problems(self) -> int:
        """Invalid records, records of undeclared streams and lines that are not JSON."""
        return (
            sum(c.invalid for c in self.streams.values())
            + sum(self.unknown.values())
            + self.unparsable
        )

    def table(self) -> str:
        """Counts per stream as an aligned text table."""
        rows = [("stream", "records", "invalid", "repeated keys (upserted)")]
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
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        )


class DryRunError(Exception):
    """Something the dry run needs from meltano failed; the message says what."""


def _meltano_output(meltano: list[str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603
        [*meltano, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        msg = f"`meltano {' '.join(args)}` failed ({result.returncode}): {result.stderr[-2000:]}"
        raise DryRunError(msg)
    return result.stdout


def saved_state(meltano: list[str], state_id: str) -> str | None:
    """The pipeline's saved state as JSON text, or None before its first run."""
    try:
        saved = json.loads(_meltano_output(meltano, "state", "get", state_id))
    except ValueError as exc:
        msg = f"`meltano state get {state_id}` did not print JSON: {exc}"
        raise DryRunError(msg) from exc
    # Meltano keeps the tap's state under "singer_state".
    state = saved.get("singer_state") if isinstance(saved, dict) else None
    return json.dumps(state) if isinstance(state, dict) and state else None


def dry_run(meltano: list[str], environment: str, children: Children) -> int:
    """Run the tap through meltano, check its output, print the counts; the exit code."""
    suffix = os.environ.get("USAJOBS_STATE_ID_SUFFIX")
    state_id = f"{environment}:{EXTRACTOR}-to-{LOADER}" + (f":{suffix}" if suffix else "")
    checker = DryRun()
    with tempfile.TemporaryDirectory(prefix="usajobs-dry-run.") as scratch:
        try:
            # The catalog with meltano.yml's select (and TAP_USAJOBS__SELECT) applied: with
            # --state, meltano invoke would skip its own catalog and selection step.
            catalog = Path(scratch) / "catalog.json"
            catalog.write_text(_meltano_output(meltano, "invoke", "--dump=catalog", EXTRACTOR))
            state = saved_state(meltano, state_id)
        except DryRunError as exc:
            print(f"dry run failed: {exc}", file=sys.stderr)
            return 1
        command = [*meltano, "invoke", EXTRACTOR, "--catalog", str(catalog)]
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
        outcome = children.run(command, on_stdout=checker.feed)
    return _report(checker, outcome.code)


def _report(dry_run: DryRun, exit_code: int) -> int:
    """Print the counts and the problems found; the dry run's exit code."""
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
