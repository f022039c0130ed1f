"""Values users type, read one way everywhere (forms, the API, the commands)."""

from __future__ import annotations

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
