"""Plotly figures for backtests and pattern scans."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MAX_LINE_POINTS = 20_000
WINDOW_BARS = 600


def _thin(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    step = max(1, int(np.ceil(len(frame) / MAX_LINE_POINTS)))
    return (frame.iloc[::step] if step > 1 else frame), step


def equity_figure(equity: pd.DataFrame, *, title: str) -> dict:
    shown, step = _thin(equity)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05)
    fig.add_trace(go.Scattergl(x=shown["ts"], y=shown["equity"], name="equity", line=dict(color="#1d4ed8")), row=1, col=1)
    fig.add_trace(go.Scattergl(x=shown["ts"], y=-shown["drawdown_pct"], name="drawdown %", fill="tozeroy",
                               line=dict(color="#b91c1c")), row=2, col=1)
    suffix = f" (every {step}th bar shown)" if step > 1 else ""
    fig.update_layout(title=title + suffix, height=480, template="plotly_white", margin=dict(l=60, r=20, t=50, b=40))
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    return json.loads(fig.to_json())


def compare_figure(runs_equity) -> dict:
    fig = go.Figure()
    for run, equity in runs_equity:
        shown, _ = _thin(equity)
        fig.add_trace(go.Scattergl(x=shown["ts"], y=100 * (shown["equity"] / equity["equity"].iloc[0] - 1), name=run.label))
    fig.update_layout(title="Return % over time", height=420, template="plotly_white", margin=dict(l=60, r=20, t=50, b=40))
    return json.loads(fig.to_json())


def trades_figure(ohlc: pd.DataFrame, trades: list[dict], events: pd.DataFrame | None, *, center_bar: int | None = None) -> dict:
    """Candlesticks around `center_bar` (default: the last bars) with entries, exits and patterns marked."""
    n = len(ohlc)
    if center_bar is None:
        lo = max(0, n - WINDOW_BARS)
    else:
        lo = min(max(0, center_bar - WINDOW_BARS // 2), max(0, n - WINDOW_BARS))
    hi = min(n, lo + WINDOW_BARS)
    window = ohlc.iloc[lo:hi]
    fig = go.Figure(go.Candlestick(x=window.index, open=window["Open"], high=window["High"], low=window["Low"],
                                   close=window["Close"], name="price", increasing_line_color="#15803d",
                                   decreasing_line_color="#b91c1c"))
    shown = [t for t in trades if lo <= t["EntryBar"] < hi or lo <= t["ExitBar"] < hi]
    for side, symbol, color in ((1, "triangle-up", "#15803d"), (-1, "triangle-down", "#b91c1c")):
        entries = [t for t in shown if np.sign(t["Size"]) == side and lo <= t["EntryBar"] < hi]
        if entries:
            fig.add_trace(go.Scatter(x=[ohlc.index[t["EntryBar"]] for t in entries], y=[t["EntryPrice"] for t in entries],
                                     mode="markers", marker=dict(symbol=symbol, size=11, color=color),
                                     name="long entry" if side > 0 else "short entry"))
    exits = [t for t in shown if lo <= t["ExitBar"] < hi]
    if exits:
        fig.add_trace(go.Scatter(x=[ohlc.index[t["ExitBar"]] for t in exits], y=[t["ExitPrice"] for t in exits],
                                 mode="markers", marker=dict(symbol="x", size=9, color="#111827"), name="exit"))
    if events is not None and len(events):
        inside = events[(events["bar"] >= lo) & (events["bar"] < hi) & (events["direction"] != 0)]
        if len(inside):
            highs = ohlc["High"].to_numpy()
            fig.add_trace(go.Scatter(x=inside["ts"], y=highs[inside["bar"].to_numpy()] * 1.0008, mode="markers",
                                     text=[f"{p} ({'+' if d > 0 else '-'})" for p, d in zip(inside["pattern"], inside["direction"])],
                                     hoverinfo="text+x", marker=dict(symbol="diamond", size=7, color="#7c3aed"), name="pattern"))
    fig.update_xaxes(rangebreaks=[dict(bounds=["sat", "sun"])])  # hide Saturdays: the FX weekend closure
    fig.update_layout(title=f"Bars {lo}-{hi - 1} with trades{' and patterns' if events is not None else ''}", height=520,
                      template="plotly_white", xaxis_rangeslider_visible=False, margin=dict(l=60, r=20, t=50, b=40))
    return json.loads(fig.to_json())
