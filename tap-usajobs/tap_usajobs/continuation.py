"""Continuation paging of the Historic JOA endpoints (``paging.next``).

A page looks like::

    {"paging": {"metadata": {"totalCount": 812, "pageSize": 500, "continuationToken": "..."},
                "next": "/api/historicjoa?continuationtoken=...&startpositionopendate=..."},
     "data": [...]}

``next`` is a path relative to the API root, with lower-cased parameter names and a token
that is already URL-encoded, so it is followed exactly as written. No rows at all come as
HTTP 204 with an empty body, or as the literal text "204 No Content".
"""

from __future__ import annotations

import logging
import sys
import typing as t
from http import HTTPStatus
from urllib.parse import urlsplit

from singer_sdk.pagination import BaseHATEOASPaginator

from tap_usajobs.client import payload

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    import requests

logger = logging.getLogger(__name__)

_NO_CONTENT_TEXT = b"204 No Content"
_MAX_COUNT_DIGITS = 12


def is_empty_answer(response: requests.Response) -> bool:
    """Whether the API said "no rows": HTTP 204, an empty body or "204 No Content"."""
    if response.status_code == HTTPStatus.NO_CONTENT:
        return True
    body = response.content.strip()
    return not body or body.strip(b'"') == _NO_CONTENT_TEXT


def continuation_token(next_link: str) -> str:
    """The ``continuationtoken`` of a ``next`` link as written (still encoded), else the link."""
    for pair in urlsplit(next_link).query.split("&"):
        name, _, value = pair.partition("=")
        if name.lower() == "continuationtoken":
            return value
    return next_link


class ContinuationPaginator(BaseHATEOASPaginator):
    """Follow ``paging.next`` until it is empty, and count what arrives against ``totalCount``.

    A token that comes back a second time would make the API serve the same pages
    forever; paging stops there with a warning, and the shortfall shows in the count. So
    does paging past ``max_pages``, whatever new tokens the API keeps sending.
    """

    def __init__(self, label: str, max_pages: int, path: str) -> None:
        """Page one query of the endpoint at ``path``; ``label`` names it in log messages."""
        super().__init__()
        self.label = label
        self.max_pages = max_pages
        self.path = path.rstrip("/").lower()
        self.pages = 0
        self.total_count: int | None = None
        self.counts_disagree = False
        self.rows_received = 0
        self.stopped_on_repeated_token = False
        self.stopped_on_budget = False
        self.stopped_on_bad_link = False
        self._tokens_seen: set[str] = set()

    @override
    def advance(self, response: requests.Response) -> None:
        """Count the page's rows, then move on to its ``next`` link."""
        self.pages += 1
        if not is_empty_answer(response):
            body = payload(response)
            paging = body.get("paging")
            metadata = paging.get("metadata") if isinstance(paging, dict) else None
            total = _count(metadata.get("totalCount")) if isinstance(metadata, dict) else None
            if self.pages == 1:
                self.total_count = total
            elif total != self.total_count:
                self.counts_disagree = True
            self.rows_received += len(body.get("data") or [])
        super().advance(response)

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page without rows but with a ``next`` link is not the end."""
        return self._next_link(response) is not None

    @override
    def get_next_url(self, response: requests.Response) -> str | None:
        """The ``next`` link, unless it is missing, empty or repeats an earlier token.

        A link that is not a path of the same endpoint is refused too, so paging can never
        lead to another host.
        """
        link = self._next_link(response)
        if link is None:
            return None
        if not self._same_endpoint(link):
            self.stopped_on_bad_link = True
            logger.warning(
                "%s: the API sent a next link that is not a path of %s: %r; stopping here.",
                self.label,
                self.path,
                link[:80],
            )
            return None
        if self.pages >= self.max_pages:
            self.stopped_on_budget = True
            logger.warning(
                "%s: stopping after %d pages (max_requests_per_query), though the API sent "
                "another next link.",
                self.label,
                self.pages,
            )
            return None
        token = continuation_token(link)
        if token in self._tokens_seen:
            self.stopped_on_repeated_token = True
            logger.warning(
                "%s: the API sent continuation token %r a second time after %d rows; "
                "stopping here instead of paging in a loop.",
                self.label,
                token[:40],
                self.rows_received,
            )
            return None
        self._tokens_seen.add(token)
        return link

    def _same_endpoint(self, link: str) -> bool:
        try:
            parts = urlsplit(link)
        except ValueError:  # an unparsable host part, such as "http://[::1"
            return False
        return (
            link.startswith("/")
            and not link.startswith("//")
            and not (parts.scheme or parts.netloc)
            and parts.path.rstrip("/").lower() == self.path
        )

    @staticmethod
    def _next_link(response: requests.Response) -> str | None:
        if is_empty_answer(response):
            return None
        paging = payload(response).get("paging")
        link = paging.get("next") if isinstance(paging, dict) else None
        return link if isinstance(link, str) and link.strip() else None


def _count(value: object) -> int | None:
    """``totalCount`` as a whole number (ASCII digits), or None when it is not one."""
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_COUNT_DIGITS):
        return None
    return int(text)
