from __future__ import annotations

import pandas as pd

from ._symbols import Timeframe


def resample_ohlcv(rows: pd.DataFrame, source: Timeframe, target: Timeframe) -> pd.DataFrame:
    """Aggregate bars to a coarser timeframe exactly: first open, max high, min low, last close, sum volume.

    `rows` has a UTC `ts` column (bar start). Bins are left-closed and labelled by their start,
    aligned to UTC midnight; bins with no source bar are omitted, never filled.
    """
    if target.minutes <= source.minutes or target.minutes % source.minutes:
        raise ValueError(f"cannot resample {source.code} to {target.code}: the target must be a coarser multiple")
    if rows.empty:
        return rows[["ts", "open", "high", "low", "close", "volume"]].copy()
    frame = rows.set_index("ts").sort_index()
    grouped = frame.resample(pd.Timedelta(minutes=target.minutes), label="left", closed="left", origin="start_day")
    out = grouped.agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    counts = grouped["open"].count()
    out = out[counts > 0]
    return out.reset_index()
