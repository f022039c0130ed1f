"""Reads of market data."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from django.core.cache import cache
from django.db import connections
from django.db.models import Count, Max, Min

from forexgpt_site.errors import domain_errors
from marketdata.engine import normalize_symbol, normalize_timeframe, scan_anomalies
from marketdata.models import Candle, CandleImport

OHLCV = ["open", "high", "low", "close", "volume"]


@domain_errors()  # a symbol or a timeframe the engine does not understand is the caller's refusal
def candles_queryset(*, symbol: str, timeframe: str, start: datetime | None = None, end: datetime | None = None):
    qs = Candle.objects.filter(symbol=normalize_symbol(symbol), timeframe=normalize_timeframe(timeframe).code)
    if start is not None:
        qs = qs.filter(ts__gte=start)
    if end is not None:
        qs = qs.filter(ts__lte=end)
    return qs.order_by("ts")


def candles_frame(
    *,
    symbol: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    with_import: bool = False,
) -> pd.DataFrame:
    """Bars as a DataFrame with a UTC `ts` column and float OHLCV columns, ascending; with
    `with_import`, also the `candle_import_id` of the import that wrote each bar."""
    columns = ["ts", *OHLCV, *(["candle_import_id"] if with_import else [])]
    rows = _database_rows(candles_queryset(symbol=symbol, timeframe=timeframe, start=start, end=end), columns)
    if not rows:
        frame = pd.DataFrame(
            {"ts": pd.Series([], dtype="datetime64[ns, UTC]"), **{c: pd.Series([], dtype=float) for c in OHLCV}}
        )
        if with_import:
            frame["candle_import_id"] = pd.Series([], dtype="int64")
        return frame
    frame = pd.DataFrame(rows, columns=columns)
    frame["ts"] = _timestamps(frame["ts"])
    return frame


def _timestamps(values) -> pd.Series:
    """The database's timestamps (UTC text from SQLite, aware datetimes from PostgreSQL) as UTC."""
    values = pd.Series(values)
    text = len(values) and isinstance(values.iloc[0], str)
    return pd.to_datetime(values, utc=True, **({"format": "ISO8601"} if text else {}))


def _database_rows(queryset, columns: list[str]) -> list[tuple]:
    """`queryset.values_list(*columns)` as the database driver returns it, without Django's per-row,
    per-field converters (on SQLite, 60% of reading 65,000 bars: each timestamp parsed alone); the
    caller converts whole columns at once. SQLite gives the timestamps as UTC text, PostgreSQL as
    aware datetimes."""
    query = queryset.values_list(*columns).query
    sql, params = query.get_compiler(queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def series_list() -> list[dict]:
    """One row per (symbol, timeframe): rows, first, last bar, count of long gaps, and `sources`:
    the imports that wrote its bars (label, origin, bars), largest first; `is_demo` when every
    bar is demo data, `mixed` when the bars come from more than one import."""
    series = (
        Candle.objects.values("symbol", "timeframe")
        .annotate(rows=Count("id"), first=Min("ts"), last=Max("ts"))
        .order_by("symbol", "timeframe")
    )
    sources = series_sources()
    out = []
    for item in series:
        item = dict(item)
        item["long_gaps"] = _long_gaps(item["symbol"], item["timeframe"], item["rows"], item["last"])
        item["label"] = normalize_timeframe(item["timeframe"]).label
        item["sources"] = sources.get((item["symbol"], item["timeframe"]), [])
        item["is_demo"] = bool(item["sources"]) and all(
            s["origin"] == CandleImport.Origin.DEMO for s in item["sources"]
        )
        item["mixed"] = len(item["sources"]) > 1
        out.append(item)
    return out


def series_sources() -> dict[tuple[str, str], list[dict]]:
    """Per (symbol, timeframe), the imports that wrote its bars with their bar counts, largest first."""
    # An import writes only its own series, so counting by import (the foreign key's index) is enough.
    counts = dict(Candle.objects.order_by().values_list("candle_import").annotate(bars=Count("id")))
    out: dict[tuple[str, str], list[dict]] = {}
    for run in CandleImport.objects.filter(pk__in=list(counts)).order_by():
        out.setdefault((run.symbol, run.timeframe), []).append(
            {
                "import_id": run.pk,
                "label": run.source_label,
                "original_name": run.original_name,
                "origin": run.origin,
                "bars": counts[run.pk],
            }
        )
    for items in out.values():
        items.sort(key=lambda s: (-s["bars"], s["import_id"]))
    return out


def _long_gaps(symbol: str, timeframe: str, rows: int, last) -> int:
    key = f"long-gaps:{symbol}:{timeframe}:{rows}:{last.isoformat() if last else ''}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    ts = _timestamps([row[0] for row in _database_rows(candles_queryset(symbol=symbol, timeframe=timeframe), ["ts"])])
    stub = pd.DataFrame({"ts": ts, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": np.zeros(len(ts))})
    count = scan_anomalies(stub, normalize_timeframe(timeframe)).report["long_gap"]["count"]
    cache.set(key, count, 3600)
    return count


def candle_imports_recent(*, limit: int = 20):
    return CandleImport.objects.select_related("owner").order_by("-created_at")[:limit]
