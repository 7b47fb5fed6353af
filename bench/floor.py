"""The floor of the benchmark: fetch every Search page once, then COPY the rows.

No tap and no target: the least work any pipeline has to do to move one query's
postings from the Search API into PostgreSQL.

1. fetch: GET page 1 to learn the page count, then pages 2..P through a pool of
   ``--concurrency`` keep-alive connections (the tap's ``max_concurrent_requests``),
   with the same page size as the tap. Bodies are kept as bytes.
2. prepare: parse each page and shape each item into the tap's record with the tap's
   own ``hoist_search_item`` and a ``SchemaConformer`` of the catalog's schema (so the
   rows are the rows the tap emits), JSON-encoding the nested values. All in memory:
   this process's RSS grows with N, by design.
3. copy: COPY the rows in one transaction into ``usajobs.jobs``, a table created from
   the tap's catalog with the column types MeltanoLabs target-postgres gives them
   (objects jsonb, arrays of objects jsonb[], arrays of strings text[], date-times
   timestamp, numbers numeric), its seven ``_sdc_*`` columns and the primary key.

The floor is ``fetch_s + prepare_s + copy_s``, phases run one after another as issue
7 defines it (fetch, plus load with COPY); a pipeline that overlaps fetching and
loading can beat it. Table creation is not timed. Prints one JSON object.

    .venv/bin/python bench/floor.py --base-url http://127.0.0.1:PORT \
        --catalog catalog.json --concurrency 4      # PG* variables name the database

Python 3.11 stdlib plus psycopg 3 (the project venv's).
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import math
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
SEARCH_PATH = "/api/Search"
#: The metadata columns target-postgres adds (add_record_metadata: true), in its order.
SDC_COLUMNS = (
    ("_sdc_extracted_at", "timestamp"),
    ("_sdc_received_at", "timestamp"),
    ("_sdc_batched_at", "timestamp"),
    ("_sdc_deleted_at", "timestamp"),
    ("_sdc_sequence", "bigint"),
    ("_sdc_table_version", "bigint"),
    ("_sdc_sync_started_at", "bigint"),
)


def pg_type(schema: dict[str, Any]) -> str:  # noqa: PLR0911  # one return per type
    """The column type target-postgres 0.8.1 creates for a JSON schema property."""
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    if "object" in types:
        return "jsonb"
    if "array" in types:
        items = schema.get("items") or {}
        item_types = items.get("type", [])
        item_types = [item_types] if isinstance(item_types, str) else list(item_types)
        if "object" in item_types:
            return "jsonb[]"
        if "string" in item_types:
            return "text[]"
        return "jsonb"
    if "string" in types:
        return "timestamp" if schema.get("format") == "date-time" else "text"
    if "integer" in types:
        return "bigint"
    if "number" in types:
        return "numeric"
    if "boolean" in types:
        return "boolean"
    return "jsonb"


def stream_of(catalog: dict[str, Any], name: str) -> dict[str, Any]:
    """The catalog entry of stream ``name``."""
    for stream in catalog["streams"]:
        if stream.get("tap_stream_id") == name or stream.get("stream") == name:
            return dict(stream)
    msg = f"stream {name!r} is not in the catalog"
    raise SystemExit(msg)


def _json_number(value: object) -> object:
    """JSON encoding of the Decimals normalize returns: a number, as the target writes it."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    msg = f"{type(value).__name__} is not JSON serializable"
    raise TypeError(msg)


def _dumps(value: object) -> str:
    return json.dumps(value, default=_json_number)


class PageFetcher:
    """GET Search pages over one keep-alive connection per worker thread."""

    def __init__(
        self, base_url: str, api_key: str, user_agent: str, params: dict[str, Any]
    ) -> None:
        """Remember where and how to ask; connections open lazily per thread."""
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.https = parts.scheme == "https"
        self.prefix = parts.path.rstrip("/")
        self.headers = {
            "Host": parts.netloc,
            "User-Agent": user_agent,
            "Authorization-Key": api_key,
            "Accept": "application/json",
        }
        self.params = params
        self.requests = 0
        self._local = threading.local()
        self._count_lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            factory = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            conn = factory(self.host, self.port, timeout=120)
            self._local.conn = conn
        return conn

    def get(self, page: int) -> bytes:
        """The raw body of one page; any non-200 answer is an error (no retries here)."""
        query = urlencode({**self.params, "Page": page})
        conn = self._connection()
        conn.request("GET", f"{self.prefix}{SEARCH_PATH}?{query}", headers=self.headers)
        response = conn.getresponse()
        body = response.read()
        with self._count_lock:
            self.requests += 1
        if response.status != 200:  # noqa: PLR2004
            msg = f"page {page}: HTTP {response.status}: {body[:200]!r}"
            raise RuntimeError(msg)
        return body


def fetch_all(fetcher: PageFetcher, per_page: int, concurrency: int) -> list[bytes]:
    """Page 1, then every other page through ``concurrency`` workers, in page order."""
    first = fetcher.get(1)
    result = json.loads(first)["SearchResult"]
    total = int(result.get("SearchResultCountAll") or 0)
    announced = int(str(result.get("UserArea", {}).get("NumberOfPages") or 0))
    by_count = math.ceil(total / per_page)
    pages = min(announced, by_count) if announced else by_count
    if pages <= 1:
        return [first]
    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="floor-page") as pool:
        rest = list(pool.map(fetcher.get, range(2, pages + 1)))
    return [first, *rest]


def create_table(
    conn: psycopg.Connection[Any], schema_name: str, table: str, stream: dict[str, Any]
) -> list[tuple[str, str]]:
    """Create the raw table from the catalog; return its columns as (name, type)."""
    properties = stream["schema"]["properties"]
    columns = [(name, pg_type(prop)) for name, prop in properties.items()]
    columns += list(SDC_COLUMNS)
    keys = stream.get("key_properties") or []
    definition = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(name),
            sql.SQL(kind),
            sql.SQL(" not null" if name in keys else ""),
        )
        for name, kind in columns
    ]
    if keys:
        definition.append(
            sql.SQL("primary key ({})").format(sql.SQL(", ").join(map(sql.Identifier, keys)))
        )
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema_name)))
    conn.execute(
        sql.SQL("create table {}.{} ({})").format(
            sql.Identifier(schema_name), sql.Identifier(table), sql.SQL(", ").join(definition)
        )
    )
    return columns


def _cell(value: object, kind: str) -> object:
    """One normalised value as COPY's text format takes it (JSON already encoded)."""
    if value is None:
        return None
    if kind == "jsonb[]":
        return [_dumps(item) for item in value] if isinstance(value, list) else None
    if kind == "jsonb" or (isinstance(value, (dict, list)) and kind != "text[]"):
        return _dumps(value)
    return value


def prepare(
    pages: list[bytes],
    columns: list[tuple[str, str]],
    normalize: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[list[object]]:
    """Parse every page and shape each item into the table's row, JSON encoded."""
    now = datetime.now(UTC).replace(tzinfo=None)
    version = int(time.time() * 1000)
    sdc = {
        "_sdc_extracted_at": now,
        "_sdc_received_at": now,
        "_sdc_batched_at": now,
        "_sdc_deleted_at": None,
        "_sdc_table_version": version,
        "_sdc_sync_started_at": version,
    }
    rows: list[list[object]] = []
    for body in pages:
        for item in json.loads(body)["SearchResult"]["SearchResultItems"]:
            record = normalize(item)
            record.update(sdc, _sdc_sequence=len(rows))
            rows.append([_cell(record.get(name), kind) for name, kind in columns])
    return rows


def copy_rows(
    conn: psycopg.Connection,
    target: sql.Composed,
    columns: list[tuple[str, str]],
    rows: list[list[object]],
) -> None:
    """COPY the rows in one transaction."""
    statement = sql.SQL("copy {} ({}) from stdin").format(
        target, sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
    )
    with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="API root, e.g. the fake's URL")
    parser.add_argument("--api-key", default="fake-key")
    parser.add_argument("--user-agent", default="bench@example.com")
    parser.add_argument("--catalog", type=Path, required=True, help="the tap's --discover output")
    parser.add_argument("--stream", default="jobs")
    parser.add_argument("--schema", default="usajobs", help="target schema of the raw table")
    parser.add_argument("--results-per-page", type=int, default=500)
    parser.add_argument(
        "--concurrency", type=int, default=1, help="parallel page requests (the tap's setting)"
    )
    parser.add_argument(
        "--search-params",
        type=json.loads,
        default={},
        help='extra Search filters as JSON, e.g. {"Keyword": "data"}',
    )
    parser.add_argument("--dsn", default="", help="libpq connection string (default: PG* env)")
    parser.add_argument(
        "--tap-src",
        type=Path,
        default=ROOT / "tap-usajobs",
        help="the tap package whose normalize and conform modules shape the rows",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run both phases and print their timings as JSON."""
    args = _parser().parse_args(argv)
    sys.path.insert(0, str(args.tap_src))
    stream = stream_of(json.loads(args.catalog.read_text()), args.stream)
    # The tap's pure, stdlib-only modules: the rows are exactly the ones the tap emits.
    hoist = importlib.import_module("tap_usajobs.normalize").hoist_search_item
    conformer = importlib.import_module("tap_usajobs.conform").SchemaConformer(stream["schema"])

    def normalize(item: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = conformer(hoist(item))[0]
        return record

    params = {**args.search_params, "ResultsPerPage": args.results_per_page}
    fetcher = PageFetcher(args.base_url, args.api_key, args.user_agent, params)

    started = time.perf_counter()
    pages = fetch_all(fetcher, args.results_per_page, args.concurrency)
    fetched = time.perf_counter()

    with psycopg.connect(args.dsn, autocommit=True) as conn:
        columns = create_table(conn, args.schema, args.stream, stream)  # setup, not timed
        table = sql.SQL("{}.{}").format(sql.Identifier(args.schema), sql.Identifier(args.stream))
        prepare_started = time.perf_counter()
        rows = prepare(pages, columns, normalize)
        copy_started = time.perf_counter()
        copy_rows(conn, table, columns, rows)
        copied = time.perf_counter()
    phases = {
        "fetch_s": fetched - started,
        "prepare_s": copy_started - prepare_started,
        "copy_s": copied - copy_started,
    }
    report = {
        **{name: round(seconds, 3) for name, seconds in phases.items()},
        "floor_s": round(sum(phases.values()), 3),
        "rows": len(rows),
        "pages": len(pages),
        "requests": fetcher.requests,
        "bytes": sum(map(len, pages)),
        "concurrency": args.concurrency,
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
