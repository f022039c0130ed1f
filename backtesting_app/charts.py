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


def equity_figure(equity: pd.DataFrame, *, title: str, held_out_from: str | None = None) -> dict:
    """Equity and drawdown; `held_out_from` (a timestamp) marks where an optimization's held-out tail begins."""
    shown, step = _thin(equity)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05)
    fig.add_trace(go.Scattergl(x=shown["ts"], y=shown["equity"], name="equity", line=dict(color="#1d4ed8")), row=1, col=1)
    fig.add_trace(go.Scattergl(x=shown["ts"], y=-shown["drawdown_pct"], name="drawdown %", fill="tozeroy",
                               line=dict(color="#b91c1c")), row=2, col=1)
    suffix = f" (every {step}th bar shown)" if step > 1 else ""
    fig.update_layout(title=title + suffix, height=480, template="plotly_white", margin=dict(l=60, r=20, t=50, b=40))
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    if held_out_from:
        at = pd.Timestamp(held_out_from).tz_convert("UTC") if pd.Timestamp(held_out_from).tzinfo else pd.Timestamp(held_out_from).tz_localize("UTC")
        fig.add_vline(x=at.isoformat(), line=dict(color="#92400e", dash="dash"))
        fig.add_annotation(x=at.isoformat(), y=1, yref="paper", text="held out from here: the search never saw these bars",
                           showarrow=False, xanchor="left", font=dict(color="#92400e"))
    return json.loads(fig.to_json())


def compare_figure(runs_equity) -> dict:
    fig = go.Figure()
    for run, equity in runs_equity:
        shown, _ = _thin(equity)
        fig.add_trace(go.Scattergl(x=shown["ts"], y=100 * (shown["equity"] / equity["equity"].iloc[0] - 1), name=run.label))
    fig.update_layout(title="Return % over time", height=420, template="plotly_white", margin=dict(l=60, r=20, t=50, b=40))
    return json.loads(fig.to_json())


PATTERN_MARKERS = ("diamond", "circle", "square", "star", "hexagon", "pentagon", "hourglass", "bowtie", "cross", "triangle-left",
                   "triangle-right", "star-square")


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
        highs, lows = ohlc["High"].to_numpy(), ohlc["Low"].to_numpy()
        for k, (pattern, group) in enumerate(inside.groupby("pattern", sort=True)):  # one legend entry (and marker) a pattern
            bars, up = group["bar"].to_numpy(), group["direction"].to_numpy() > 0
            y = np.where(up, lows[bars] * 0.9992, highs[bars] * 1.0008)  # bullish below the bar, bearish above
            fig.add_trace(go.Scatter(x=group["ts"], y=y, mode="markers", name=pattern, hoverinfo="text+x",
                                     text=[f"{pattern} ({'bullish' if u else 'bearish'})" for u in up],
                                     marker=dict(symbol=PATTERN_MARKERS[k % len(PATTERN_MARKERS)], size=8,
                                                 color=["#15803d" if u else "#b91c1c" for u in up])))
    fig.update_xaxes(rangebreaks=[dict(bounds=["sat", "sun"])])  # hide Saturdays: the FX weekend closure
    marked = [what for what, present in (("trades", bool(shown)), ("patterns", events is not None and len(events) > 0)) if present]
    fig.update_layout(title=f"Bars {lo}-{hi - 1}" + (f" with {' and '.join(marked)}" if marked else ""), height=520,
                      template="plotly_white", xaxis_rangeslider_visible=False, margin=dict(l=60, r=20, t=50, b=40))
    return json.loads(fig.to_json())


OBJECTIVE_LABELS = {"return_pct": "return %", "max_drawdown_pct": "max drawdown %", "sharpe": "Sharpe",
                    "win_rate_pct": "win rate %", "profit_factor": "profit factor", "n_trades": "trades"}


def _metric(rows, key):
    return [r["metrics"].get(key) for r in rows]


def pareto_figures(results: list[dict], metric_keys: list[str]) -> dict:
    """2-D projections of every pair of objectives (dominated points faded), a 3-D scatter of the
    first three, and parallel coordinates of the parameters coloured by front membership."""
    front = [r for r in results if r["rank"] == 0 and r["feasible"]]
    rest = [r for r in results if not (r["rank"] == 0 and r["feasible"])]
    figures = {}
    pairs = [(a, b) for i, a in enumerate(metric_keys) for b in metric_keys[i + 1:]]
    if pairs:
        proj = make_subplots(rows=1, cols=len(pairs), subplot_titles=[f"{OBJECTIVE_LABELS[a]} vs {OBJECTIVE_LABELS[b]}" for a, b in pairs])
        for k, (a, b) in enumerate(pairs, start=1):
            proj.add_trace(go.Scattergl(x=_metric(rest, a), y=_metric(rest, b), mode="markers", name="dominated",
                                        marker=dict(size=4, color="rgba(100,116,139,0.25)"), showlegend=k == 1), row=1, col=k)
            proj.add_trace(go.Scattergl(x=_metric(front, a), y=_metric(front, b), mode="markers", name="Pareto front",
                                        marker=dict(size=8, color="#b91c1c"), showlegend=k == 1,
                                        text=[str(r["params"]) for r in front]), row=1, col=k)
            proj.update_xaxes(title_text=OBJECTIVE_LABELS[a], row=1, col=k)
            proj.update_yaxes(title_text=OBJECTIVE_LABELS[b], row=1, col=k)
        proj.update_layout(height=380, template="plotly_white", margin=dict(l=50, r=20, t=60, b=40))
        figures["projections"] = json.loads(proj.to_json())
    if len(metric_keys) >= 3:
        a, b, c = metric_keys[:3]
        fig3 = go.Figure([
            go.Scatter3d(x=_metric(rest, a), y=_metric(rest, b), z=_metric(rest, c), mode="markers", name="dominated",
                         marker=dict(size=2, color="rgba(100,116,139,0.2)")),
            go.Scatter3d(x=_metric(front, a), y=_metric(front, b), z=_metric(front, c), mode="markers", name="Pareto front",
                         marker=dict(size=5, color="#b91c1c"), text=[str(r["params"]) for r in front]),
        ])
        fig3.update_layout(height=520, template="plotly_white", margin=dict(l=0, r=0, t=30, b=0),
                           scene=dict(xaxis_title=OBJECTIVE_LABELS[a], yaxis_title=OBJECTIVE_LABELS[b], zaxis_title=OBJECTIVE_LABELS[c]))
        figures["scatter3d"] = json.loads(fig3.to_json())
    names = list(results[0]["params"]) if results else []
    numeric = [n for n in names if all(isinstance(r["params"][n], (int, float)) for r in results)]
    if numeric:
        par = go.Figure(go.Parcoords(
            line=dict(color=[1 if (r["rank"] == 0 and r["feasible"]) else 0 for r in results],
                      colorscale=[[0, "rgba(148,163,184,0.35)"], [1, "#b91c1c"]]),
            dimensions=[dict(label=n, values=[r["params"][n] for r in results]) for n in numeric]))
        # the axis names and top values sit above the plot area: the title goes higher, clear of them
        par.update_layout(height=420, template="plotly_white", margin=dict(l=60, r=60, t=100, b=30),
                          title=dict(text="Parameters (front in red)", y=0.97, yanchor="top"))
        figures["parallel"] = json.loads(par.to_json())
    return figures


def hypervolume_figure(history: list) -> dict:
    fig = go.Figure(go.Scatter(x=[h[0] for h in history], y=[h[1] for h in history], mode="lines+markers", name="hypervolume"))
    fig.update_layout(title="Hypervolume after each batch", xaxis_title="evaluations", height=320, template="plotly_white",
                      margin=dict(l=60, r=20, t=50, b=40))
    return json.loads(fig.to_json())


def pbo_logits_figure(logits: list[float]) -> dict:
    """The CSCV logits of the in-sample best's out-of-sample rank: mass left of 0 is the PBO."""
    values = np.asarray([v for v in logits if np.isfinite(v)], float)
    fig = go.Figure(go.Histogram(x=values, nbinsx=40, marker_color="#475569", name="logit"))
    fig.add_vline(x=0, line=dict(color="#b91c1c", dash="dash"))
    fig.update_layout(title="Out-of-sample rank of the in-sample best, per split (logit; left of the line: below the median)",
                      xaxis_title="logit of the relative rank", yaxis_title="splits", height=300, template="plotly_white",
                      margin=dict(l=60, r=20, t=50, b=40), showlegend=False)
    return json.loads(fig.to_json())


def walk_forward_figure(result: dict) -> dict:
    """The stitched out-of-sample equity of a walk-forward: each window's test compounded on the last."""
    ends = [w["out_of_sample"][1][:16] for w in result["windows"]]
    starts = result["windows"][0]["out_of_sample"][0][:16] if result["windows"] else ""
    fig = go.Figure(go.Scatter(x=[starts, *ends], y=result["stitched_equity"], mode="lines+markers", name="out of sample"))
    fig.add_hline(y=1.0, line=dict(color="#94a3b8", dash="dot"))
    fig.update_layout(title="Walk-forward: stitched out-of-sample equity (1 = start)", yaxis_title="equity multiple", height=320,
                      template="plotly_white", margin=dict(l=60, r=20, t=50, b=40))
    return json.loads(fig.to_json())
