"""Calibration runs: validate, queue, compute, attach to a model version."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.files.base import ContentFile
from django.db import transaction

from conformal.engine import METHODS, CalibrationResult, calibrate_series, check_params, forecast_columns
from conformal.models import CalibrationRun
from forecasts.selectors import finished_forecast_set, forecast_frame, read_forecasts_csv
from forexgpt_site.jobs import JobContext, JobStatus, job_enqueue
from forexgpt_site.permissions import require_staff
from forexgpt_site.serialization import json_value

PARAM_NAMES = ("cal_size", "window", "gamma", "lr", "score")


def clean_params(*, method: str, alpha, params: dict) -> tuple[str, float, dict]:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number strictly between 0 and 1, not {alpha!r}") from None
    unknown = set(params) - set(PARAM_NAMES)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(PARAM_NAMES)}")
    params = {k: v for k, v in params.items() if v not in (None, "")}
    check_params(method, alpha, **params)
    return method, alpha, params


def calibration_compute(*, frame: pd.DataFrame, method: str, alpha: float, **params) -> CalibrationResult:
    """Run the engine on a forecasts table (used by the task, the command and the API alike)."""
    method, alpha, params = clean_params(method=method, alpha=alpha, params=params)
    return calibrate_series(forecast_columns(frame, alpha), method=method, alpha=alpha, **params)


def intervals_frame(frame: pd.DataFrame, result: CalibrationResult) -> pd.DataFrame:
    tail = frame.iloc[result.n_calibration:]
    out = pd.DataFrame({"y_true": result.y_true, "y_pred": result.y_pred, "lo": result.lo, "hi": result.hi})
    if "timestamp" in tail:
        out.insert(0, "timestamp", tail["timestamp"].to_numpy())
    return out


def forecast_set_frame(forecast_set) -> pd.DataFrame:
    """A stored forecast set as calibration input: its rows whose realized return is known."""
    frame = forecast_frame(forecast_set, calibrated=False)
    frame = frame[np.isfinite(frame["y_true"])]
    if frame.empty:
        raise ValueError(f"forecast set {forecast_set.pk} has no forecast whose horizon has passed in the stored candles yet")
    return frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))


def calibration_run_start(*, user, method: str, alpha, params: dict, upload=None, forecast_set=None, name: str = "",
                          artifact_version=None) -> CalibrationRun:
    """Check the request and its forecasts (an uploaded CSV, or a stored forecast set: no upload,
    the realized returns come from the candles), then queue the calibration."""
    method, alpha, params = clean_params(method=method, alpha=alpha, params=params)
    if forecast_set is not None:
        forecast_set = finished_forecast_set(forecast_set)
        frame = forecast_set_frame(forecast_set)
        artifact_version = forecast_set.artifact_version
        upload = ContentFile(frame.to_csv(index=False).encode(), name=f"forecast-set-{forecast_set.pk}.csv")
    elif upload is None:
        raise ValueError("a calibration needs forecasts: a stored forecast set or an uploaded CSV")
    frame = read_forecasts_csv(upload, time_ordered=True)
    forecast_columns(frame, alpha)  # the columns the method needs are there, numbers all finite
    if params.get("cal_size") is not None and params["cal_size"] >= len(frame):
        raise ValueError(f"cal_size {params['cal_size']} leaves no rows to evaluate ({len(frame)} rows in all)")
    upload.seek(0)
    run = CalibrationRun(owner=user if getattr(user, "is_authenticated", False) else None, name=name[:120], method=method,
                         alpha=alpha, params=params, artifact_version=artifact_version, forecast_set=forecast_set)
    run.forecasts.save(Path(getattr(upload, "name", "forecasts.csv")).name, upload, save=False)
    with transaction.atomic():
        run.save()
        job_enqueue(run)
    return run


def calibration_run_execute(run: CalibrationRun, ctx: JobContext) -> str:
    ctx.progress(0.1, "reading forecasts", force=True)
    with run.forecasts.open("rb") as fh:
        frame = read_forecasts_csv(fh, time_ordered=True)
    ctx.progress(0.3, f"calibrating {len(frame):,} forecasts with {run.method}", force=True)
    result = calibration_compute(frame=frame, method=run.method, alpha=run.alpha, **run.params)
    buffer = io.StringIO()
    intervals_frame(frame, result).to_csv(buffer, index=False)
    stored = run.intervals.storage.save(f"conformal/intervals/run-{run.pk}.csv", ContentFile(buffer.getvalue().encode()))
    try:
        with transaction.atomic():
            CalibrationRun.objects.filter(pk=run.pk).update(
                metrics=json_value(result.metrics), state=json_value(result.state), intervals=stored)
    except BaseException:
        run.intervals.storage.delete(stored)
        raise
    m = result.metrics
    return f"coverage {m['coverage']:.3f} (target {m['target']:.2f}), mean width {m['mean_width']:.3g}"


@transaction.atomic
def calibration_attach(*, run: CalibrationRun, user) -> CalibrationRun:
    """Make this calibration give its model version's forecasts their intervals (staff only)."""
    require_staff(user, "attach calibrations to model versions")
    if run.artifact_version_id is None:
        raise ValueError("this calibration is not linked to a model version")
    if run.status != JobStatus.SUCCEEDED:
        raise ValueError(f"only a finished calibration can be attached (this one is {run.status})")
    from registry.models import ModelVersion

    ModelVersion.objects.select_for_update().get(pk=run.artifact_version_id)  # one attach at a time per version
    CalibrationRun.objects.filter(artifact_version_id=run.artifact_version_id, attached=True).update(attached=False)
    CalibrationRun.objects.filter(pk=run.pk).update(attached=True)
    run.refresh_from_db()
    return run


