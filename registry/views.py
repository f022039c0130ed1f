import json

import plotly.graph_objects as go
from django.http import Http404
from django.shortcuts import render

from registry import selectors
from registry.models import RegisteredModel
from registry.services import RegistryError


def registry_list(request):
    params = {k: request.GET.get(k) or None for k in ("model", "symbol", "timeframe", "alias")}
    tag = request.GET.get("tag") or None
    try:
        versions = list(selectors.versions_filtered(**params, tags=[tag] if tag else None)[:200])
        error = None
    except (RegistryError, ValueError) as exc:
        versions, error = [], str(exc)
    return render(request, "registry/list.html", {
        "versions": versions, "rows": [(v, selectors.version_against_strongest_baseline(v)) for v in versions], "models": RegisteredModel.objects.order_by("name"), "filters": {**params, "tag": tag},
        "error": error,
    })


def _history_figure(history) -> dict | None:
    """Training curves from .history.json: what the trainer writes ({"epochs": [per-epoch dicts]}),
    a bare list of per-epoch dicts, or {"metric": [values...]}; x is the epoch number when known."""
    if isinstance(history, dict) and isinstance(history.get("epochs"), list):
        history = history["epochs"]
    if isinstance(history, list) and history and all(isinstance(row, dict) for row in history):
        keys = {k for row in history for k, v in row.items() if isinstance(v, (int, float))} - {"step"}
        history = {k: [row.get(k) for row in history] for k in sorted(keys)}
    if not isinstance(history, dict):
        return None
    series = {k: v for k, v in history.items() if isinstance(v, list) and v and all(isinstance(x, (int, float)) or x is None for x in v)}
    epochs = series.pop("epoch", None)
    if not series:
        return None
    x = epochs if epochs and all(len(v) == len(epochs) for v in series.values()) else None
    fig = go.Figure([go.Scatter(x=x, y=v, name=k, mode="lines+markers") for k, v in sorted(series.items())])
    fig.update_layout(height=360, margin=dict(l=50, r=20, t=40, b=40), template="plotly_white",
                      title="Training history", xaxis_title="epoch")
    return json.loads(fig.to_json())


def version_detail(request, pk: int):
    version = selectors.versions_queryset().filter(pk=pk).first()
    if version is None:
        raise Http404("no such version")
    try:
        history = json.loads(selectors.version_file_bytes(version, "history"))
    except (RegistryError, ValueError):
        history = None
    try:
        meta = json.loads(selectors.version_file_bytes(version, "meta"))
    except (RegistryError, ValueError):
        meta = None
    return render(request, "registry/detail.html", {
        "version": version, "figure": _history_figure(history), "meta": meta,
        "periods": selectors.version_periods(version), "forecast_start": selectors.out_of_sample_start(version),
        "alias_history": selectors.alias_history(version)[:50],
        "metrics": sorted(version.metrics.items()),
        "calibrations": version.calibrations.order_by("-created_at")[:20],
        "forecast_sets": version.forecast_sets.order_by("-created_at")[:20],
        "backtests": version.backtests.order_by("-created_at")[:20],
        "optimizations": version.optimizations.order_by("-created_at")[:20],
    })
