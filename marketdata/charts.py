"""Plotly figures for market data pages."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from marketdata.engine import normalize_timeframe, resample_ohlcv

MAX_BARS = 3000
_LADDER = ["5m", "15m", "30m", "1h", "4h", "1d"]


def display_bars(rows: pd.DataFrame, timeframe: str, max_bars: int = MAX_BARS) -> tuple[pd.DataFrame, str]:
    """Aggregate to the finest timeframe that keeps the chart under `max_bars` (exact OHLC)."""
    source = normalize_timeframe(timeframe)
    if len(rows) <= max_bars:
        return rows, source.code
    for code in _LADDER:
        target = normalize_timeframe(code)
        if target.minutes <= source.minutes or target.minutes % source.minutes:
            continue
        bars = resample_ohlcv(rows, source, target)
        if len(bars) <= max_bars:
            return bars, target.code
    return rows.tail(max_bars), source.code


def candlestick_figure(rows: pd.DataFrame, *, title: str) -> go.Figure:
    fig = go.Figure(
        go.Candlestick(
            x=rows["ts"], open=rows["open"], high=rows["high"], low=rows["low"], close=rows["close"],
            name="price", increasing_line_color="#15803d", decreasing_line_color="#b91c1c",
        )
    )
    fig.update_layout(
        title=title, height=460, margin=dict(l=50, r=20, t=50, b=40), xaxis_rangeslider_visible=False,
        template="plotly_white", xaxis_title="UTC", yaxis_title="price",
    )
    # Hide the weekend closure so bars are not separated by empty days.
    fig.update_xaxes(rangebreaks=[dict(bounds=["sat", "sun"])] if len(rows) and _is_intraday(rows) else [])
    return fig


def _is_intraday(rows: pd.DataFrame) -> bool:
    return len(rows) > 1 and (rows["ts"].iloc[1] - rows["ts"].iloc[0]) < pd.Timedelta(days=1)
