"""Fake USAJobs Search API for tests, demos and benchmarks (stdlib only).

Use ``FakeUsaJobsServer`` in-process, or run ``python -m tap_usajobs.testing.fake_api --help``.
The package: ``query`` (filters, matching, pages), ``faults`` (injected faults and raw
edits), ``state`` (postings, faults, request log), ``handler`` (routes and the server),
``cli`` (the command line).
It mimics the real API's auth headers, filters, paging, 500-row page limit and 10,000-row
query cap, and can inject faults (error statuses, truncated or short pages, slow answers,
dropped connections). Control endpoints under ``/_fake/`` need no key.

It can also lie the way a broken or hostile API could. ``POST /_fake/faults`` takes
``{"kind": "rewrite", ...}`` rules that rewrite Search pages (``count``, ``pages``,
``rows``, ``items``: "empty" or "page1", ``ignore_filters``; see ``_page_body``) and
``{"kind": "redirect", "location": URL}``. ``POST /_fake/postings`` takes raw edits of
what is served: ``{"mutate": {id: [edit]}}`` and ``{"mutate_all": [edit]}``, where an
edit sets (``value``), removes (``remove``) or reformats a date (``strftime``) at a JSON
Pointer ``path`` of the item (see ``_apply``). The request log says for each request
whether an ``Authorization-Key`` came along (never its value).

It also serves the public endpoints, which need no key: Historic JOA (``/api/historicjoa``
and ``/api/historicjoa/announcementtext``, see ``../historic.py``) and the code lists
(``/api/codelist/<name>``, see ``../code_lists.py``). Their control endpoints:

- ``GET /_fake/historic``: every historic row.
- ``POST /_fake/historic``: ``{"add": [{"positionOpenDate": "2026-03-02"}]}`` adds (late)
  announcements, ``{"finalize": true}`` makes every status final, ``{"set_status":
  {"<control number>": "Job canceled"}}`` sets one, and ``{"faults": [...]}`` queues
  one-shot faults: ``{"kind": "status", "status": 503}``, ``{"kind": "repeat_token"}``
  (a ``next`` link that repeats the token just used), ``{"kind": "short", "rows": 2}``
  (the last page of the next query lacks rows that ``totalCount`` still counts).
- ``GET /_fake/codelists``: every served list's codes; ``POST /_fake/codelists`` with
  ``{"list": "payplans", "remove": ["AA"], "add": [{...}]}`` edits one.
- ``GET /_fake/keyless-requests``: requests to the public endpoints, each with whether
  an ``Authorization-Key`` came along (never its value).
"""

from __future__ import annotations

from .cli import main
from .handler import FakeUsaJobsServer
from .state import FakeApiConfig

__all__ = ["FakeApiConfig", "FakeUsaJobsServer", "main"]
