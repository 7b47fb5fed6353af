"""Turn the Search API's loosely typed values into honest JSON types.

The API sends salaries as strings in several formats, dates in four formats (mostly
without a zone) and some flags as "True"/"False" strings. Every function here is pure
and returns ``None`` for values it cannot read, so one odd field never sinks a run;
``SchemaConformer`` (conform.py) keeps what they could not read, as sent.
"""

from __future__ import annotations

import math
import re
import typing as t
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

_AMOUNT_NOISE = re.compile(r"[\s$,]")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})


def parse_amount(value: object) -> Decimal | None:
    """Read a money amount such as "134751.0", "92166", "$1,234.50" or 25.5."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value)) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    try:
        amount = Decimal(_AMOUNT_NOISE.sub("", value))
        # Strip the API's cosmetic zeros ("32318.0000") without turning 1E+5 notation on.
        if amount == amount.to_integral():
            amount = amount.quantize(Decimal(1))
        else:
            amount = amount.normalize()
    except InvalidOperation:  # "", "N/A", "Infinity", or more digits than a Decimal holds
        return None
    return amount if amount.is_finite() else None  # "NaN" parses, but is no amount


def parse_datetime(value: object) -> str | None:
    """Return an RFC 3339 date-time in UTC for any of the API's date formats.

    Values without a zone ("2024-06-04T00:00:00.0000") are read as UTC: the API does
    not say which zone it means, and shifting them would invent precision (ADR 0003).
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # fromisoformat takes at most 6 fractional digits; the API sends 4 or 7.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc).isoformat()
    except (ValueError, OverflowError):  # 2024-02-30, or a zone that pushes past year 9999
        return None


def parse_bool(value: object) -> bool | None:
    """Read True/False, "True"/"False", "Yes"/"No" and friends; anything else is None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return None


def hoist_search_item(item: dict[str, t.Any]) -> dict[str, t.Any]:
    """Flatten one ``SearchResultItems`` entry into the fields of a ``jobs`` record.

    The descriptor's fields are hoisted to the top level next to ``MatchedObjectId`` (the
    control number, our key) so that targets get one column per field. Keys of the item
    other than these three are kept, so that they are counted as unknown fields. Values
    are left as sent: the stream's ``SchemaConformer`` types them.
    """
    descriptor = item.get("MatchedObjectDescriptor")
    record: dict[str, t.Any] = {
        key: value
        for key, value in item.items()
        if key not in {"MatchedObjectDescriptor", "MatchedObjectId", "RelevanceRank"}
    }
    if isinstance(descriptor, dict):
        record.update(descriptor)
    elif descriptor is not None:
        record["MatchedObjectDescriptor"] = descriptor
    record["MatchedObjectId"] = item.get("MatchedObjectId")
    record["RelevanceRank"] = item.get("RelevanceRank")
    return record
