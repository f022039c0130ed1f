"""Coverage charts: rolling coverage against the target, and the interval band over the truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from conformal.engine import fitting_window, rolling_coverage
from marketdata.charts import closure_breaks

MAX_POINTS = 4000  # keep pages light: charts show the last points of long series


def _x(frame):
    return frame["timestamp"] if "timestamp" in frame else np.arange(len(frame))


def _hide_closures(fig, xs) -> None:
    """Times on the x axis (each trace's `xs`): the market's closures between them hidden
    (`closure_breaks`), as on the price charts; point numbers (no timestamps) left as they are."""
    if all(len(x) and isinstance(x[0], pd.Timestamp | np.datetime64) for x in xs):
        fig.update_xaxes(rangebreaks=closure_breaks(np.concatenate(xs)))  # (it sorts and dedups the times)


def coverage_figure(runs_frames, *, window: int = 500) -> dict:
    """Rolling coverage of each run against its target: only the points a full window stands behind (the
    x axis spans those, not the window's run-in), the last MAX_POINTS of them, said so only when cut."""
    fig = go.Figure()
    window = fitting_window(min(len(frame) for _, frame in runs_frames), window)
    cut, shown_x = False, []
    for run, frame in runs_frames:
        rolled = np.asarray(rolling_coverage(frame["y_true"], frame["lo"], frame["hi"], window), float)
        x = np.asarray(_x(frame))
        full = np.isfinite(rolled)
        x, rolled = x[full], rolled[full]
        cut |= len(rolled) > MAX_POINTS
        shown_x.append(x[-MAX_POINTS:])
        fig.add_trace(go.Scatter(x=shown_x[-1], y=rolled[-MAX_POINTS:], mode="lines", name=run.label))
    targets = sorted({1 - run.alpha for run, _ in runs_frames})
    for target in targets:
        fig.add_hline(y=target, line_dash="dash", line_color="#111827", annotation_text=f"target {target:.0%}")
    _hide_closures(fig, shown_x)
    shown = f" (the last {MAX_POINTS:,} points shown)" if cut else ""
    # one decimal: a coverage moving between 89% and 91% otherwise repeats its tick labels
    fig.update_layout(
        title=f"Rolling coverage over {window} points{shown}",
        height=380,
        template="plotly_white",
        margin=dict(l=50, r=20, t=50, b=40),
        yaxis_tickformat=".1%",
    )
    return json.loads(fig.to_json())


def band_figure(run, frame, *, points: int = 1000) -> dict:
    tail = frame.tail(points)
    x = _x(tail)
    lo = tail["lo"].replace([np.inf, -np.inf], np.nan)
    hi = tail["hi"].replace([np.inf, -np.inf], np.nan)
    missed = (tail["y_true"] < tail["lo"]) | (tail["y_true"] > tail["hi"])
    fig = go.Figure(
        [
            go.Scatter(x=x, y=hi, mode="lines", line=dict(width=0), showlegend=False, hoverinfo="skip"),
            go.Scatter(
                x=x,
                y=lo,
                mode="lines",
                line=dict(width=0),
                fill="tonexty",
                fillcolor="rgba(29,78,216,0.18)",
                name="interval",
            ),
            go.Scatter(x=x, y=tail["y_true"], mode="markers", marker=dict(size=3, color="#111827"), name="realized"),
            go.Scatter(
                x=x[missed.to_numpy()],
                y=tail["y_true"][missed],
                mode="markers",
                marker=dict(size=5, color="#b91c1c"),
                name="missed",
            ),
        ]
    )
    _hide_closures(fig, [np.asarray(x)])
    fig.update_layout(
        title=f"{run.label}: interval band over realized values (last {len(tail)})",
        height=380,
        template="plotly_white",
        margin=dict(l=50, r=20, t=50, b=40),
    )
    return json.loads(fig.to_json())
