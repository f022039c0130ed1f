import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from django.shortcuts import get_object_or_404, redirect, render

from forecasts import selectors, services
from forecasts.forms import ForecastForm
from forecasts.models import ForecastSet
from marketdata.charts import closure_breaks
from marketdata.engine import normalize_timeframe
from marketdata.selectors import candles_frame
from registry.selectors import out_of_sample_start, version_by_ref, version_periods
from registry.services import RegistryError

MAX_POINTS = 3000  # forecasts drawn in the fan chart (evenly spaced over the set)


def _version_named(ref: str | None):
    try:
        return version_by_ref(ref) if ref else None
    except RegistryError:
        return None


def forecast_new(request):
    """The version page's "Make forecasts" form posts here; errors come back on this page, and so
    does the warning before an in-sample range (with a box to make it anyway). Opened for a model
    version, it proposes the first whole day of its test period as the start."""
    if request.method == "POST":
        form = ForecastForm(request.POST)
        if fs := form.start(request.user, form.confirming(services.forecast_set_start)):
            return redirect("forecasts:detail", pk=fs.pk)
        version = _version_named(request.POST.get("artifact"))
    else:
        initial = {k: request.GET.get(k) for k in ("artifact", "symbol", "timeframe")}
        version = _version_named(initial["artifact"])
        if version is not None:
            initial = {
                "symbol": version.symbol,
                "timeframe": version.timeframe,
                **{k: v for k, v in initial.items() if v},
                "start": out_of_sample_start(version),
            }
        form = ForecastForm(initial=initial)
    forecast_start = out_of_sample_start(version) if version is not None else None
    return render(request, "forecasts/new.html", {"form": form, "version": version, "forecast_start": forecast_start})


LONG_GAP = pd.Timedelta(days=3)  # longer than a weekend's closure: a hole in the data


def data_gaps(when: pd.DatetimeIndex) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The (last before, first after) of each stretch longer than LONG_GAP with no forecast bar."""
    if len(when) < 2:
        return []
    jumps = np.flatnonzero(np.diff(when.as_unit("ns").asi8) > LONG_GAP.value)
    return [(when[i], when[i + 1]) for i in jumps]


def _broken(when: pd.DatetimeIndex, values: np.ndarray, gaps) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """`values` over `when` with a blank point inside each gap: the line stops there instead of joining across it."""
    if not gaps:
        return when, values
    mids = pd.DatetimeIndex([a + (b - a) / 2 for a, b in gaps])
    x = when.append(mids)
    y = np.concatenate([np.asarray(values, float), np.full(len(mids), np.nan)])
    order = np.argsort(x.as_unit("ns").asi8, kind="stable")
    return x[order], y[order]


def fan_figure(fs: ForecastSet, frame: pd.DataFrame) -> dict | None:
    """Implied horizon-end price bands (close at t times exp(quantile)) drawn at the bar they are for,
    over the realized close there; calibrated lo/hi where attached."""
    if frame.empty:
        return None
    step = max(1, len(frame) // MAX_POINTS)
    frame = frame.iloc[::step]
    candles = candles_frame(symbol=fs.symbol, timeframe=fs.timeframe, start=frame["timestamp"].iloc[0])
    index = pd.Index(candles["ts"])
    pos = index.get_indexer(pd.DatetimeIndex(frame["timestamp"]))
    close = candles["close"].to_numpy(float)
    base = close[pos]
    target = pos + fs.horizon
    known = target < len(close)
    offset = normalize_timeframe(fs.timeframe).offset * fs.horizon
    when = list(frame["timestamp"] + offset)  # the bar each forecast is for: stored, or where it will be
    for i in np.flatnonzero(known):
        when[i] = candles["ts"].iloc[target[i]]
    when = pd.DatetimeIndex(when)
    gaps = data_gaps(when)

    def line(values, **kw):
        x, y = _broken(when, values, gaps)
        return go.Scatter(x=x, y=y, mode="lines", **kw)

    traces = []
    for lo, hi, name, opacity in (
        ("q05", "q95", "90% band (q05-q95)", 0.18),
        ("q25", "q75", "50% band (q25-q75)", 0.35),
    ):
        traces.append(
            line(base * np.exp(frame[hi].to_numpy(float)), line=dict(width=0), showlegend=False, hoverinfo="skip")
        )
        traces.append(
            line(
                base * np.exp(frame[lo].to_numpy(float)),
                line=dict(width=0),
                fill="tonexty",
                fillcolor=f"rgba(37,99,235,{opacity})",
                name=name,
            )
        )
    traces.append(
        line(base * np.exp(frame["pred_return"].to_numpy(float)), name="median", line=dict(color="#1d4ed8", width=1))
    )
    if {"lo", "hi"} <= set(frame.columns):
        for col in ("lo", "hi"):
            traces.append(
                line(
                    base * np.exp(frame[col].to_numpy(float)),
                    name=f"calibrated {col}",
                    line=dict(color="#b45309", width=1, dash="dot"),
                )
            )
    realized = np.where(known, close[np.minimum(target, len(close) - 1)], np.nan)
    traces.append(line(realized, name="realized close", line=dict(color="#111827", width=1)))
    title = f"{fs.symbol} {fs.timeframe}: price {fs.horizon} bars after each forecast" + (
        f" (every {step}th forecast)" if step > 1 else ""
    )
    if gaps:
        title += (
            "; no bars "
            + ", ".join(f"{a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M}" for a, b in gaps[:3])
            + (" ..." if len(gaps) > 3 else "")
        )
    fig = go.Figure(traces)
    fig.update_xaxes(rangebreaks=closure_breaks(when, longest=LONG_GAP))  # closures hidden, data holes in view
    fig.update_layout(
        height=420,
        margin=dict(l=60, r=20, t=50, b=40),
        template="plotly_white",
        title=title,
        legend=dict(orientation="h", y=-0.15),
    )
    return json.loads(fig.to_json())


def forecast_detail(request, pk: int):
    fs = get_object_or_404(ForecastSet.objects.select_related("artifact_version__registered_model"), pk=pk)
    figure = scores = None
    if fs.rows:
        frame = selectors.forecast_frame(fs)
        figure = fan_figure(fs, frame)
        scores = selectors.forecast_scores(fs, frame)
    return render(
        request,
        "forecasts/detail.html",
        {
            "fs": fs,
            "figure": figure,
            "scores": scores,
            "used_by": selectors.runs_using(fs),
            "periods": version_periods(fs.artifact_version) if fs.artifact_version else None,
            "calibration": selectors.attached_calibration(fs),
        },
    )
