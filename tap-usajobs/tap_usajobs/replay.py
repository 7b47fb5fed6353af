"""Replay quarantined rows through the tap: the rows as sent in, Singer messages out.

    psql -Atc "select raw_json from usajobs.quarantine where stream = 'jobs'" > rows.jsonl
    meltano invoke --dump=catalog tap-usajobs > catalog.json
    python -m tap_usajobs.replay --stream jobs --catalog catalog.json rows.jsonl \
        | meltano invoke target-postgres

Each line is one row exactly as the API sent it (the quarantine's ``raw_json``). The rows
go through the same conforming and key checks as a sync, with the tap installed now, so
once a release reads what it could not read before, they load. Rows that still cannot
be loaded are written to the quarantine again. Nothing is requested from the API, no
bookmark is written, and nothing is closed. The catalog gives the schemas the target
already loads with (a project's catalog may trim them, as meltano.yml's does).
"""

from __future__ import annotations

import argparse
import json
import sys
import typing as t
from pathlib import Path

from singer_sdk.singerlib import RecordMessage, SchemaMessage

if t.TYPE_CHECKING:
    from singer_sdk import Stream

    from tap_usajobs.quarantine import QuarantineStream

from tap_usajobs.client import QUARANTINE_STREAM, UsaJobsStream
from tap_usajobs.tap import TapUsaJobs

#: Settings a replay needs to build the streams; it never makes a request.
_OFFLINE = {"api_key": "replay", "user_agent": "replay@example.invalid"}


def replay(stream_name: str, lines: t.Iterable[str], tap: TapUsaJobs) -> int:
    """Write the stream's records for ``lines``; return how many rows loaded."""
    stream = tap.streams.get(stream_name)
    if not isinstance(stream, UsaJobsStream):
        msg = f"no stream named {stream_name!r} reads API rows"
        raise SystemExit(msg)
    rows = [json.loads(line) for line in lines if line.strip()]
    records = stream.read_rows(rows)
    _write(tap, stream, records)
    quarantine = t.cast("QuarantineStream", tap.streams[QUARANTINE_STREAM])
    held = list(quarantine.get_records(None))
    if held:
        _write(tap, quarantine, held)
    sys.stderr.write(
        f"replay: {len(records)} of {len(rows)} {stream_name} rows loaded, "
        f"{len(rows) - len(records)} quarantined again\n"
    )
    return len(records)


def _write(tap: TapUsaJobs, stream: Stream, records: t.Sequence[dict[str, t.Any]]) -> None:
    schema = stream.effective_schema
    known = schema.get("properties", {})
    tap.message_writer.write_message(
        SchemaMessage(stream.name, schema, list(stream.primary_keys), None)
    )
    for record in records:
        fitted = {key: value for key, value in record.items() if key in known}
        tap.message_writer.write_message(RecordMessage(stream.name, fitted))


def main(argv: list[str] | None = None) -> int:
    """Read the rows from a file (or stdin), write Singer messages to stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", required=True, help="the stream the rows were read for")
    parser.add_argument("--catalog", type=Path, help="the catalog the target loads with")
    parser.add_argument("rows", nargs="?", type=Path, help="JSON lines file (default: stdin)")
    args = parser.parse_args(argv)
    tap = TapUsaJobs(
        config=_OFFLINE,
        catalog=str(args.catalog) if args.catalog else None,
        parse_env_config=False,
        validate_config=False,
    )
    with args.rows.open() if args.rows else sys.stdin as lines:
        replay(args.stream, lines, tap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
