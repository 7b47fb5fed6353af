"""Faults the fake injects, and raw edits of the postings it serves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .query import FAULT_KINDS, REWRITES


def fault(rule: object) -> dict[str, Any]:
    """Validate one fault rule and fill in its defaults; raise ValueError when malformed."""
    msg = f"a fault rule needs a kind in {FAULT_KINDS} and numeric fields: {rule!r}"
    if not isinstance(rule, dict) or rule.get("kind") not in FAULT_KINDS:
        raise ValueError(msg)
    checked = {
        "times": 1,
        "page": None,
        "keyword": None,  # only Search requests for this Keyword, when set
        "status": 503,
        "retry_after": None,
        "seconds": 1.0,
        **rule,
    }
    try:
        checked["times"] = int(checked["times"])
        checked["status"] = int(checked["status"])
        checked["seconds"] = float(checked["seconds"])
        checked["page"] = None if checked["page"] is None else int(checked["page"])
    except (TypeError, ValueError) as exc:
        raise ValueError(msg) from exc
    if checked["times"] < 1 or not 100 <= checked["status"] <= 599:
        raise ValueError(msg)
    if checked["kind"] == "rewrite" and not (REWRITES & checked.keys()):
        msg = f"a rewrite fault needs one of {sorted(REWRITES)}: {rule!r}"
        raise ValueError(msg)
    if checked["kind"] == "rewrite" and checked.get("items") not in (None, "empty", "page1"):
        msg = f'a rewrite fault\'s items is "empty" or "page1": {rule!r}'
        raise ValueError(msg)
    if checked["kind"] == "redirect" and not isinstance(checked.get("location"), str):
        msg = f"a redirect fault needs a location URL: {rule!r}"
        raise ValueError(msg)
    return checked


def pointer(path: str) -> list[str]:
    """The parts of a JSON Pointer ("/a/0/b"), unescaped."""
    if not path.startswith("/"):
        msg = f"not a JSON Pointer: {path!r}"
        raise ValueError(msg)
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def apply_edit(item: Any, operation: dict[str, Any]) -> None:
    """Apply one edit to a raw item: set a value, remove a key, or reformat a date.

    ``{"path": "/MatchedObjectDescriptor/ApplyURI", "value": "https://..."}`` sets;
    ``{"path": ..., "remove": true}`` removes; ``{"path": ..., "strftime": "%m/%d/%Y"}``
    rewrites an ISO date-time in another format, as a changed API would send it.
    """
    *parents, last = pointer(str(operation["path"]))
    target = item
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if operation.get("remove"):
        del target[key]
    elif "strftime" in operation:
        moment = datetime.fromisoformat(str(target[key])[:19])
        target[key] = moment.strftime(str(operation["strftime"]))
    else:
        target[key] = operation["value"]
