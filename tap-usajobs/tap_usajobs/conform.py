"""Fit loosely shaped API rows to a stream's JSON schema, key names and types alike.

The Historic JOA API spells the same key in several ways (``HiringPaths``,
``hiringpaths``, ``hiringPaths``), has a typo in one (``disableAppyOnline``), sends flags
as "Y"/"N" and dates as plain text; the code lists send "Yes"/"No" and zoneless times.
``SchemaConformer`` reads a schema once and then, for every row, renames keys to the
schema's spelling (case-insensitively, plus explicit aliases) and converts each value to
the declared type with the pure parsers of ``normalize``. A value that cannot be read
becomes ``None``; keys the schema does not know are kept, so the SDK warns about them
instead of them vanishing silently.
"""

from __future__ import annotations

import re
import typing as t
from datetime import date
from decimal import Decimal

from tap_usajobs.normalize import parse_amount, parse_bool, parse_datetime

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_DATE_PREFIX = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})(?:$|[T\s])")


def parse_date(value: object) -> str | None:
    """Return an RFC 3339 full-date ("2024-06-19") for "2024-06-19" or "2024-06-19T00:00:00".

    A time part is dropped as sent, without moving the date between zones: the API's
    dates are calendar dates.
    """
    if isinstance(value, date):
        return value.isoformat()[:10]
    if not isinstance(value, str):
        return None
    match = _DATE_PREFIX.match(value)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1)).isoformat()
    except ValueError:  # 2024-02-30
        return None


def parse_integer(value: object) -> int | None:
    """Read 767342200, "767342200" or 2.0 as an integer; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    amount = parse_amount(value) if isinstance(value, (str, float, Decimal)) else None
    if amount is None or amount != amount.to_integral_value():
        return None
    return int(amount)


def parse_text(value: object) -> str | None:
    """Keep strings; write numbers as text (a grade sent as 15 is "15")."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    return None


def _types(schema: Mapping[str, t.Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _scalar_parser(schema: Mapping[str, t.Any]) -> Callable[[object], object]:
    types = _types(schema)
    if "boolean" in types:
        return parse_bool
    if "integer" in types:
        return parse_integer
    if "number" in types:
        return parse_amount
    if "string" in types:
        return {"date-time": parse_datetime, "date": parse_date}.get(
            schema.get("format", ""), parse_text
        )
    return lambda value: value


class SchemaConformer:
    """Conform rows to one object schema; build it once per stream, call it per row."""

    def __init__(
        self,
        schema: Mapping[str, t.Any],
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        """Read ``schema``; ``aliases`` maps other spellings (any case) to property names."""
        properties: Mapping[str, Mapping[str, t.Any]] = schema.get("properties", {})
        self._names = {name.lower(): name for name in properties}
        self._names.update({alias.lower(): name for alias, name in (aliases or {}).items()})
        self._fields: dict[str, Callable[[object], object]] = {
            name: self._converter(spec, aliases) for name, spec in properties.items()
        }

    def _converter(
        self,
        spec: Mapping[str, t.Any],
        aliases: Mapping[str, str] | None,
    ) -> Callable[[object], object]:
        types = _types(spec)
        if "object" in types and "properties" in spec:
            nested = SchemaConformer(spec, aliases)
            return lambda value: nested(value) if isinstance(value, dict) else None
        if "array" in types:
            item = self._converter(spec.get("items", {}), aliases)
            return lambda value: [item(v) for v in value] if isinstance(value, list) else None
        return _scalar_parser(spec)

    def __call__(self, row: Mapping[str, t.Any]) -> dict[str, t.Any]:
        """Return a new row with the schema's key names and types; ``row`` is untouched."""
        conformed: dict[str, t.Any] = {}
        for key, value in row.items():
            name = self._names.get(key.lower(), key)
            convert = self._fields.get(name)
            typed = convert(value) if convert and value is not None else value
            # Two spellings of one key in a row: the one that carries a value wins.
            if conformed.get(name) is None:
                conformed[name] = typed
        return conformed
