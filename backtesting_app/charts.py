"""Plotly figures for backtests, pattern scans and optimizations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from marketdata.charts import closure_breaks

MAX_LINE_POINTS = 20_000
WINDOW_BARS = 600


def _thin(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    step = max(1, int(np.ceil(len(frame) / MAX_LINE_POINTS)))
    return (frame.iloc[::step] if step > 1 else frame), step


def equity_figure(equity: pd.DataFrame, *, title: str, held_out_from: str | None = None) -> dict:
    """Equity and drawdown; `held_out_from` (a timestamp) marks where an optimization's held-out tail begins."""
    shown, step = _thin(equity)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05)
    fig.add_trace(
        go.Scattergl(x=shown["ts"], y=shown["equity"], name="equity", line=dict(color="#1d4ed8")), row=1, col=1
    )
    fig.add_trace(
        go.Scattergl(
            x=shown["ts"], y=-shown["drawdown_pct"], name="drawdown %", fill="tozeroy", line=dict(color="#b91c1c")
        ),
        row=2,
        col=1,
    )
    suffix = f" (every {step}th bar shown)" if step > 1 else ""
    fig.update_layout(title=title + suffix, height=480, template="plotly_white", margin=dict(l=60, r=20, t=50, b=40))
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    if held_out_from:
        at = (
            pd.Timestamp(held_out_from).tz_convert("UTC")
            if pd.Timestamp(held_out_from).tzinfo
            else pd.Timestamp(held_out_from).tz_localize("UTC")
        )
        fig.add_vline(x=at.isoformat(), line=dict(color="#92400e", dash="dash"))
        fig.add_annotation(
            x=at.isoformat(),
            y=1,
            yref="paper",
            text="held out from here: the search never saw these bars",
            showarrow=False,
            xanchor="left",
            font=dict(color="#92400e"),
        )
    return json.loads(fig.to_json())


def compare_figure(runs_equity) -> dict:
    fig = go.Figure()
    for run, equity in runs_equity:
        shown, _ = _thin(equity)
        fig.add_trace(
            go.Scattergl(x=shown["ts"], y=100 * (shown["equity"] / equity["equity"].iloc[0] - 1), name=run.label)
        )
    fig.update_layout(
        title="Return % over time", height=420, template="plotly_white", margin=dict(l=60, r=20, t=50, b=40)
    )
    return json.loads(fig.to_json())


PATTERN_MARKERS = (
    "diamond",
    "circle",
    "square",
    "star",
    "hexagon",
    "pentagon",
    "hourglass",
    "bowtie",
    "cross",
    "triangle-left",
    "triangle-right",
    "star-square",
)


WHOLE_BARS = 3000  # a backtest this short is drawn whole; a longer one shows WINDOW_BARS at a time


def trades_figure(
    ohlc: pd.DataFrame, trades: list[dict], events: pd.DataFrame | None, *, highlight: int | None = None
) -> dict:
    """Candlesticks with entries, exits and patterns marked: the whole range up to WHOLE_BARS bars, else
    the last WINDOW_BARS; with `highlight` (a trade's index), a window around that trade, shaded."""
    n = len(ohlc)
    trade = trades[highlight] if highlight is not None else None
    if trade is not None:
        span = trade["ExitBar"] - trade["EntryBar"]
        pad = max(20, (WINDOW_BARS - span) // 2)
        lo, hi = max(0, trade["EntryBar"] - pad), min(n, trade["ExitBar"] + pad + 1)
    elif n <= WHOLE_BARS:
        lo, hi = 0, n
    else:
        lo, hi = n - WINDOW_BARS, n
    window = ohlc.iloc[lo:hi]
    fig = go.Figure(
        go.Candlestick(
            x=window.index,
            open=window["Open"],
            high=window["High"],
            low=window["Low"],
            close=window["Close"],
            name="price",
            increasing_line_color="#15803d",
            decreasing_line_color="#b91c1c",
        )
    )
    shown = [t for t in trades if lo <= t["EntryBar"] < hi or lo <= t["ExitBar"] < hi]
    for side, symbol, color in ((1, "triangle-up", "#15803d"), (-1, "triangle-down", "#b91c1c")):
        entries = [t for t in shown if np.sign(t["Size"]) == side and lo <= t["EntryBar"] < hi]
        if entries:
            fig.add_trace(
                go.Scatter(
                    x=[ohlc.index[t["EntryBar"]] for t in entries],
                    y=[t["EntryPrice"] for t in entries],
                    mode="markers",
                    marker=dict(symbol=symbol, size=11, color=color),
                    name="long entry" if side > 0 else "short entry",
                )
            )
    exits = [t for t in shown if lo <= t["ExitBar"] < hi]
    if exits:
        fig.add_trace(
            go.Scatter(
                x=[ohlc.index[t["ExitBar"]] for t in exits],
                y=[t["ExitPrice"] for t in exits],
                mode="markers",
                marker=dict(symbol="x", size=9, color="#111827"),
                name="exit",
            )
        )
    if events is not None and len(events):
        inside = events[(events["bar"] >= lo) & (events["bar"] < hi) & (events["direction"] != 0)]
        highs, lows = ohlc["High"].to_numpy(), ohlc["Low"].to_numpy()
        for k, (pattern, group) in enumerate(
            inside.groupby("pattern", sort=True)
        ):  # one legend entry (and marker) a pattern
            bars, up = group["bar"].to_numpy(), group["direction"].to_numpy() > 0
            y = np.where(up, lows[bars] * 0.9992, highs[bars] * 1.0008)  # bullish below the bar, bearish above
            fig.add_trace(
                go.Scatter(
                    x=group["ts"],
                    y=y,
                    mode="markers",
                    name=pattern,
                    hoverinfo="text+x",
                    text=[f"{pattern} ({'bullish' if u else 'bearish'})" for u in up],
                    marker=dict(
                        symbol=PATTERN_MARKERS[k % len(PATTERN_MARKERS)],
                        size=8,
                        color=["#15803d" if u else "#b91c1c" for u in up],
                    ),
                )
            )
    fig.update_xaxes(rangebreaks=closure_breaks(window.index))  # the weekend closure is no gap between bars
    marked = [
        what
        for what, present in (("trades", bool(shown)), ("patterns", events is not None and len(events) > 0))
        if present
    ]
    title = f"Bars {lo}-{hi - 1}" + (f" with {' and '.join(marked)}" if marked else "")
    if trade is not None:
        fig.add_vrect(
            x0=ohlc.index[trade["EntryBar"]],
            x1=ohlc.index[trade["ExitBar"]],
            fillcolor="#fde68a",
            opacity=0.35,
            line_width=0,
            layer="below",
        )
        title = (
            f"Trade {highlight}: {'long' if trade['Size'] > 0 else 'short'} from {ohlc.index[trade['EntryBar']]:%Y-%m-%d %H:%M} "
            f"to {ohlc.index[trade['ExitBar']]:%Y-%m-%d %H:%M} (shaded); bars {lo}-{hi - 1}"
        )
    elif hi - lo < n:
        title += f" - the last {hi - lo:,} of {n:,} bars; a trade's number centres the chart on it"
    fig.update_layout(
        title=title,
        height=520,
        template="plotly_white",
        xaxis_rangeslider_visible=False,
        margin=dict(l=60, r=20, t=50, b=40),
    )
    return json.loads(fig.to_json())


OBJECTIVE_LABELS = {
    "return_pct": "return %",
    "max_drawdown_pct": "max drawdown %",
    "sharpe": "Sharpe",
    "win_rate_pct": "win rate %",
    "profit_factor": "profit factor",
    "n_trades": "trades",
}


def _metric(rows, key, dtype=np.float64):
    """One metric of each row as an array (missing = NaN): plotly sends arrays base64-encoded, a fraction
    of the size of a list of numbers in the page. float32 (7 digits) for the crowd of points behind a front."""
    return np.array([np.nan if r["metrics"].get(key) is None else r["metrics"][key] for r in rows], dtype=dtype)


def _param(rows, name, dtype=np.float64):
    values = [r["params"].get(name) for r in rows]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=dtype)
    return [str(v) for v in values]  # a choice parameter: categories


def _groups(results):
    """Front (feasible rank 0), feasible dominated, infeasible: drawn in that order of emphasis."""
    front = [r for r in results if r["rank"] == 0 and r["feasible"]]
    dominated = [r for r in results if r["feasible"] and r["rank"] != 0]
    infeasible = [r for r in results if not r["feasible"]]
    return front, dominated, infeasible


def _shown(results, total):
    return (
        f" ({len(results):,} of {total:,} evaluations: the front and an even sample)"
        if total and total > len(results)
        else ""
    )


# dominated points solid and mid-grey, infeasible ones amber: both visible beside the front, under it
DOMINATED = dict(color="#64748b", opacity=0.55)
INFEASIBLE = dict(color="#d97706", opacity=0.45)
FRONT = "#b91c1c"
F32 = np.float32


def pareto_figures(results: list[dict], metric_keys: list[str], *, total: int | None = None) -> dict:
    """2-D projections of every pair of objectives, a 3-D scatter of the first three, and parallel
    coordinates of the parameters coloured by front membership; dominated and infeasible points are
    drawn apart from the front. `total`: how many evaluations `results` was drawn from."""
    front, dominated, infeasible = _groups(results)
    note = _shown(results, total)
    figures = {}
    pairs = [(a, b) for i, a in enumerate(metric_keys) for b in metric_keys[i + 1 :]]
    if pairs:
        proj = make_subplots(
            rows=1,
            cols=len(pairs),
            subplot_titles=[f"{OBJECTIVE_LABELS[a]} vs {OBJECTIVE_LABELS[b]}" for a, b in pairs],
        )
        for k, (a, b) in enumerate(pairs, start=1):
            for rows, name, marker in (
                (infeasible, "infeasible", dict(size=4, color=INFEASIBLE["color"])),
                (dominated, "dominated", dict(size=4, color=DOMINATED["color"])),
            ):
                if rows:
                    proj.add_trace(
                        go.Scattergl(
                            x=_metric(rows, a, F32),
                            y=_metric(rows, b, F32),
                            mode="markers",
                            name=name,
                            marker=marker,
                            opacity=0.5,
                            legendgroup=name,
                            showlegend=k == 1,
                        ),
                        row=1,
                        col=k,
                    )
            proj.add_trace(
                go.Scattergl(
                    x=_metric(front, a),
                    y=_metric(front, b),
                    mode="markers",
                    name="Pareto front",
                    marker=dict(size=8, color=FRONT),
                    showlegend=k == 1,
                    legendgroup="front",
                    text=[str(r["params"]) for r in front],
                ),
                row=1,
                col=k,
            )
            proj.update_xaxes(title_text=OBJECTIVE_LABELS[a], row=1, col=k)
            proj.update_yaxes(title_text=OBJECTIVE_LABELS[b], row=1, col=k)
        proj.update_layout(
            height=380,
            template="plotly_white",
            margin=dict(l=50, r=20, t=60, b=40),
            title=dict(text="Objective pairs" + note, y=0.98, yanchor="top", font=dict(size=13)),
        )
        figures["projections"] = json.loads(proj.to_json())
    if len(metric_keys) >= 3:
        a, b, c = metric_keys[:3]
        traces = [
            go.Scatter3d(
                x=_metric(rows, a, F32),
                y=_metric(rows, b, F32),
                z=_metric(rows, c, F32),
                mode="markers",
                name=name,
                marker=dict(size=3, **style),
            )
            for rows, name, style in ((infeasible, "infeasible", INFEASIBLE), (dominated, "dominated", DOMINATED))
            if rows
        ]
        traces.append(
            go.Scatter3d(
                x=_metric(front, a),
                y=_metric(front, b),
                z=_metric(front, c),
                mode="markers",
                name="Pareto front",
                marker=dict(size=6, color=FRONT, line=dict(color="#450a0a", width=1)),
                text=[str(r["params"]) for r in front],
            )
        )
        fig3 = go.Figure(traces)
        fig3.update_layout(
            height=560,
            template="plotly_white",
            margin=dict(l=0, r=0, t=40, b=0),
            title=dict(text=note.strip(" ()")),
            scene=dict(
                xaxis_title=OBJECTIVE_LABELS[a], yaxis_title=OBJECTIVE_LABELS[b], zaxis_title=OBJECTIVE_LABELS[c]
            ),
        )
        figures["scatter3d"] = json.loads(fig3.to_json())
    names = list(results[0]["params"]) if results else []
    numeric = [n for n in names if all(isinstance(r["params"].get(n), (int, float)) for r in results)]
    if numeric:
        par = go.Figure(
            go.Parcoords(
                line=dict(
                    color=np.array([1.0 if (r["rank"] == 0 and r["feasible"]) else 0.0 for r in results]),
                    colorscale=[[0, "rgba(148,163,184,0.35)"], [1, FRONT]],
                ),
                dimensions=[dict(label=n, values=_param(results, n)) for n in numeric],
            )
        )
        # the axis names and top values sit above the plot area: the title goes higher, clear of them
        par.update_layout(
            height=420,
            template="plotly_white",
            margin=dict(l=60, r=60, t=100, b=30),
            title=dict(text="Parameters (front in red)" + note, y=0.97, yanchor="top"),
        )
        figures["parallel"] = json.loads(par.to_json())
    return figures


def importance_figure(importance: dict, names: list[str]) -> dict:
    """Horizontal bars: the share of each objective's variance each parameter explains on its own."""
    fig = go.Figure()
    for key, found in importance.items():
        if found:
            fig.add_trace(
                go.Bar(
                    y=names,
                    x=[found["importance"][n] for n in names],
                    orientation="h",
                    name=f"{OBJECTIVE_LABELS[key]} (all main effects: {found['explained']:.0%})",
                )
            )
    fig.update_layout(
        barmode="group",
        height=140 + 22 * len(names) * max(1, len(fig.data)),
        template="plotly_white",
        title="Parameter importance: share of each objective's variance explained by the parameter alone",
        xaxis=dict(title="share of variance", tickformat=".0%", rangemode="tozero"),
        yaxis=dict(autorange="reversed"),
        legend=dict(orientation="h", y=-0.25),
        margin=dict(l=140, r=20, t=50, b=40),
    )
    return json.loads(fig.to_json())


def slice_figure(results: list[dict], metric_keys: list[str], names: list[str], *, total: int | None = None) -> dict:
    """Slice plots: each objective (rows) against each searched parameter (columns), every evaluation
    drawn, the front in red."""
    front, dominated, infeasible = _groups(results)
    others = dominated + infeasible
    fig = make_subplots(
        rows=len(metric_keys),
        cols=len(names),
        shared_yaxes=True,
        horizontal_spacing=0.02,
        vertical_spacing=0.06 if len(metric_keys) > 1 else 0.0,
    )
    for i, key in enumerate(metric_keys, start=1):
        for j, name in enumerate(names, start=1):
            first = i == 1 and j == 1
            if others:
                fig.add_trace(
                    go.Scattergl(
                        x=_param(others, name, F32),
                        y=_metric(others, key, F32),
                        mode="markers",
                        name="other evaluations",
                        marker=dict(size=3, color=DOMINATED["color"]),
                        opacity=0.45,
                        legendgroup="others",
                        showlegend=first,
                    ),
                    row=i,
                    col=j,
                )
            fig.add_trace(
                go.Scattergl(
                    x=_param(front, name),
                    y=_metric(front, key),
                    mode="markers",
                    name="Pareto front",
                    marker=dict(size=5, color=FRONT),
                    legendgroup="front",
                    showlegend=first,
                ),
                row=i,
                col=j,
            )
            if i == len(metric_keys):
                fig.update_xaxes(title_text=name, row=i, col=j)
            if j == 1:
                fig.update_yaxes(title_text=OBJECTIVE_LABELS[key], row=i, col=j)
    fig.update_layout(
        height=80 + 230 * len(metric_keys),
        template="plotly_white",
        margin=dict(l=60, r=20, t=50, b=50),
        title=dict(text="Slices: each objective against each parameter" + _shown(results, total), font=dict(size=13)),
        legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"),
    )
    return json.loads(fig.to_json())


def hypervolume_figure(history: list) -> dict:
    fig = go.Figure(
        go.Scatter(x=[h[0] for h in history], y=[h[1] for h in history], mode="lines+markers", name="hypervolume")
    )
    fig.update_layout(
        title="Hypervolume after each batch",
        xaxis_title="evaluations",
        height=320,
        template="plotly_white",
        margin=dict(l=60, r=20, t=50, b=40),
    )
    return json.loads(fig.to_json())


def pbo_logits_figure(histogram: dict) -> dict:
    """The CSCV logits of the in-sample best's out-of-sample rank (`logit_histogram`): mass left of 0 is the PBO."""
    edges, counts = np.asarray(histogram["edges"], float), histogram["counts"]
    fig = go.Figure(
        go.Bar(
            x=((edges[:-1] + edges[1:]) / 2).tolist(),
            y=counts,
            width=float(np.diff(edges).min()) if len(edges) > 1 else None,
            marker_color="#475569",
            name="logit",
        )
    )
    fig.add_vline(x=0, line=dict(color="#b91c1c", dash="dash"))
    fig.update_layout(
        title="Out-of-sample rank of the in-sample best, per split (logit; left of the line: below the median)",
        xaxis_title="logit of the relative rank",
        yaxis_title="splits",
        height=300,
        template="plotly_white",
        margin=dict(l=60, r=20, t=50, b=40),
        showlegend=False,
    )
    return json.loads(fig.to_json())


def walk_forward_figure(result: dict) -> dict:
    """The stitched out-of-sample equity of a walk-forward: each window's test compounded on the last."""
    ends = [w["out_of_sample"][1][:16] for w in result["windows"]]
    starts = result["windows"][0]["out_of_sample"][0][:16] if result["windows"] else ""
    fig = go.Figure(
        go.Scatter(x=[starts, *ends], y=result["stitched_equity"], mode="lines+markers", name="out of sample")
    )
    fig.add_hline(y=1.0, line=dict(color="#94a3b8", dash="dot"))
    fig.update_layout(
        title="Walk-forward: stitched out-of-sample equity (1 = start)",
        yaxis_title="equity multiple",
        height=320,
        template="plotly_white",
        margin=dict(l=60, r=20, t=50, b=40),
    )
    return json.loads(fig.to_json())
