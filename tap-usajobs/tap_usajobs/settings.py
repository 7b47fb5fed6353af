"""Reading and checking the tap's settings: one clear message per bad setting.

Settings arrive as JSON values from a config file, or as strings: meltano.yml declares the
tap's integer, array and object settings as strings, because Meltano's own casting of a
``TAP_USAJOBS_<SETTING>`` variable fails on a bad value (``abc``, or an empty variable)
with a traceback that never names the setting. So the tap parses those strings here,
the way Meltano would have (``"50"``, ``'["a", "b"]'``, ``'{"k": "v"}'``), and says what
is wrong in terms a user can act on: the setting, its variable, what it expects.

An empty value is an error, never "use the default": Meltano hands an empty variable
through as ``""``, and quietly replacing it with the default would hide a deployment
mistake (a blank line in an env file, a secret that did not resolve).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import math
import re
import typing as t
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

from tap_usajobs.normalize import parse_datetime

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, MutableMapping

ENV_PREFIX = "TAP_USAJOBS_"
#: Loose on purpose: USAJobs only needs something that is plainly an email address.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SHOWN_CHARS = 60

#: What a setting expects, where its schema alone would say it too vaguely.
EXPECTED = {
    "api_key": "your USAJobs API key (https://developer.usajobs.gov/apirequest/)",
    "user_agent": "the email address the API key was issued to",
    "base_url": "an http(s) URL such as https://data.usajobs.gov",
    "start_date": "an ISO 8601 date or date-time such as 2026-10-01 or 2026-10-01T00:00:00Z",
    "keywords": 'a JSON array of strings such as ["data engineering", "nurse"]',
    "search_params": 'a JSON object such as {"Organization": "AF"}',
    "historic_params": 'a JSON object such as {"HiringAgencyCodes": "VATA"}',
    "historic_end_date": "a date as YYYY-MM-DD such as 2026-06-30",
}

CONFIG_HINT = (
    "Under Meltano, settings come from meltano.yml or TAP_USAJOBS_<SETTING> environment "
    "variables (`meltano config list tap-usajobs` shows where each value comes from); "
    "without Meltano, from the tap's --config file."
)


class _InvalidError(ValueError):
    """A value that does not fit its setting; the message says why, if not obvious."""


def env_var(setting: str) -> str:
    """The environment variable Meltano reads ``setting`` from."""
    return ENV_PREFIX + setting.upper()


def _type(schema: Mapping[str, t.Any]) -> str:
    declared = schema.get("type", "string")
    types = [declared] if isinstance(declared, str) else list(declared)
    return next((name for name in types if name != "null"), "string")


def _range(schema: Mapping[str, t.Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    if high is not None:
        return f" of at most {high}"
    return ""


_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "array": "a JSON array",
    "object": "a JSON object",
    "boolean": "true or false",
}


def expected(name: str, schema: Mapping[str, t.Any]) -> str:
    """What ``name`` accepts, in words."""
    if name in EXPECTED:
        return EXPECTED[name]
    kind = _type(schema)
    words = _WORDS.get(kind, "text")
    return words + _range(schema) if kind in {"integer", "number"} else words


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _parse_json(value: str, wanted: type) -> object:
    # The same leniency as Meltano's own parsing: JSON, or a Python literal.
    try:
        parsed = json.loads(value)
    except ValueError:
        try:
            parsed = ast.literal_eval(value.strip())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise _InvalidError from None
    if not isinstance(parsed, wanted):
        raise _InvalidError
    return parsed


def _in_range(number: float, schema: Mapping[str, t.Any]) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and number < low) or (high is not None and number > high):
        raise _InvalidError


def _parse_integer(value: object, schema: Mapping[str, t.Any]) -> int:
    if isinstance(value, bool):
        raise _InvalidError
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER.match(value.strip()):
        number = int(value.strip())
    else:
        raise _InvalidError
    _in_range(number, schema)
    return number


def _parse_number(value: object, schema: Mapping[str, t.Any]) -> float:
    if isinstance(value, bool):
        raise _InvalidError
    if isinstance(value, int | float | Decimal):  # JSON read with Decimal numbers
        number: float = float(value) if isinstance(value, Decimal) else value
    elif isinstance(value, str) and _NUMBER.match(value.strip()):
        text = value.strip()
        number = int(text) if _INTEGER.match(text) else float(text)
    else:
        raise _InvalidError
    if not math.isfinite(number):
        raise _InvalidError
    _in_range(number, schema)
    return number


def _parse_array(value: object, schema: Mapping[str, t.Any]) -> list[t.Any]:
    items = _parse_json(value, list) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise _InvalidError
    if _type(schema.get("items", {})) == "string" and not all(isinstance(i, str) for i in items):
        raise _InvalidError
    return items


def _parse_object(value: object) -> dict[str, t.Any]:
    parsed = _parse_json(value, dict) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise _InvalidError
    return parsed


def _parse_date(value: str) -> str:
    """A calendar date written YYYY-MM-DD, as the historic windows compare it."""
    if not _DATE.match(value.strip()):
        raise _InvalidError
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise _InvalidError from None


def _parse_string(name: str, value: object, schema: Mapping[str, t.Any]) -> str:
    if not isinstance(value, str):
        raise _InvalidError
    if schema.get("format") == "uri":
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise _InvalidError
    if schema.get("format") == "date-time":
        # Normalised to RFC 3339 in UTC: what the streams and the SDK then parse.
        parsed = parse_datetime(value)
        if parsed is None:
            raise _InvalidError
        return parsed
    if schema.get("format") == "date":
        return _parse_date(value)
    if name == "user_agent" and not EMAIL.match(value):
        raise _InvalidError
    if name == "api_key" and (value != value.strip() or not value.isprintable()):
        msg = (
            f"api_key has whitespace or a control character (a line break?) around or in "
            f"it: paste the key into {env_var(name)} again, as one line without spaces."
        )
        raise _InvalidError(msg)
    return value


def parse_value(name: str, value: object, schema: Mapping[str, t.Any]) -> object:
    """``value`` as setting ``name`` uses it; raises ValueError when it does not fit."""
    kind = _type(schema)
    if kind == "integer":
        return _parse_integer(value, schema)
    if kind == "number":
        return _parse_number(value, schema)
    if kind == "array":
        return _parse_array(value, schema)
    if kind == "object":
        return _parse_object(value)
    if kind == "string":
        return _parse_string(name, value, schema)
    return value


def _empty_message(name: str, schema: Mapping[str, t.Any], *, required: bool) -> str:
    env, wants = env_var(name), expected(name, schema)
    if required:
        return f"{name} is empty: set {env} to {wants}."
    if "default" in schema:
        default = json.dumps(schema["default"])
        return (
            f"{name} is empty: {env} is set to an empty string, which does not fall back to "
            f"the default {default}. Unset {env} to use the default, or set it to {wants}."
        )
    return f"{name} is empty: unset {env}, or set it to {wants}."


def check_settings(
    config: MutableMapping[str, t.Any],
    properties: Mapping[str, Mapping[str, t.Any]],
    required: Iterable[str] = (),
) -> dict[str, str]:
    """Parse the settings in ``properties`` in place; a message for each one that is bad.

    Returns the messages by setting, in schema order. A value that parses is replaced by
    its parsed form (``"50"`` becomes ``50``); ``None`` counts as not set. Secret values
    are never quoted.
    """
    required = set(required)
    problems: dict[str, str] = {}
    for name, schema in properties.items():
        value = config.get(name)
        if value is None:
            config.pop(name, None)
            if name in required:
                problems[name] = (
                    f"{name} is required but not set: set {env_var(name)} to "
                    f"{expected(name, schema)}."
                )
            continue
        if isinstance(value, str) and not value.strip():
            problems[name] = _empty_message(name, schema, required=name in required)
            continue
        try:
            config[name] = parse_value(name, value, schema)
        except _InvalidError as invalid:
            got = "" if schema.get("secret") else f", got {_shown(value)}"
            problems[name] = (
                str(invalid)
                if invalid.args
                else f"{name} must be {expected(name, schema)}{got}: fix {env_var(name)}."
            )
    if not {"shard_index", "shard_count"} & problems.keys():
        index, count = config.get("shard_index", 0), config.get("shard_count", 1)
        if isinstance(index, int) and isinstance(count, int) and index >= count:
            problems["shard_index"] = (
                f"shard_index must be less than shard_count ({count}), got {index}: fix "
                f"{env_var('shard_index')} or {env_var('shard_count')}."
            )
    start, end = config.get("start_date"), config.get("historic_end_date")
    if (
        not {"start_date", "historic_end_date"} & problems.keys()
        and isinstance(start, str)
        and isinstance(end, str)
        and end < start[:10]
    ):
        problems["historic_end_date"] = (
            f"historic_end_date ({end}) is before start_date ({start[:10]}): fix "
            f"{env_var('historic_end_date')} or {env_var('start_date')}."
        )
    return problems


def _stream_pattern(pattern: str) -> str:
    # Meltano's own split: an optional "!", then the stream part up to the first
    # unescaped dot (the rest selects properties).
    return re.split(r"(?<!\\)\.", pattern.removeprefix("!"), maxsplit=1)[0]


def unknown_select_patterns(patterns: Iterable[str], stream_ids: Iterable[str]) -> list[str]:
    """The ``select`` patterns whose stream part matches none of ``stream_ids``."""
    ids = list(stream_ids)
    return [
        pattern
        for pattern in patterns
        if not any(fnmatch.fnmatchcase(stream_id, _stream_pattern(pattern)) for stream_id in ids)
    ]


def meltano_select_patterns(environ: Mapping[str, str]) -> list[str]:
    """The ``select`` and ``select_filter`` patterns Meltano applied, from its variables.

    Meltano passes a plugin's extras to it as ``MELTANO_EXTRACT__<EXTRA>``; they are absent
    outside Meltano, and then nothing is checked.
    """
    patterns: list[str] = []
    for variable in ("MELTANO_EXTRACT__SELECT", "MELTANO_EXTRACT__SELECT_FILTER"):
        try:
            value = json.loads(environ.get(variable) or "[]")
        except ValueError:
            continue
        if isinstance(value, list):
            patterns.extend(item for item in value if isinstance(item, str))
    return patterns
