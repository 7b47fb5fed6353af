"""Fit untrusted API rows to a stream's JSON schema: key names, types and text.

The API's content is untrusted input. It spells keys in several ways (``HiringPaths``,
``hiringpaths``), misspells one (``disableAppyOnline``), sends flags as "Y"/"N" or
"True"/"False", numbers and dates as text, and sometimes a value of another shape than
usual: a string where a list belongs, an object where text belongs. ``SchemaConformer``
reads a schema once and then, for every row:

- renames keys to the schema's spelling (case-insensitively, plus explicit aliases);
- reads each value into its declared type with the pure parsers of ``normalize``;
- repairs what can be repaired without guessing: NUL characters (which PostgreSQL
  refuses) are removed, lone UTF-16 surrogates (half of an emoji) become U+FFFD, and a
  single value where the schema wants an array is wrapped in one;
- turns what cannot be read into null, and keeps the value as sent in the record's
  ``unreadable_values`` object, under the JSON Pointer of where it was, together with
  top-level fields the schema lacks and second spellings of a field. Nothing the API
  sent is lost silently, and the typed columns never hold a value of the wrong type.

Each repair and each unreadable value is also returned as a ``Problem``, so the stream
can count and log them. Keys the schema does not know are kept (cleaned of NULs) in
nested objects, and reported too.
"""

from __future__ import annotations

import math
import re
import typing as t
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tap_usajobs.normalize import parse_amount, parse_bool, parse_datetime

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

#: The property every record carries: values that could not be read, as sent, by path.
UNREADABLE_VALUES = "unreadable_values"

#: Kinds of ``Problem``.
UNREADABLE = "unreadable"
NUL_REMOVED = "nul_removed"
SURROGATE_REPLACED = "surrogate_replaced"
WRAPPED_IN_ARRAY = "wrapped_in_array"
UNKNOWN_FIELD = "unknown_field"
KEY_REPAIRED = "key_repaired"

_DATE_PREFIX = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})(?:$|[T\s])")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ARRAY_INDEX = re.compile(r"/\d+(?=/|$)")
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Problem:
    """Something about one value of a row: where (a JSON Pointer), what, and as sent."""

    path: str
    kind: str
    original: object = None

    @property
    def field(self) -> str:
        """The path with array positions as ``*``: the same field in every row."""
        return _ARRAY_INDEX.sub("/*", self.path)


Converter = t.Callable[[object, str, list[Problem]], object]


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
    """Read 767342200, "767342200" or 2.0 as a 64-bit integer; anything else is None.

    A target stores integers as bigint, so a larger one is as unreadable as text.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        amount = parse_amount(value) if isinstance(value, (str, float, Decimal)) else None
        if amount is None or amount != amount.to_integral_value():
            return None
        number = int(amount)
    return number if _BIGINT_MIN <= number <= _BIGINT_MAX else None


def parse_text(value: object) -> str | None:
    """Keep strings; write numbers as text (a grade sent as 15 is "15")."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    return None


def repair_text(text: str) -> tuple[str, list[str]]:
    """``text`` without NUL characters and with lone surrogates as U+FFFD; what was done."""
    done = []
    if "\x00" in text:
        text = text.replace("\x00", "")
        done.append(NUL_REMOVED)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
        done.append(SURROGATE_REPLACED)
    return text, done


def clean(value: object) -> object:
    """A JSON value with every string (keys too) repaired: safe for a jsonb column.

    NaN and the infinities, which JSON cannot hold, become their names as text.
    """
    if isinstance(value, str):
        return repair_text(value)[0] if _BAD_TEXT.search(value) else value
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _types(schema: Mapping[str, t.Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _scalar_parser(schema: Mapping[str, t.Any]) -> Callable[[object], object] | None:
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
    return None  # no type declared: any JSON value is fine


def _scalar(parse: Callable[[object], object] | None) -> Converter:
    keeps_blank = parse is parse_text

    def convert(value: object, path: str, problems: list[Problem]) -> object:
        if isinstance(value, str):
            if _BAD_TEXT.search(value):
                value, done = repair_text(value)
                problems.extend(Problem(path, kind) for kind in done)
            if not keeps_blank and not value.strip():
                return None  # "" is how the API leaves a value out
        if parse is None:
            return clean(value)
        typed = parse(value)
        if typed is None:
            problems.append(Problem(path, UNREADABLE, clean(value)))
        return typed

    return convert


def _array(item: Converter) -> Converter:
    def convert(value: object, path: str, problems: list[Problem]) -> object:
        if not isinstance(value, list):
            problems.append(Problem(path, WRAPPED_IN_ARRAY))
            value = [value]
        typed = []
        for index, element in enumerate(value):
            if element is None:
                continue
            converted = item(element, f"{path}/{index}", problems)
            if converted is not None:  # an unreadable element was recorded, and is left out
                typed.append(converted)
        return typed

    return convert


def _wins(exact: bool, typed: object, held_exact: bool, held: object) -> bool:  # noqa: FBT001
    """Whether a new spelling of a field replaces the one already held.

    A value beats no value; between two values, the schema's own spelling wins, else the
    first one read.
    """
    if typed is None or held is None:
        return held is None and typed is not None
    return exact and not held_exact


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
        self._fields: dict[str, Converter] = {
            name: self._converter(spec, aliases) for name, spec in properties.items()
        }

    def _converter(
        self,
        spec: Mapping[str, t.Any],
        aliases: Mapping[str, str] | None,
    ) -> Converter:
        types = _types(spec)
        if "object" in types and "properties" in spec:
            nested = SchemaConformer(spec, aliases)

            def convert(value: object, path: str, problems: list[Problem]) -> object:
                if isinstance(value, dict):
                    return nested.conform(value, path, problems)
                problems.append(Problem(path, UNREADABLE, clean(value)))
                return None

            return convert
        if "array" in types:
            return _array(self._converter(spec.get("items", {}), aliases))
        if "object" in types:  # an object of any keys: only its text is repaired

            def any_object(value: object, path: str, problems: list[Problem]) -> object:
                if isinstance(value, dict):
                    return clean(value)
                problems.append(Problem(path, UNREADABLE, clean(value)))
                return None

            return any_object
        return _scalar(_scalar_parser(spec))

    def conform(
        self, row: Mapping[str, t.Any], path: str, problems: list[Problem]
    ) -> dict[str, t.Any]:
        """``row`` with the schema's key names and types; problems are appended.

        Keys are cleaned before they are looked up, so a NUL in a key cannot carry a value
        past its type. When one field comes under several spellings, a value beats no
        value, and between values the schema's own spelling wins, else the first; every
        other value is kept as sent, under its own spelling.
        """
        conformed: dict[str, t.Any] = {}
        #: For each field: the spelling that gave its value, that value as sent, whether
        #: the spelling is the schema's own, and the problems of reading it.
        held: dict[str, tuple[str, object, bool, list[Problem]]] = {}
        for key, value in row.items():
            spelled = repair_text(key)[0] if isinstance(key, str) else str(key)
            name = self._names.get(spelled.lower())
            if name is None:
                problems.append(Problem(f"{path}/{spelled}", UNKNOWN_FIELD, clean(value)))
                conformed[spelled] = clean(value)
                continue
            found: list[Problem] = []
            typed = None if value is None else self._fields[name](value, f"{path}/{name}", found)
            exact = key == name  # as sent: a cleaned key is no longer the schema's spelling
            if name in held:
                loser = (spelled, value)
                if _wins(exact, typed, held[name][2], conformed[name]):
                    loser = held[name][:2]
                    conformed[name], held[name] = typed, (spelled, value, exact, found)
                if loser[1] is not None:  # kept, as sent, like any value left unused
                    problems.append(Problem(f"{path}/{loser[0]}", UNREADABLE, clean(loser[1])))
                continue
            conformed[name], held[name] = typed, (spelled, value, exact, found)
        for *_, found in held.values():
            problems.extend(found)
        return conformed

    def __call__(self, row: Mapping[str, t.Any]) -> tuple[dict[str, t.Any], list[Problem]]:
        """A new record for ``row`` (left untouched), and what was repaired or unreadable.

        The record's ``unreadable_values`` holds, by JSON Pointer, every value that was
        read as null because it could not be read, as it was sent.
        """
        problems: list[Problem] = []
        record = self.conform(row, "", problems)
        sent = record.get(UNREADABLE_VALUES)
        kept = {
            problem.path: problem.original
            for problem in problems
            # Fields the schema lacks are kept in nested objects; at the top level the
            # SDK drops them, so they are kept here.
            if problem.kind == UNREADABLE
            or (problem.kind == UNKNOWN_FIELD and problem.path.count("/") == 1)
        }
        if sent is not None:  # the API's own field of that name is not ours to overwrite
            kept[f"/{UNREADABLE_VALUES}"] = sent
        record[UNREADABLE_VALUES] = kept or None
        return record, problems
