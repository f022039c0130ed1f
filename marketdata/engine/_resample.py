from __future__ import annotations

import pandas as pd

from ._symbols import WEEK_MINUTES, Timeframe

# A Sunday: weekly bins run Sunday 00:00 -> Sunday 00:00 UTC, so each holds one whole FX trading
# week (it opens Sunday ~21:00 UTC and closes Friday ~21:00 UTC).
_WEEK_ORIGIN = pd.Timestamp("1970-01-04", tz="UTC")


def resample_ohlcv(rows: pd.DataFrame, source: Timeframe, target: Timeframe) -> pd.DataFrame:
    """Aggregate bars to a coarser timeframe exactly: first open, max high, min low, last close, sum volume.

    `rows` has a UTC `ts` column (bar start). Bins are left-closed and labelled by their start,
    aligned to UTC midnight (weekly bins: to Sunday 00:00 UTC); bins with no source bar are
    omitted, never filled.
    """
    if target.minutes <= source.minutes or target.minutes % source.minutes:
        raise ValueError(f"cannot resample {source.code} to {target.code}: the target must be a coarser multiple")
    if rows.empty:
        return rows[["ts", "open", "high", "low", "close", "volume"]].copy()
    frame = rows.set_index("ts").sort_index()
    origin = _WEEK_ORIGIN if target.minutes % WEEK_MINUTES == 0 else "start_day"
    grouped = frame.resample(pd.Timedelta(minutes=target.minutes), label="left", closed="left", origin=origin)
    out = grouped.agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    counts = grouped["open"].count()
    out = out[counts > 0]
    return out.reset_index()


def bin_count(ts: pd.Series, target: Timeframe) -> int:
    """How many bars `resample_ohlcv` makes from bars starting at `ts` (ascending), without making them."""
    if ts.empty:
        return 0
    stamps = pd.DatetimeIndex(ts)
    origin = _WEEK_ORIGIN if target.minutes % WEEK_MINUTES == 0 else stamps[0].floor("D")
    bins = (stamps - origin) // pd.Timedelta(minutes=target.minutes)
    return int(pd.Index(bins).nunique())
