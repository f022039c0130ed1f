"""Values users type, read one way everywhere (forms, the API, the commands)."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd


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
        raise ValueError(f"{name} {value!r} is not a date/time (use ISO 8601, e.g. 2024-01-31 or 2024-01-31T12:00Z)")
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json_object(value, what: str) -> dict:
    """A JSON object given as text (a form field, a command's flag) or already parsed (an API body);
    blank is {}. ValueError names `what` for anything else: invalid or too deeply nested JSON, NaN
    or Infinity, a list or a number where an object belongs."""
    if isinstance(value, dict):
        return value
    if value is None or value == "":
        return {}
    if not isinstance(value, (str, bytes)):
        raise ValueError(f"{what} must be a JSON object, not {type(value).__name__ if not isinstance(value, list) else 'a list'}")
    try:
        parsed = json.loads(value, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"{what} is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{what} must be a JSON object")
    return parsed


def parse_whole(value, name: str, low: int, high: int) -> int:
    """A whole number from `low` to `high` (a float only when whole, text of digits); ValueError names
    the field and the range."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}, not {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}, not {str(value)[:40]!r}") from None
    if not low <= number <= high:
        raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}, not {number}")
    return number
