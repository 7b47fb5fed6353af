"""Paging for the Search API."""

from __future__ import annotations

import math
import typing as t

from singer_sdk.pagination import PageNumberPaginator

from tap_usajobs.client import payload

if t.TYPE_CHECKING:
    import requests

#: The Search API silently serves no row past this index of a query.
SEARCH_ROW_CAP = 10_000


class SearchPaginator(PageNumberPaginator):
    """Walk ``Page`` = 1..N, where N comes from the first response.

    ``UserArea.NumberOfPages`` is a string, and pages past the 10,000-row cap come back
    empty; both are handled here so the stream never stops after page one nor asks for
    pages that cannot exist. Queries over the cap are split before paging (search.py).
    """

    def __init__(
        self,
        results_per_page: int,
        row_cap: int = SEARCH_ROW_CAP,
    ) -> None:
        """Start at page 1 of a query whose pages hold ``results_per_page`` rows.

        ``row_cap`` is how many rows of a query the API serves at most (0: no cap).
        """
        super().__init__(start_value=1)
        self.results_per_page = results_per_page
        self.row_cap = row_cap
        self.total_rows: int | None = None
        self.last_page: int | None = None

    def has_more(self, response: requests.Response) -> bool:
        """Whether another page of this query can hold rows."""
        result = payload(response).get("SearchResult") or {}
        if self.last_page is None:
            self.total_rows = int(result.get("SearchResultCountAll") or 0)
            self.last_page = self._reachable_pages(result)
        return self.current_value < self.last_page

    def _reachable_pages(self, result: dict[str, t.Any]) -> int:
        announced = int(str((result.get("UserArea") or {}).get("NumberOfPages") or 0))
        total = self.total_rows or 0
        reachable_rows = min(total, self.row_cap) if self.row_cap else total
        by_count = math.ceil(reachable_rows / self.results_per_page)
        # Trust the smaller of the two: NumberOfPages may count pages past the cap.
        return min(announced, by_count) if announced else by_count
