"""The base stream: authentication, error mapping and retries shared by every stream."""

from __future__ import annotations

import json
import random
import typing as t
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import cached_property
from http import HTTPStatus
from urllib.parse import urlparse

import requests
import requests.adapters
from singer_sdk.authenticators import APIAuthenticatorBase, APIKeyAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.streams import RESTStream

from tap_usajobs.sharding import partitions_for_shard

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable

    from backoff.types import Details

    from tap_usajobs.summary import SyncSummary

#: Statuses that mean "come back later". 408 and 425 are rare but harmless to retry.
RETRIABLE_STATUSES = frozenset({408, 425, 429})
_AUTH_STATUSES = frozenset({HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN})
_ERROR_BODY_CHARS = 300


def payload(response: requests.Response) -> dict[str, t.Any]:
    """Return the response's JSON body, parsed once and cached on the response."""
    cached = getattr(response, "_usajobs_payload", None)
    if cached is None:
        cached = response.json()
        response._usajobs_payload = cached  # type: ignore[attr-defined]  # noqa: SLF001
    return t.cast("dict[str, t.Any]", cached)


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """Read a ``Retry-After`` header given in seconds or as an HTTP date."""
    if response is None:
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
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class _CountingAdapter(requests.adapters.HTTPAdapter):
    """A keep-alive connection pool that counts the responses it receives."""

    def __init__(self, on_response: t.Callable[[], None], **kwargs: t.Any) -> None:  # noqa: ANN401
        super().__init__(**kwargs)
        self._on_response = on_response

    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:  # type: ignore[override]  # noqa: ANN401
        """Send the request; count the answer (a failure to connect raises instead)."""
        response = super().send(request, **kwargs)
        self._on_response()
        return response


class _NoKey(APIAuthenticatorBase):
    """Leaves a request exactly as built: no key, and its query string untouched."""

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
    def url_base(self) -> str:
        """The API root, from ``base_url``."""
        return str(self.config["base_url"]).rstrip("/")

    @cached_property
    def authenticator(self) -> APIAuthenticatorBase:
        """Send the key in the ``Authorization-Key`` header, never in the URL."""
        if not self.sends_api_key:
            return _NoKey()
        return APIKeyAuthenticator(
            key="Authorization-Key",
            value=self.config["api_key"],
            location="header",
        )

    @property
    def http_headers(self) -> dict[str, str]:
        """The headers USAJobs asks for; ``User-Agent`` is the key owner's email."""
        return {
            "Host": urlparse(self.url_base).netloc,
            "User-Agent": self.config["user_agent"],
            "Accept": "application/json",
        }

    @property
    def requests_session(self) -> requests.Session:
        """The SDK's session, its pools as wide as the page pool and counting responses."""
        session = super().requests_session
        if not isinstance(session.get_adapter(self.url_base), _CountingAdapter):
            width = max(10, int(self.config.get("max_concurrent_requests", 1)))
            adapter = _CountingAdapter(
                lambda: self.sync_summary.count("requests", self.name),
                pool_connections=1,
                pool_maxsize=width,
            )
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        return session

    @property
    def timeout(self) -> int:
        """Seconds to wait for a response before retrying."""
        return int(self.config["request_timeout"])

    def backoff_max_tries(self) -> int:
        """Total attempts per request: the first one plus ``max_retries``."""
        return int(self.config["max_retries"]) + 1

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

    def backoff_handler(self, details: Details) -> None:
        """Count the retry, then log it as the SDK does."""
        self.sync_summary.count("retries", self.name)
        super().backoff_handler(details)

    def backoff_jitter(self, value: float) -> float:
        """Jitter is already applied by the wait generator."""
        return value

    def validate_response(self, response: requests.Response) -> None:
        """Map USAJobs failures to fatal or retriable errors with actionable messages."""
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
        if status in RETRIABLE_STATUSES or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= HTTPStatus.BAD_REQUEST:
            raise FatalAPIError(self.response_error_message(response))
        if status == HTTPStatus.NO_CONTENT:
            return
        try:
            body = payload(response)
        except (ValueError, json.JSONDecodeError) as exc:
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

    def response_error_message(self, response: requests.Response) -> str:
        """Status, path and the start of the body; no headers, no query string."""
        body = response.text[:_ERROR_BODY_CHARS] if response.content else ""
        path = urlparse(response.url).path or self.path
        return f"HTTP {response.status_code} {response.reason} for {path}: {body}".rstrip(": ")

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, t.Any]]:
        """Yield the records of a validated response without parsing it again."""
        if response.status_code == HTTPStatus.NO_CONTENT or not response.content:
            return
        yield from self.records_from_payload(payload(response))

    def records_from_payload(self, body: dict[str, t.Any]) -> Iterable[dict[str, t.Any]]:
        """Extract the raw records from a parsed body."""
        raise NotImplementedError
