"""Bars and forecasts in the shape `backtesting` needs, aligned without look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ohlc_frame(candles: pd.DataFrame) -> pd.DataFrame:
    """Candles (ts, open, high, low, close[, volume]) -> backtesting's frame: a DatetimeIndex (UTC,
    tz-naive - backtesting 0.6.6 needs a DatetimeIndex under pandas 3) and capitalised columns."""
    if candles.empty:
        raise ValueError("no bars in the requested range")
    ts = pd.to_datetime(candles["ts"], utc=True).dt.tz_convert(None)
    frame = pd.DataFrame(
        {
            "Open": candles["open"].to_numpy(float),
            "High": candles["high"].to_numpy(float),
            "Low": candles["low"].to_numpy(float),
            "Close": candles["close"].to_numpy(float),
            "Volume": candles["volume"].to_numpy(float) if "volume" in candles else 0.0,
        },
        index=pd.DatetimeIndex(ts, name="ts"),
    )
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise ValueError("bars must be strictly ascending in time")
    return frame


def align_forecasts(ohlc: pd.DataFrame, forecasts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar `pred_return` and `confidence` for every bar of `ohlc`.

    A forecast row's timestamp is the bar it was made at, after that bar closed (bars <= t only);
    the strategy acts on it at t and fills at t + 1. Every bar needs a forecast: missing ones are
    an error naming the first, never silently filled or shifted.
    """
    cols = {c.lower(): c for c in forecasts.columns}
    for needed in ("timestamp", "pred_return"):
        if needed not in cols:
            raise ValueError(f"the forecasts need a {needed} column")
    ts = pd.to_datetime(forecasts[cols["timestamp"]], utc=True, errors="coerce")
    if ts.isna().any():
        raise ValueError(f"forecast timestamp on row {int(np.flatnonzero(ts.isna())[0]) + 1} is not a date/time")
    table = pd.DataFrame(
        {
            "pred_return": pd.to_numeric(forecasts[cols["pred_return"]], errors="coerce").to_numpy(),
            "confidence": pd.to_numeric(forecasts[cols["confidence"]], errors="coerce").to_numpy()
            if "confidence" in cols
            else 1.0,
        },
        index=ts.dt.tz_convert(None),
    )
    if table.index.has_duplicates:
        raise ValueError(f"two forecasts for {table.index[table.index.duplicated()][0]}")
    aligned = table.reindex(ohlc.index)
    for name in ("pred_return", "confidence"):  # a row the file has for a bar of the range, with no number
        unreadable = aligned[name].isna() & aligned.index.isin(table.index)
        if name in cols and unreadable.any():
            bar = aligned.index[unreadable][0]
            row = int(table.index.get_loc(bar))
            raise ValueError(
                f"{name} on row {row + 1} (the bar of {bar} UTC) is not a number: {str(forecasts[cols[name]].iloc[row])[:40]!r}"
            )
    missing = aligned["pred_return"].isna() | aligned["confidence"].isna()
    if missing.any():
        first = aligned.index[missing.to_numpy()][0]
        raise ValueError(
            f"the forecasts do not cover the range: {int(missing.sum())} bar(s) lack a forecast, the first at {first} UTC"
        )
    confidence = aligned["confidence"].to_numpy(float)
    outside = (confidence < 0) | (confidence > 1)
    if outside.any():
        bar = aligned.index[outside][0]
        raise ValueError(
            f"confidence must lie in [0, 1]: it is {confidence[outside][0]:g} on row "
            f"{int(table.index.get_loc(bar)) + 1} (the bar of {bar} UTC)"
        )
    return aligned["pred_return"].to_numpy(float), confidence


def momentum_forecasts(ohlc: pd.DataFrame, *, horizon_bars: int = 12, halflife: int = 24) -> pd.DataFrame:
    """A simple causal baseline forecaster (not the diffusion model): the EWMA of past log returns
    times the horizon, with confidence = the share of the last `halflife` returns whose sign agrees.
    Uses bars <= t for the forecast at t. For demos, tests and benchmarks until trained models exist."""
    close = ohlc["Close"].to_numpy(float)
    ret = np.diff(np.log(close), prepend=np.log(close[0]))
    drift = pd.Series(ret).ewm(halflife=halflife, adjust=False).mean().to_numpy()
    pred = drift * horizon_bars
    signs = np.sign(ret)
    same = pd.Series(signs * np.sign(drift)).rolling(halflife, min_periods=1).mean().to_numpy()
    confidence = np.clip((same + 1) / 2, 0, 1)
    return pd.DataFrame({"timestamp": ohlc.index.tz_localize("UTC"), "pred_return": pred, "confidence": confidence})
