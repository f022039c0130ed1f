import json

import plotly.colors
import plotly.graph_objects as go
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from forexgpt_site.parsing import row_ids
from registry import selectors, services
from registry.models import RegisteredModel
from registry.services import ChecksumMismatch, RegistryError


def registry_list(request):
    params = {k: request.GET.get(k) or None for k in ("model", "symbol", "timeframe", "alias")}
    tag = request.GET.get("tag") or None
    try:
        versions = list(selectors.versions_filtered(**params, tags=[tag] if tag else None)[:200])
        error = None
    except (RegistryError, ValueError) as exc:
        versions, error = [], str(exc)
    return render(
        request,
        "registry/list.html",
        {
            "versions": versions,
            "rows": [(v, selectors.version_against_strongest_baseline(v)) for v in versions],
            "models": RegisteredModel.objects.order_by("name"),
            "filters": {**params, "tag": tag},
            "error": error,
        },
    )


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
    series = {
        k: v
        for k, v in history.items()
        if isinstance(v, list) and v and all(isinstance(x, (int, float)) or x is None for x in v)
    }
    epochs = series.pop("epoch", None)
    if not series:
        return None
    # Epochs counted from 1, as the training page counts them (the trainer stores them from 0).
    x = (
        [e + 1 for e in epochs]
        if epochs and all(len(v) == len(epochs) and e is not None for v in series.values() for e in epochs)
        else None
    )
    fig = go.Figure([go.Scatter(x=x, y=v, name=k, mode="lines+markers") for k, v in sorted(series.items())])
    fig.update_layout(
        height=360,
        margin=dict(l=50, r=20, t=40, b=40),
        template="plotly_white",
        title="Training history",
        xaxis_title="epoch",
    )
    if x and len(x) <= 30:
        fig.update_xaxes(dtick=1)  # whole epochs, not 1.5
    return json.loads(fig.to_json())


CURATION_ACTIONS = ("tag_add", "tag_remove", "alias_set", "alias_remove")


def _curate(request, version):
    """One staff edit of tags or aliases from the version page; the services refuse anyone else (403)."""
    action, value, user = request.POST.get("action", ""), request.POST.get("value", "").strip(), request.user
    try:
        if action == "tag_add":
            services.version_tag_add(version=version, tag=value, user=user)
            done = f"tag {value} added"
        elif action == "tag_remove":
            services.version_tag_remove(version=version, tag=value, user=user)
            done = f"tag {value} removed"
        elif action == "alias_set":
            services.alias_set(version=version, alias=value, user=user)
            done = f"alias {value} now points at {version.ref}"
        elif action == "alias_remove":
            services.alias_remove(registered_model=version.registered_model, alias=value, user=user)
            done = f"alias {value} removed"
        else:
            raise ValueError(f"unknown action {action!r}; known: {', '.join(CURATION_ACTIONS)}")
        messages.success(request, done)
    except (RegistryError, ValueError) as exc:
        messages.error(request, str(exc))
    return redirect("registry:version", pk=version.pk)


def _json_file_or_none(request, version, kind: str):
    """A version's JSON file for its page; None without it (an older version), and said on the page
    when it no longer matches its checksum."""
    try:
        return json.loads(selectors.version_file_bytes(version, kind))
    except ChecksumMismatch as exc:
        messages.error(request, str(exc))
    except (RegistryError, ValueError):
        pass
    return None


def version_detail(request, pk: int):
    version = selectors.versions_queryset().filter(pk=pk).first()
    if version is None:
        raise Http404("no such version")
    if request.method == "POST":
        return _curate(request, version)
    history, meta = (_json_file_or_none(request, version, kind) for kind in ("history", "meta"))
    return render(
        request,
        "registry/detail.html",
        {
            "version": version,
            "figure": _history_figure(history),
            "meta": meta,
            "periods": selectors.version_periods(version),
            "forecast_start": selectors.out_of_sample_start(version),
            "alias_history": selectors.alias_history(version)[:50],
            "siblings": version.registered_model.versions.exclude(pk=version.pk).order_by("-created_at")[
                : selectors.COMPARE_MAX - 1
            ],
            "metrics": sorted(version.metrics.items()),
            "calibrations": version.calibrations.order_by("-created_at")[:20],
            "forecast_sets": version.forecast_sets.order_by("-created_at")[:20],
            "backtests": version.backtests.order_by("-created_at")[:20],
            "optimizations": version.optimizations.order_by("-created_at")[:20],
        },
    )


def _compare_figure(versions, histories) -> dict | None:
    """Validation (solid) and training (dotted) loss of every version over its epochs, one colour each."""
    palette = plotly.colors.qualitative.Plotly
    traces = []
    for i, (version, rows) in enumerate(zip(versions, histories)):
        color = palette[i % len(palette)]
        x = [row["epoch"] + 1 if isinstance(row.get("epoch"), int) else n + 1 for n, row in enumerate(rows)]
        for key, dash in (("val_loss", "solid"), ("train_loss", "dot")):
            y = [row.get(key) for row in rows]
            if any(isinstance(v, (int, float)) for v in y):
                traces.append(
                    go.Scatter(
                        x=x,
                        y=y,
                        name=f"{version.ref} {key}",
                        mode="lines+markers",
                        line=dict(color=color, dash=dash),
                        legendgroup=version.ref,
                    )
                )
    if not traces:
        return None
    fig = go.Figure(traces)
    fig.update_layout(
        height=380,
        margin=dict(l=60, r=20, t=40, b=40),
        template="plotly_white",
        title="Loss per epoch (solid: validation, dotted: training)",
        xaxis_title="epoch",
        yaxis_title="loss",
    )
    if max(len(rows) for rows in histories) <= 30:
        fig.update_xaxes(dtick=1)  # whole epochs, not 1.5
    return json.loads(fig.to_json())


def compare(request):
    """Versions side by side (`?version=1&version=2`, up to COMPARE_MAX): metrics, training parameters,
    periods and overlaid loss curves - what MLflow's run comparison shows."""
    asked = request.GET.getlist("version")
    ids = row_ids(asked)
    data = selectors.versions_compared(ids)
    shown = {str(v.pk) for v in data["versions"]}
    unknown = [value for value in asked[: selectors.COMPARE_MAX] if value not in shown]
    if unknown:  # said, not passed over: the page would read as if they had never been asked for
        messages.warning(request, f"no model version {', '.join(repr(v)[1:-1][:20] for v in unknown)}: left out")
    return render(
        request,
        "registry/compare.html",
        {
            **data,
            "figure": _compare_figure(data["versions"], data["histories"]) if data["versions"] else None,
            "asked": len(ids),
            "limit": selectors.COMPARE_MAX,
            "only_differences": request.GET.get("diff") == "1",
        },
    )
