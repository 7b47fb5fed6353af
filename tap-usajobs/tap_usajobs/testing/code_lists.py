"""Fake ``/api/codelist/<name>``: real code list responses, with codes tests can remove.

The responses are real ones saved in ``codelists/`` (see ``codelists/SOURCES.md``). A
list is read from its file the first time it is asked for; after that the fake serves
its own copy, which ``change`` edits.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

DATA_DIR = Path(__file__).with_name("codelists")

#: The code lists the fake serves: one per code list stream of the tap.
CODE_LIST_NAMES = (
    "agencysubelements",
    "countries",
    "countrysubdivisions",
    "hiringpaths",
    "occupationalseries",
    "payplans",
    "positionofferingtypes",
    "positionopeningstatuses",
    "positionscheduletypes",
    "remunerationrateintervalcodes",
    "securityclearances",
    "servicetypes",
    "travelpercentages",
    "whomayapply",
)


class CodeListStore:
    """The code lists, loaded on demand and editable, thread-safe."""

    def __init__(self) -> None:
        """Start with no list loaded."""
        self._lock = threading.Lock()
        self._lists: dict[str, dict[str, Any]] = {}

    def _list(self, name: str) -> dict[str, Any]:
        """The fake's copy of list ``name``; call with the lock held."""
        if name not in self._lists:
            path = DATA_DIR / f"codelist_{name}.json"
            self._lists[name] = json.loads(path.read_text(encoding="utf-8"))
        return self._lists[name]

    def response(self, name: str, now: datetime) -> bytes:
        """The body of ``GET /api/codelist/<name>``; KeyError for an unknown list."""
        if name not in CODE_LIST_NAMES:
            raise KeyError(name)
        with self._lock:
            body = {**self._list(name), "DateGenerated": f"{now.isoformat()}Z"}
            return json.dumps(body).encode()

    def change(self, name: str, remove: list[str], add: list[dict[str, Any]]) -> dict[str, Any]:
        """Drop the codes in ``remove`` and append ``add``; return what changed."""
        if name not in CODE_LIST_NAMES:
            raise KeyError(name)
        with self._lock:
            values: list[dict[str, Any]] = self._list(name)["CodeList"][0]["ValidValue"]
            removed = [value["Code"] for value in values if value["Code"] in set(remove)]
            values[:] = [value for value in values if value["Code"] not in set(remove)]
            values.extend(add)
            return {"list": name, "removed": removed, "added": [v.get("Code") for v in add]}

    def codes(self) -> dict[str, list[str]]:
        """Every served list's codes, loading them if needed."""
        with self._lock:
            return {
                name: [value["Code"] for value in self._list(name)["CodeList"][0]["ValidValue"]]
                for name in CODE_LIST_NAMES
            }
