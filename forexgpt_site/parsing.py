"""Values users type, read one way everywhere (forms, the API, the commands)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import date, datetime

import pandas as pd

from forexgpt_site.errors import DomainError


def parse_utc(value, name: str = "date/time") -> datetime | None:
    """An ISO 8601 date or date-time as an aware UTC datetime; naive values are UTC; blank is None.
    ValueError names the field."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        ts = pd.Timestamp(value)
    else:
        try:
            ts = pd.Timestamp(str(value).strip())
        except (TypeError, ValueError):
            ts = pd.NaT
    if pd.isna(ts):
        raise DomainError(f"{name} {value!r} is not a date/time (use ISO 8601, e.g. 2024-01-31 or 2024-01-31T12:00Z)")
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


DATE_ONLY = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")


def parse_utc_range(given: Mapping) -> tuple[datetime | None, datetime | None]:
    """`start` and `end` of a request (blank = None), the first not after the second. One rule on every
    page, API and command: an `end` given as a date alone (2024-01-31) includes that whole day - its
    last second, 23:59:59 UTC; with a time it is that time."""
    start, end = parse_utc(given.get("start"), "start"), parse_utc(given.get("end"), "end")
    raw_end = given.get("end")
    if end is not None and (
        (isinstance(raw_end, str) and DATE_ONLY.fullmatch(raw_end))
        or (isinstance(raw_end, date) and not isinstance(raw_end, datetime))
    ):
        end = end.replace(hour=23, minute=59, second=59, microsecond=0)
    if start and end and start > end:
        raise DomainError(f"start {start:%Y-%m-%d %H:%M} is after end {end:%Y-%m-%d %H:%M}")
    return start, end


def range_words(start: datetime | None, end: datetime | None) -> str:
    """A range as a message says it: " from 2024-01-01 00:00 to 2024-01-31 23:59" (either side left out
    when it is None, "" for neither), minutes in UTC."""
    return (f" from {start:%Y-%m-%d %H:%M}" if start else "") + (f" to {end:%Y-%m-%d %H:%M}" if end else "")


def request_values(request_class, data: Mapping, what: str, required: tuple = ()) -> dict:
    """The non-blank values of `data` for a request dataclass (blank - None or empty text - takes the
    default): a name that is not one of its fields, or a `required` one left blank, is a ValueError
    naming it ("unknown `what`(s) ...; known: ...")."""
    names = {f.name for f in fields(request_class)}
    unknown = set(data) - names
    if unknown:
        raise DomainError(
            f"unknown {what}(s) {', '.join(sorted(map(str, unknown)))}; known: {', '.join(sorted(names))}"
        )
    given = {k: v for k, v in data.items() if v is not None and not (isinstance(v, str) and not v.strip())}
    for name in required:
        if name not in given:
            raise DomainError(f"{name} is required")
    return given


def request_options(request_class, options: Mapping) -> dict:
    """The values in `options` (a command's flags, a form's cleaned data) named like a field of
    `request_class`: what a command or a form hands to the request's `from_dict`."""
    return {f.name: options[f.name] for f in fields(request_class) if f.name in options}


def parse_row_id(value, name: str) -> int | None:
    """A stored row's id: a form's model instance, an int or text of at most 18 digits; None stays None."""
    if value is None:
        return None
    value = getattr(value, "pk", value)
    if isinstance(value, bool) or not str(value).isdecimal() or len(str(value)) > 18:
        raise DomainError(f"{name} must be a {name.replace('_', ' ')}'s id, not {str(value)[:40]!r}")
    return int(value)


def row_ids(values) -> list[int]:
    """The row ids among query values (`?run=1&run=2`): whole numbers of at most 18 digits - what a
    64-bit key holds; anything else is no row, and is skipped."""
    return [int(v) for v in values if v.isascii() and v.isdecimal() and len(v) <= 18]


def request_dict(request) -> dict:
    """A request object's fields as plain values that its `from_dict` reads back: dates as ISO 8601 text."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value for name, value in asdict(request).items()
    }


def request_from_stored(request_class, data: Mapping):
    """The request object a run stored as `request.to_dict()`, read back without checking it again (it
    was checked when the run was made): dates from ISO 8601 text, tuples from JSON lists. A field the
    class no longer has is left out; one it gained since takes its default."""
    values = {}
    for f in fields(request_class):
        if f.name not in data:
            continue
        value, kind = data[f.name], str(f.type)
        if isinstance(value, str) and value and kind.startswith("datetime"):
            value = datetime.fromisoformat(value)
        elif isinstance(value, list) and kind.startswith("tuple"):
            value = tuple(value)
        values[f.name] = value
    return request_class(**values)


def _refuse_constant(name: str):
    raise DomainError(f"{name} is not a number JSON allows")


def parse_json_object(value, what: str) -> dict:
    """A JSON object given as text (a form field, a command's flag) or already parsed (an API body);
    blank is {}. ValueError names `what` for anything else: invalid or too deeply nested JSON, NaN
    or Infinity, a list or a number where an object belongs."""
    if isinstance(value, dict):
        return value
    if value is None or value == "":
        return {}
    if not isinstance(value, (str, bytes)):
        raise DomainError(
            f"{what} must be a JSON object, not {type(value).__name__ if not isinstance(value, list) else 'a list'}"
        )
    try:
        parsed = json.loads(value, parse_constant=_refuse_constant)
    except RecursionError:
        raise DomainError(f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise DomainError(f"{what} is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(parsed, dict):
        raise DomainError(f"{what} must be a JSON object")
    return parsed


def parse_whole(value, name: str, low: int, high: int) -> int:
    """A whole number from `low` to `high` (a float only when whole, text of digits); ValueError names
    the field and the range."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise DomainError(f"{name} must be a whole number from {low:,} to {high:,}, not {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise DomainError(f"{name} must be a whole number from {low:,} to {high:,}, not {str(value)[:40]!r}") from None
    if not low <= number <= high:
        raise DomainError(f"{name} must be a whole number from {low:,} to {high:,}, not {number}")
    return number
