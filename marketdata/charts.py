"""Plotly figures for market data pages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from marketdata.engine import bin_count, normalize_timeframe, resample_ohlcv

MAX_BARS = 3000
# Coarser display timeframes, finest first; weekly is the coarsest (a 20-year series is ~1,050 bars).
_LADDER = ["5m", "15m", "30m", "1h", "4h", "1d", "1w"]


def display_bars(rows: pd.DataFrame, timeframe: str, max_bars: int = MAX_BARS) -> tuple[pd.DataFrame, str]:
    """All of `rows`, aggregated exactly (first open, max high, min low, last close, summed volume)
    to the finest timeframe that keeps the chart at `max_bars` candles or fewer; weekly when even
    daily has more. Returns the bars and the code of the timeframe they are in."""
    source = normalize_timeframe(timeframe)
    if len(rows) <= max_bars:
        return rows, source.code
    coarser = [
        tf
        for tf in map(normalize_timeframe, _LADDER)
        if tf.minutes > source.minutes and tf.minutes % source.minutes == 0
    ]
    for target in coarser:
        if target is coarser[-1] or bin_count(rows["ts"], target) <= max_bars:
            return resample_ohlcv(rows, source, target), target.code
    return rows, source.code  # nothing coarser on the ladder


def series_chart(rows: pd.DataFrame, *, symbol: str, timeframe: str) -> dict | None:
    """What a page needs to draw `rows` whole: the figure (JSON), the timeframe drawn, counts, range.

    The title names the timeframe drawn and, when aggregated, the bars it was aggregated from.
    """
    if rows.empty:
        return None
    stored = normalize_timeframe(timeframe)
    bars, shown_code = display_bars(rows, stored.code)
    shown = normalize_timeframe(shown_code)
    title = f"{symbol} {shown.label}"
    if shown.code != stored.code:
        title += f" - {len(rows):,} {stored.label} bars aggregated to {len(bars):,} {shown.label} bars"
    return {
        "figure": json.loads(candlestick_figure(bars, title=title).to_json()),
        "title": title,
        "bars": len(rows),
        "drawn": len(bars),
        "timeframe": stored.label,
        "shown_timeframe": shown.label,
        "aggregated": shown.code != stored.code,
        "first": rows["ts"].iloc[0],
        "last": rows["ts"].iloc[-1],
    }


def candlestick_figure(rows: pd.DataFrame, *, title: str) -> go.Figure:
    fig = go.Figure(
        go.Candlestick(
            x=rows["ts"],
            open=rows["open"],
            high=rows["high"],
            low=rows["low"],
            close=rows["close"],
            name="price",
            increasing_line_color="#15803d",
            decreasing_line_color="#b91c1c",
        )
    )
    fig.update_layout(
        title=title,
        height=460,
        margin=dict(l=50, r=20, t=50, b=40),
        xaxis_rangeslider_visible=False,
        template="plotly_white",
        xaxis_title="UTC",
        yaxis_title="price",
    )
    fig.update_xaxes(rangebreaks=closure_breaks(rows["ts"]))
    return fig


def closure_breaks(ts, max_breaks: int = 100, longest: pd.Timedelta | None = None) -> list[dict]:
    """Plotly x-axis rangebreaks hiding the stretches without bars of intraday candles - the weekend
    closure (Friday evening to Sunday evening in UTC), holidays - so bars sit side by side as on a trading
    platform's chart: each gap over three times the usual bar spacing (and, with `longest`, no longer than
    that: a longer one is a hole in the data, left in view) is one break, from one spacing after the bar
    before it to the bar after it. Daily and longer bars get none; with more than `max_breaks` gaps (a long
    range) Saturdays alone are hidden, as one rule instead of hundreds of breaks."""
    t = pd.DatetimeIndex(ts).unique().sort_values()  # (a fan's projected times may come out of order)
    t = t.tz_convert(None) if t.tz is not None else t  # naive UTC, as plotly writes the bars' times (UTC only)
    if len(t) < 3:
        return []
    gaps = t[1:] - t[:-1]
    step = gaps.median()
    if step >= pd.Timedelta(days=1):  # daily bars: no breaks
        return []
    closures = gaps > 3 * step
    if longest is not None:
        closures &= gaps <= longest
    at = np.flatnonzero(closures)
    if len(at) > max_breaks:
        return [dict(bounds=["sat", "sun"])]
    return [
        dict(values=[(t[i] + step).isoformat()], dvalue=(gaps[i] - step) / pd.Timedelta(milliseconds=1)) for i in at
    ]
