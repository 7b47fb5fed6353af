"""The base stream: authentication, error mapping and retries shared by every stream."""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import typing as t
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import cached_property
from http import HTTPStatus
from urllib.parse import urlparse

import requests
import requests.adapters
import urllib3
from singer_sdk.authenticators import APIAuthenticatorBase, APIKeyAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.streams import RESTStream

from tap_usajobs.conform import (
    KEY_REPAIRED,
    NUL_REMOVED,
    SURROGATE_REPLACED,
    UNKNOWN_FIELD,
    UNREADABLE,
    WRAPPED_IN_ARRAY,
    Problem,
    SchemaConformer,
)
from tap_usajobs.sharding import partitions_for_shard

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable

    from backoff.types import Details

    from tap_usajobs.quarantine import QuarantineStream
    from tap_usajobs.summary import SyncSummary

#: The stream that keeps rows no other stream could load.
QUARANTINE_STREAM = "quarantine"
#: A page is refused only when this many rows or more share an unreadable field.
_REFUSE_MIN_ROWS = 3
_SHOWN_CHARS = 80
_PROBLEM_WORDS = {
    UNREADABLE: "could not be read; it is null, and kept as sent in unreadable_values: {original}",
    NUL_REMOVED: "had NUL characters, which were removed",
    SURROGATE_REPLACED: "had a broken character (a lone surrogate), replaced by U+FFFD",
    WRAPPED_IN_ARRAY: "was a single value where a list belongs, and was wrapped in one",
    UNKNOWN_FIELD: "is not in the tap's schema (docs/runbook.md#schema-change-in-the-api)",
    KEY_REPAIRED: "was not a usable key ({original}); the key was read from the row's URI",
}


class ContentRefusedError(Exception):
    """The API changed the shape of its answers: the sync stops before writing a page."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


API_KEY_HEADER = "Authorization-Key"
#: Statuses that mean "come back later". 408 and 425 are rare but harmless to retry.
RETRIABLE_STATUSES = frozenset({408, 425, 429})
#: Answers whose Retry-After holds every request of the stream (RFC 9110 10.2.3).
_ASKS_TO_WAIT = frozenset({HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE})
_AUTH_STATUSES = frozenset({HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN})
_ERROR_BODY_CHARS = 300
#: Python refuses to read longer integers (sys.set_int_max_str_digits); such a number in
#: one posting must not make its page unreadable.
_MAX_INT_DIGITS = 4000
#: Bytes read at a time from a response body, checking its deadline in between.
_CHUNK = 64 * 1024


def payload(response: requests.Response) -> dict[str, t.Any]:
    """Return the response's JSON body, parsed once and cached on the response.

    Lenient where leniency loses nothing: bytes that are not UTF-8 become U+FFFD (logged
    by the caller through ``_usajobs_invalid_utf8``), and raw control characters inside
    strings are accepted (``strict=False``), so one odd posting never makes its whole
    page unreadable. Broken JSON still raises ``ValueError``.
    """
    cached = getattr(response, "_usajobs_payload", None)
    if cached is None:
        try:
            text = response.content.decode("utf-8")
        except UnicodeDecodeError:
            text = response.content.decode("utf-8", errors="replace")
            response._usajobs_invalid_utf8 = True  # type: ignore[attr-defined]  # noqa: SLF001
        try:
            cached = json.loads(text, strict=False, parse_int=_integer)
        except RecursionError as exc:  # nesting deeper than the parser goes
            msg = "JSON nested too deeply to read"
            raise ValueError(msg) from exc
        response._usajobs_payload = cached  # type: ignore[attr-defined]  # noqa: SLF001
    return t.cast("dict[str, t.Any]", cached)


def _integer(digits: str) -> int | str:
    """A JSON integer, or its digits as text past the 4,300 Python reads as an int."""
    return int(digits) if len(digits) <= _MAX_INT_DIGITS else digits


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """A 429's or 503's ``Retry-After``, given in seconds or as an HTTP date.

    Only an answer that refuses service asks to wait (RFC 9110 10.2.3); on any other (a
    500, a truncated 200) the header means nothing, and backoff chooses the wait.
    """
    if response is None or response.status_code not in _ASKS_TO_WAIT:
        return None
    header = response.headers.get("Retry-After")
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, though the source's own zone is not known
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    """A keep-alive connection pool that counts its responses and keeps the key at home.

    ``requests`` strips ``Authorization`` from a redirect to another host, but not a
    custom header such as ``Authorization-Key``: this is the last place a request passes
    before the wire, so the key is removed here from any request to another host.

    It is also where the stream's threads meet: a ``Retry-After`` on a 429 or 503 holds
    every request of the stream until then (at most ``longest_hold`` seconds), not only
    the retry of the request that got it, so a pool of workers backs off as one client.
    """

    def __init__(
        self,
        on_response: t.Callable[[], None],
        home: str,
        longest_hold: float,
        **kwargs: t.Any,  # noqa: ANN401
    ) -> None:
        super().__init__(**kwargs)
        self._on_response = on_response
        self._home = home
        self._longest_hold = longest_hold
        self._resume_at = 0.0  # time.monotonic(); no request leaves before it
        self._hold_lock = threading.Lock()

    @override
    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,  # requests' own signature
        timeout: float | tuple[float, float] | None = None,
        **kwargs: t.Any,
    ) -> requests.Response:
        """Send the request; count the answer (a failure to connect raises instead).

        ``timeout`` bounds each wait on the socket, as in requests, and also the whole
        answer: a body that trickles in a byte at a time is cut off when it is up.
        """
        if urlparse(request.url or "").netloc != self._home:
            request.headers.pop(API_KEY_HEADER, None)
        while (held := self._resume_at - time.monotonic()) > 0:  # another answer may extend it
            time.sleep(held)
        started = time.monotonic()
        response = super().send(request, stream=True, timeout=timeout, **kwargs)
        self._on_response()
        asked = retry_after_seconds(response)
        if asked:
            until = time.monotonic() + min(asked, self._longest_hold)
            with self._hold_lock:
                self._resume_at = max(self._resume_at, until)
        if not stream:
            limit = max(timeout) if isinstance(timeout, tuple) else timeout
            _read_body(response, None if limit is None else started + float(limit))
        return response


def _read_body(response: requests.Response, deadline: float | None) -> None:
    """Read the whole body into the response, or raise ReadTimeout past ``deadline``."""
    chunks = []
    try:
        while chunk := response.raw.read1(_CHUNK, decode_content=True):
            chunks.append(chunk)
            if deadline is not None and time.monotonic() > deadline:
                response.close()
                msg = "the answer did not arrive whole within request_timeout"
                raise requests.exceptions.ReadTimeout(msg, request=response.request)
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    response._content = b"".join(chunks)  # noqa: SLF001  # what requests does after reading
    response._content_consumed = True  # type: ignore[attr-defined]  # noqa: SLF001


class _NoKey(APIAuthenticatorBase):
    """Leaves a request exactly as built: no key, and its query string untouched."""

    @override
    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Return the request unchanged."""
        return request


class UsaJobsStream(RESTStream[t.Any]):
    """Shared plumbing for USAJobs endpoints."""

    extra_retry_statuses = tuple(RETRIABLE_STATUSES)
    #: Search needs the key; Historic JOA and the code lists are public and never get it.
    sends_api_key: t.ClassVar[bool] = True

    @property
    def sync_summary(self) -> SyncSummary:
        """The tap's counters for this sync (requests, retries, query sizes)."""
        return t.cast("SyncSummary", self._tap.sync_summary)  # type: ignore[attr-defined]

    def query_partitions(self) -> list[dict[str, t.Any]]:
        """Every query this stream makes, before sharding; override per stream."""
        return [{}]

    @cached_property
    @override
    def partitions(self) -> list[dict[str, t.Any]] | None:
        """This task's share of the stream's queries (all of them when unsharded)."""
        everything = self.query_partitions()
        count = int(self.config.get("shard_count", 1))
        if count <= 1:
            return everything
        index = int(self.config.get("shard_index", 0))
        mine = partitions_for_shard(everything, index, count)
        self.logger.info(
            "Shard %d of %d: syncing %d of %d %s partitions.",
            index,
            count,
            len(mine),
            len(everything),
            self.name,
        )
        return mine

    @property
    @override
    def url_base(self) -> str:
        """The API root, from ``base_url``."""
        return str(self.config["base_url"]).rstrip("/")

    @cached_property
    @override
    def authenticator(self) -> APIAuthenticatorBase:
        """Send the key in the ``Authorization-Key`` header, never in the URL."""
        if not self.sends_api_key:
            return _NoKey()
        return APIKeyAuthenticator(
            key=API_KEY_HEADER,
            value=self.config["api_key"],
            location="header",
        )

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        """The headers USAJobs asks for; ``User-Agent`` is the key owner's email."""
        return {
            "Host": urlparse(self.url_base).netloc,
            "User-Agent": self.config["user_agent"],
            "Accept": "application/json",
        }

    @property
    @override
    def requests_session(self) -> requests.Session:
        """The SDK's session: pools as wide as the page pool, counting, key kept at home."""
        session = super().requests_session
        if not isinstance(session.get_adapter(self.url_base), _GuardedAdapter):
            width = max(10, int(self.config.get("max_concurrent_requests", 1)))
            adapter = _GuardedAdapter(
                lambda: self.sync_summary.count("requests", self.name),
                urlparse(self.url_base).netloc,
                longest_hold=float(self.config["backoff_max_seconds"]),
                pool_connections=1,
                pool_maxsize=width,
            )
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        return session

    @property
    @override
    def timeout(self) -> int:
        """Seconds to wait for a response before retrying."""
        return int(self.config["request_timeout"])

    @override
    def backoff_max_tries(self) -> int:
        """Total attempts per request: the first one plus ``max_retries``."""
        return int(self.config["max_retries"]) + 1

    @override
    def backoff_wait_generator(self) -> Generator[float, BaseException, None]:  # type: ignore[override]
        """Exponential backoff with full jitter, or exactly what ``Retry-After`` asks.

        backoff sends each failure's exception into the generator, so a 429's header
        is in reach when the wait is chosen.
        """
        factor = int(self.config["backoff_base_ms"]) / 1000
        ceiling = float(self.config["backoff_max_seconds"])
        attempt = 0
        exception = yield 0.0  # primed by backoff; this value is never used
        while True:
            response = getattr(exception, "response", None)
            asked = retry_after_seconds(response)
            if asked is not None:
                # The server told us when; add a little spread so parallel runs do
                # not come back in lockstep, but never come back early.
                wait = min(asked, ceiling) + random.uniform(0, factor)  # noqa: S311
            else:
                wait = random.uniform(0, min(ceiling, factor * 2**attempt))  # noqa: S311
            attempt += 1
            exception = yield wait

    @override
    def backoff_handler(self, details: Details) -> None:
        """Count the retry, then log it as the SDK does."""
        self.sync_summary.count("retries", self.name)
        super().backoff_handler(details)

    @override
    def backoff_jitter(self, value: float) -> float:
        """Jitter is already applied by the wait generator."""
        return value

    @cached_property
    def send(self) -> t.Callable[..., requests.Response]:
        """The SDK's ``_request`` with its retries, backoff and ``Retry-After``.

        For pages fetched outside the SDK's paging loop, from worker threads too (ADR 16, 20).
        """
        return self.request_decorator(self._request)

    @override
    def validate_response(self, response: requests.Response) -> None:
        """USAJobs' own cases first (redirects, auth, bodies), then the SDK's status mapping.

        The SDK retries 5xx and ``extra_retry_statuses`` and fails on other 4xx. A body
        that does not parse, or lacks the shape the stream reads, is fetched again: a
        truncated transfer looks exactly like that.
        """
        home = urlparse(self.url_base).netloc
        landed = urlparse(response.url or "").netloc
        if self.sends_api_key and landed and landed != home:
            msg = (
                f"USAJobs redirected {self.path} to another host ({landed}). The API key is "
                f"only ever sent to {home}, so the answer from {landed} is not used."
            )
            raise FatalAPIError(msg)
        status = response.status_code
        if status in _AUTH_STATUSES and not self.sends_api_key:
            msg = f"USAJobs refused a request to the public endpoint {self.path} (HTTP {status})."
            raise FatalAPIError(msg)
        if status in _AUTH_STATUSES:
            msg = (
                f"USAJobs refused the request (HTTP {status}). Check that api_key "
                "(TAP_USAJOBS_API_KEY) is the key USAJobs issued and that user_agent "
                "(TAP_USAJOBS_USER_AGENT) is the email address it was issued to."
            )
            raise FatalAPIError(msg)
        super().validate_response(response)
        if status == HTTPStatus.NO_CONTENT or not response.content:
            # Only the historic endpoints say "no rows" that way (they accept it first).
            msg = f"Empty answer (HTTP {status}) from {self.path}"
            raise RetriableAPIError(msg, response)
        try:
            body = payload(response)
        except ValueError as exc:
            # A body cut off mid-transfer parses as broken JSON: fetch the page again.
            msg = f"Malformed JSON from {self.path} ({len(response.content)} bytes): {exc}"
            raise RetriableAPIError(msg, response) from exc
        problem = self.find_shape_problem(body)
        if problem:
            msg = f"Unexpected response from {self.path}: {problem}"
            raise RetriableAPIError(msg, response)

    def find_shape_problem(self, body: t.Any) -> str | None:  # noqa: ANN401
        """Describe what is wrong with a parsed body, or return None when it is usable."""
        return None if isinstance(body, dict) else f"expected an object, got {type(body).__name__}"

    @override
    def response_error_message(self, response: requests.Response) -> str:
        """Status, path and the start of the body; no headers, no query string, no key.

        A server may echo the request, key and all, in its error body.
        """
        body = response.text[:_ERROR_BODY_CHARS] if response.content else ""
        key = self.config.get("api_key")
        if key:
            body = body.replace(str(key), "***")
        path = urlparse(response.url).path or self.path
        return f"HTTP {response.status_code} {response.reason} for {path}: {body}".rstrip(": ")

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, t.Any]]:
        """The page's rows as records: conformed, checked, and only once all of them are."""
        body = payload(response)
        if getattr(response, "_usajobs_invalid_utf8", False):
            self.logger.warning(
                "%s: a page from %s had bytes that are not UTF-8; they became U+FFFD.",
                self.name,
                self.path,
            )
        yield from self.read_rows(self.records_from_payload(body))

    def records_from_payload(self, body: dict[str, t.Any]) -> Iterable[t.Any]:
        """Extract the raw rows from a parsed body."""
        raise NotImplementedError

    # --- rows: untrusted content in, typed records out ------------------------------------

    @cached_property
    def conformer(self) -> SchemaConformer:
        """Types and repairs rows to the stream's own schema (not a catalog's trimmed copy)."""
        return SchemaConformer(self.schema, self.key_aliases)

    #: Other spellings of the stream's keys (case-insensitive) -> the schema's names.
    key_aliases: t.ClassVar[dict[str, str]] = {}

    def prepare_row(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        """Reshape a raw row before it is conformed (Search hoists its descriptor)."""
        return row

    def key_problem(self, record: dict[str, t.Any], problems: list[Problem]) -> str | None:  # noqa: ARG002
        """Why ``record`` has no usable key, or None; a stream may repair the key here."""
        key = self.primary_keys[0]
        return None if record.get(key) not in (None, "") else f"it has no {key}"

    def read_rows(self, rows: Iterable[t.Any]) -> list[dict[str, t.Any]]:
        """Conform a page of rows; quarantine those without a key; refuse a changed shape.

        Every row is checked before any is returned, so a refused page writes nothing.
        """
        records: list[dict[str, t.Any]] = []
        unreadable: dict[str, list[tuple[object, object]]] = {}
        key_name = self.primary_keys[0]
        for row in rows:
            if not isinstance(row, dict):
                self.quarantine(row, None, f"it is a JSON {type(row).__name__}, not an object")
                continue
            try:
                record, problems = self.conformer(self.prepare_row(row))
            except RecursionError:
                self.quarantine(row, row.get(key_name), "it is nested too deeply to read")
                continue
            reason = self.key_problem(record, problems)
            if reason:
                self.quarantine(row, row.get(key_name), reason)
                continue
            if self.replication_key:
                # The SDK's state code reads this key from every record.
                record.setdefault(self.replication_key, None)
            self.note_problems(record[key_name], problems)
            # One row counts once per field, however many of its values there failed.
            first = {p.field: p for p in reversed(problems) if p.kind == UNREADABLE}
            for field, problem in first.items():
                unreadable.setdefault(field, []).append((record[key_name], problem.original))
            records.append(record)
        self._refuse_if_reshaped(unreadable, len(records))
        return records

    def note_problems(self, key: object, problems: list[Problem]) -> None:
        """Count each problem of a row; log the first few of each kind per field."""
        for problem in problems:
            if self.sync_summary.note(self.name, problem.field, problem.kind):
                self.logger.warning(
                    "%s %s=%s: %s %s.",
                    self.name,
                    self.primary_keys[0],
                    key,
                    problem.path,
                    _PROBLEM_WORDS[problem.kind].format(original=_shown(problem.original)),
                )

    def quarantine(self, row: object, key: object, reason: str) -> None:
        """Hold a row that cannot be loaded in the ``quarantine`` stream, and count it."""
        self.quarantined_rows += 1
        self.sync_summary.quarantined[self.name] += 1
        quarantine = t.cast("QuarantineStream", self._tap.streams[QUARANTINE_STREAM])
        quarantine_id = quarantine.hold(self.name, key, reason, row)
        if self.sync_summary.note(self.name, "(row)", "quarantined"):
            self.logger.warning(
                "%s: quarantined a row (%s=%s) because %s; it is in the quarantine stream "
                "as %s (docs/runbook.md#quarantined-rows).",
                self.name,
                self.primary_keys[0],
                _shown(key),
                reason,
                quarantine_id[:12],
            )

    quarantined_rows = 0

    def _refuse_if_reshaped(
        self, unreadable: dict[str, list[tuple[object, object]]], rows: int
    ) -> None:
        share = float(self.config.get("max_unreadable_share", 0.5))
        for field, cases in unreadable.items():
            if len(cases) >= _REFUSE_MIN_ROWS and len(cases) > share * rows:
                key, original = cases[0]
                msg = (
                    f"{self.name}: {field} could not be read on {len(cases)} of {rows} rows of "
                    f"one page of {self.path} (for example {self.primary_keys[0]}={key}: "
                    f"{_shown(original)}). The API has changed this field's format. Loading "
                    "the page would put nulls in place of good values, so the page was not "
                    "written (max_unreadable_share, docs/runbook.md#refused-a-changed-field)."
                )
                raise ContentRefusedError(msg)
