"""Writes of market data: imports (all-or-nothing), resampling, the demo series."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction

from forexgpt_site.jobs import JobContext, job_enqueue
from marketdata import engine
from marketdata.engine import ImportRejected
from marketdata.models import Candle, CandleImport
from marketdata.selectors import candles_frame

logger = logging.getLogger(__name__)
BATCH = 5000
ProgressFn = Callable[[float, str], object]


def _noop(fraction: float, message: str) -> None:
    return None


@transaction.atomic
def candles_store(*, rows: pd.DataFrame, symbol: str, timeframe: str, source: str, replace: bool = False) -> dict:
    """Store bars in one transaction, so a failure stores nothing. Reports no progress: inside a
    transaction nobody else could see it (the caller reports before and after).

    Imports keep bars already stored and count them as `duplicates`. With `replace` (a resample,
    recomputed from its source) existing bars are overwritten and counted as `updated`.
    """
    if rows.empty:
        return {"inserted": 0, "duplicates": 0}
    stamps = rows["ts"].dt.tz_convert("UTC")
    existing = set(
        Candle.objects.filter(symbol=symbol, timeframe=timeframe, ts__gte=stamps.iloc[0], ts__lte=stamps.iloc[-1]).values_list("ts", flat=True)
    )
    py_ts = np.asarray(stamps.dt.to_pydatetime(), dtype=object)
    is_new = np.fromiter((t not in existing for t in py_ts), dtype=bool, count=len(py_ts)) if existing else np.ones(len(rows), bool)
    write = np.ones(len(rows), bool) if replace else is_new
    cols = [rows[c].to_numpy(dtype=float)[write] for c in ("open", "high", "low", "close", "volume")]
    stamps_out = py_ts[write]
    source = source[:120]
    options = {"update_conflicts": True, "unique_fields": ["symbol", "timeframe", "ts"],
               "update_fields": ["open", "high", "low", "close", "volume", "source"]} if replace else {}
    for start in range(0, len(stamps_out), BATCH):
        Candle.objects.bulk_create(
            [
                Candle(symbol=symbol, timeframe=timeframe, ts=stamps_out[i], open=cols[0][i], high=cols[1][i],
                       low=cols[2][i], close=cols[3][i], volume=cols[4][i], source=source)
                for i in range(start, min(start + BATCH, len(stamps_out)))
            ],
            batch_size=BATCH, **options,
        )
    inserted = int(is_new.sum())
    if replace:
        return {"inserted": inserted, "updated": int(len(rows) - inserted)}
    return {"inserted": inserted, "duplicates": int(len(rows) - inserted)}


def candles_import_file(
    *,
    source: Path | str | IO,
    symbol: str,
    timeframe: str,
    tz: str | None = None,
    format: str = "auto",
    drop: Iterable[str] = (),
    source_label: str | None = None,
    on_progress: ProgressFn = _noop,
) -> dict:
    """Import one export file; raises ImportRejected (nothing inserted) when any row is bad.

    The report: inserted, duplicates, rejected (0 here), anomalies, dropped, first, last, rows,
    format, timezone, notes.
    """
    symbol = _clean(engine.normalize_symbol, symbol)
    tf = _clean(engine.normalize_timeframe, timeframe)
    drop = list(drop)
    on_progress(0.05, "reading file")
    parsed = engine.read_candles(source, format=format, tz=tz or None)
    on_progress(0.3, f"validating {len(parsed.frame):,} rows")
    rows = engine.validate(parsed)
    scan = engine.scan_anomalies(rows, tf)
    rows, dropped = engine.drop_anomalies(rows, scan, drop)
    on_progress(0.5, f"storing {len(rows):,} bars")
    label = source_label or (Path(source).name if isinstance(source, (str, Path)) else getattr(source, "name", "upload"))
    stored = candles_store(rows=rows, symbol=symbol, timeframe=tf.code, source=f"{parsed.format}:{label}")
    on_progress(1.0, f"stored {stored['inserted']:,} new bars")
    return {
        **stored,
        "rejected": 0,
        "anomalies": scan.report,
        "dropped": dropped,
        "first": rows["ts"].iloc[0].isoformat() if len(rows) else None,
        "last": rows["ts"].iloc[-1].isoformat() if len(rows) else None,
        "rows": int(len(parsed.frame)),
        "symbol": symbol,
        "timeframe": tf.code,
        "format": parsed.format,
        "timezone": parsed.timezone,
        "notes": parsed.notes,
    }


def rejection_report(exc: ImportRejected) -> dict:
    """The import report for a refused file: nothing inserted, the first errors named."""
    return {"inserted": 0, "duplicates": 0, "rejected": exc.rows or 0, **exc.as_dict()}


def _clean(fn, value):
    try:
        return fn(value)
    except ValueError as exc:
        raise ImportRejected(str(exc)) from exc


def candle_import_validate_options(*, symbol: str, timeframe: str, tz: str, format: str, drop: Iterable[str]) -> dict:
    """Check an upload's options before anything is saved; raise ImportRejected naming the bad one."""
    options = {
        "symbol": _clean(engine.normalize_symbol, symbol),
        "timeframe": _clean(engine.normalize_timeframe, timeframe).code,
        "tz": (tz or "").strip(),
        "format": format or "auto",
        "drop": list(drop),
    }
    if options["tz"]:
        from marketdata.engine._formats import zone

        zone(options["tz"])
    if options["format"] not in ("auto", *engine.FORMATS):
        raise ImportRejected(f"unknown format {format!r}; choose auto or one of {', '.join(engine.FORMATS)}")
    unknown = set(options["drop"]) - {"weekend", "day_spanning", "flat_filler"}
    if unknown:
        raise ImportRejected(f"cannot drop {', '.join(sorted(unknown))}; droppable: weekend, day_spanning, flat_filler")
    return options


@transaction.atomic
def candle_import_start(*, user, upload, symbol: str, timeframe: str, tz: str = "", format: str = "auto", drop: Iterable[str] = ()) -> CandleImport:
    """Save an uploaded file and queue its import."""
    options = candle_import_validate_options(symbol=symbol, timeframe=timeframe, tz=tz, format=format, drop=drop)
    if upload.size > settings.FOREXGPT_MAX_UPLOAD_BYTES:
        raise ImportRejected(f"the file is {upload.size / 1e6:.1f} MB; the limit is {settings.FOREXGPT_MAX_UPLOAD_BYTES / 1e6:.0f} MB")
    run = CandleImport(owner=user if getattr(user, "is_authenticated", False) else None, original_name=upload.name[:255], **options)
    run.file.save(Path(upload.name).name, upload, save=False)
    run.save()
    job_enqueue(run)
    return run


def candle_import_run(run: CandleImport, ctx: JobContext) -> str:
    """Task body: import the stored upload; a rejected file leaves its report on the run."""
    try:
        with run.file.open("rb") as fh:
            report = candles_import_file(
                source=fh, symbol=run.symbol, timeframe=run.timeframe, tz=run.tz or None, format=run.format,
                drop=run.drop, source_label=run.original_name, on_progress=ctx.progress,
            )
    except ImportRejected as exc:
        CandleImport.objects.filter(pk=run.pk).update(report=rejection_report(exc))
        raise
    CandleImport.objects.filter(pk=run.pk).update(report=report)
    return f"inserted {report['inserted']:,} bars, skipped {report['duplicates']:,} duplicates"


def candles_resample(*, symbol: str, source_timeframe: str, target_timeframe: str) -> dict:
    """Aggregate a stored series into a coarser one, stored beside it (existing bars kept)."""
    symbol = engine.normalize_symbol(symbol)
    src, dst = engine.normalize_timeframe(source_timeframe), engine.normalize_timeframe(target_timeframe)
    rows = candles_frame(symbol=symbol, timeframe=src.code)
    if rows.empty:
        raise ImportRejected(f"no {symbol} {src.code} bars to resample")
    bars = engine.resample_ohlcv(rows, src, dst)
    stored = candles_store(rows=bars, symbol=symbol, timeframe=dst.code, source=f"resampled from {src.code}", replace=True)
    return {**stored, "source_bars": len(rows), "bars": len(bars), "symbol": symbol, "timeframe": dst.code}


def demo_data_load() -> dict:
    """The real hourly EURUSD sample that ships with `backtesting` (backtesting.test.EURUSD)."""
    from backtesting.test import EURUSD

    frame = EURUSD.reset_index().rename(columns=str.lower)
    frame = frame.rename(columns={frame.columns[0]: "ts"})
    frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize("UTC")
    frame["volume"] = frame.get("volume", 0.0)
    rows = frame[["ts", "open", "high", "low", "close", "volume"]].sort_values("ts").reset_index(drop=True)
    return candles_store(rows=rows, symbol="EURUSD", timeframe="1h", source="demo:backtesting.test.EURUSD")
