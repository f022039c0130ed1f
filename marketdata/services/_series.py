"""Series made here rather than imported: resamples and the demo series."""

from __future__ import annotations

import pandas as pd
from django.utils import timezone

from forexgpt_site.jobs import JobStatus, clipped
from marketdata import engine
from marketdata.engine import DEFAULT_CONFLICT_POLICY, ImportRejected
from marketdata.models import Candle, CandleImport
from marketdata.selectors import candles_frame

from ._store import candles_store

DEMO_SOURCE = "backtesting.test.EURUSD"


def _recorded_run(**fields) -> CandleImport:
    """A CandleImport row for a write made here and now (no file, no worker)."""
    now = timezone.now()
    return CandleImport.objects.create(
        status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, message="started", **fields
    )


def _finish(run: CandleImport, report: dict, message: str) -> None:
    CandleImport.objects.filter(pk=run.pk).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now(), progress=1.0, report=report, message=clipped(message)
    )


def _fail(run: CandleImport, exc: Exception) -> None:
    report = {"inserted": 0, **exc.as_dict()} if isinstance(exc, ImportRejected) else None
    CandleImport.objects.filter(pk=run.pk).update(
        status=JobStatus.FAILED, finished_at=timezone.now(), report=report, message=clipped(f"failed: {exc}")
    )


def candles_resample(
    *, symbol: str, source_timeframe: str, target_timeframe: str, on_conflict: str = DEFAULT_CONFLICT_POLICY
) -> dict:
    """Aggregate a stored series into a coarser one, stored beside it.

    Bars an earlier resample of the same source wrote are recomputed (`updated`); bars of the
    target series written by anything else follow `on_conflict` like an import's.
    """
    symbol = engine.normalize_symbol(symbol)
    src, dst = engine.normalize_timeframe(source_timeframe), engine.normalize_timeframe(target_timeframe)
    rows = candles_frame(symbol=symbol, timeframe=src.code)
    if rows.empty:
        raise ImportRejected(f"no {symbol} {src.code} bars to resample")
    bars = engine.resample_ohlcv(rows, src, dst)
    label = f"resampled from {src.code}"
    earlier = list(
        CandleImport.objects.filter(
            origin=CandleImport.Origin.RESAMPLE, symbol=symbol, timeframe=dst.code, original_name=label
        ).values_list("pk", flat=True)
    )
    run = _recorded_run(
        origin=CandleImport.Origin.RESAMPLE,
        original_name=label,
        symbol=symbol,
        timeframe=dst.code,
        format="resample",
        tz="UTC",
        on_conflict=on_conflict,
    )
    try:
        stored = candles_store(rows=bars, candle_import=run, on_conflict=on_conflict, superseded=earlier)
    except Exception as exc:
        _fail(run, exc)
        raise
    report = {
        **stored,
        "source_bars": len(rows),
        "bars": len(bars),
        "symbol": symbol,
        "timeframe": dst.code,
        "import_id": run.pk,
    }
    _finish(
        run,
        report,
        f"{len(bars):,} bars from {len(rows):,} {src.code} bars: inserted {stored['inserted']:,}, updated {stored['updated']:,}",
    )
    return report


def demo_data_load() -> dict:
    """The real hourly EURUSD sample that ships with `backtesting` (backtesting.test.EURUSD) as the
    EURUSD 1h series, written by an import with origin `demo` so pages mark it as demo data.

    Never mixed into imported bars: when EURUSD 1h holds bars of any other import, nothing is
    loaded and the report says why (`skipped`).
    """
    from backtesting.test import EURUSD

    symbol, timeframe = "EURUSD", "1h"
    others = Candle.objects.filter(symbol=symbol, timeframe=timeframe).exclude(
        candle_import__origin=CandleImport.Origin.DEMO
    )
    if others.exists():
        return {
            "inserted": 0,
            "duplicates": 0,
            "conflicts": 0,
            "skipped": f"{symbol} {timeframe} holds imported bars; the demo series is not mixed into them",
        }
    frame = EURUSD.reset_index().rename(columns=str.lower)
    frame = frame.rename(columns={frame.columns[0]: "ts"})
    frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize("UTC")
    frame["volume"] = frame.get("volume", 0.0)
    rows = frame[["ts", "open", "high", "low", "close", "volume"]].sort_values("ts").reset_index(drop=True)
    run = (
        CandleImport.objects.filter(origin=CandleImport.Origin.DEMO, symbol=symbol, timeframe=timeframe)
        .order_by("created_at")
        .first()
    )
    if run is None:  # one demo import, however often the demo is loaded
        run = _recorded_run(
            origin=CandleImport.Origin.DEMO,
            original_name=DEMO_SOURCE,
            symbol=symbol,
            timeframe=timeframe,
            format="demo",
            tz="UTC",
            on_conflict="replace",
        )
    stored = candles_store(rows=rows, candle_import=run, on_conflict="replace")
    if stored["inserted"] or stored["replaced"] or run.status != JobStatus.SUCCEEDED:
        _finish(
            run,
            {
                **stored,
                "rows": len(rows),
                "first": rows["ts"].iloc[0].isoformat(),
                "last": rows["ts"].iloc[-1].isoformat(),
                "symbol": symbol,
                "timeframe": timeframe,
                "format": "demo",
                "timezone": "UTC (taken as)",
            },
            f"demo data: {len(rows):,} bars of {DEMO_SOURCE}, timestamps taken as UTC",
        )
    return stored
