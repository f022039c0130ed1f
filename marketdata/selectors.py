"""Reads of market data."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from django.core.cache import cache
from django.db.models import Count, Max, Min

from marketdata.engine import normalize_symbol, normalize_timeframe, scan_anomalies
from marketdata.models import Candle, CandleImport

OHLCV = ["open", "high", "low", "close", "volume"]


def candles_queryset(*, symbol: str, timeframe: str, start: datetime | None = None, end: datetime | None = None):
    qs = Candle.objects.filter(symbol=normalize_symbol(symbol), timeframe=normalize_timeframe(timeframe).code)
    if start is not None:
        qs = qs.filter(ts__gte=start)
    if end is not None:
        qs = qs.filter(ts__lte=end)
    return qs.order_by("ts")


def candles_frame(*, symbol: str, timeframe: str, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
    """Bars as a DataFrame with a UTC `ts` column and float OHLCV columns, ascending."""
    rows = list(candles_queryset(symbol=symbol, timeframe=timeframe, start=start, end=end).values_list("ts", *OHLCV))
    if not rows:
        frame = pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ns, UTC]"), **{c: pd.Series([], dtype=float) for c in OHLCV}})
        return frame
    frame = pd.DataFrame(rows, columns=["ts", *OHLCV])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def series_list() -> list[dict]:
    """One row per (symbol, timeframe): rows, first, last bar and count of long gaps."""
    series = (
        Candle.objects.values("symbol", "timeframe")
        .annotate(rows=Count("id"), first=Min("ts"), last=Max("ts"))
        .order_by("symbol", "timeframe")
    )
    out = []
    for item in series:
        item = dict(item)
        item["long_gaps"] = _long_gaps(item["symbol"], item["timeframe"], item["rows"], item["last"])
        item["label"] = normalize_timeframe(item["timeframe"]).label
        out.append(item)
    return out


def _long_gaps(symbol: str, timeframe: str, rows: int, last) -> int:
    key = f"long-gaps:{symbol}:{timeframe}:{rows}:{last.isoformat() if last else ''}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    ts = pd.to_datetime(pd.Series(list(candles_queryset(symbol=symbol, timeframe=timeframe).values_list("ts", flat=True))), utc=True)
    stub = pd.DataFrame({"ts": ts, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": np.zeros(len(ts))})
    count = scan_anomalies(stub, normalize_timeframe(timeframe)).report["long_gap"]["count"]
    cache.set(key, count, 3600)
    return count


def candle_imports_recent(*, limit: int = 20):
    return CandleImport.objects.select_related("owner").order_by("-created_at")[:limit]
