"""Calibration runs: validate, queue, compute, attach to a model version."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.files.base import ContentFile
from django.db import transaction

from conformal.engine import (
    CalibrationResult,
    calibrate_series,
    calibration_ranges,
    calibration_size,
    forecast_columns,
)
from conformal.models import CalibrationRun
from conformal.request import CalibrationRequest
from forecasts.selectors import finished_forecast_set, forecast_frame, read_forecasts_csv
from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.jobs import JobContext, JobStatus, job_enqueue, request_of
from forexgpt_site.permissions import require_staff
from forexgpt_site.serialization import json_value
from registry.selectors import version_by_ref
from training.engine.periods import period_overlap


def calibration_compute(*, frame: pd.DataFrame, request: CalibrationRequest) -> CalibrationResult:
    """Run the engine on a forecasts table (used by the task and the command alike)."""
    return calibrate_series(
        forecast_columns(frame, request.alpha), method=request.method, alpha=request.alpha, **request.params
    )


def intervals_frame(frame: pd.DataFrame, result: CalibrationResult) -> pd.DataFrame:
    tail = frame.iloc[result.n_calibration :]
    out = pd.DataFrame({"y_true": result.y_true, "y_pred": result.y_pred, "lo": result.lo, "hi": result.hi})
    if "timestamp" in tail:
        out.insert(0, "timestamp", tail["timestamp"].to_numpy())
    return out


def forecast_set_frame(forecast_set) -> pd.DataFrame:
    """A stored forecast set as calibration input: its rows whose realized return is known."""
    frame = forecast_frame(forecast_set, calibrated=False)
    frame = frame[np.isfinite(frame["y_true"])]
    if frame.empty:
        raise DomainError(
            f"forecast set {forecast_set.pk} has no forecast whose horizon has passed in the stored candles yet"
        )
    return frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _overlap(version, frame: pd.DataFrame, rows: slice = slice(None)) -> dict | None:
    """Where the forecasts' origins fall among the model version's periods (None when unknown)."""
    if version is None or "timestamp" not in frame:
        return None
    return period_overlap(version.periods, frame["timestamp"].iloc[rows])


@domain_errors()  # what the engines refuse for this request's data is a refusal too
def calibration_run_start(*, user, request: CalibrationRequest, upload=None, enqueue: bool = True) -> CalibrationRun:
    """Check the request against its forecasts (a stored forecast set: no upload, the realized
    returns come from the candles; or `upload`, a forecasts CSV) and its model version, then store
    the calibration and queue it (`enqueue=False`: the caller runs or queues it, as the command does)."""
    artifact_version = version_by_ref(request.artifact) if request.artifact else None
    forecast_set = None
    if request.forecast_set is not None and upload is not None:
        raise DomainError("give a stored forecast set or an uploaded forecasts CSV, not both")
    if request.forecast_set is not None:
        forecast_set = finished_forecast_set(request.forecast_set)
        frame = forecast_set_frame(forecast_set)
        artifact_version = forecast_set.artifact_version
        upload = ContentFile(frame.to_csv(index=False).encode(), name=f"forecast-set-{forecast_set.pk}.csv")
    elif upload is None:
        raise DomainError("a calibration needs forecasts: a stored forecast set or an uploaded CSV")
    frame = read_forecasts_csv(upload, time_ordered=True)
    forecast_columns(frame, request.alpha)  # the columns the method needs are there, numbers all finite
    calibration_size(len(frame), request.cal_size)  # rows to fit and rows to evaluate, before it is queued
    upload.seek(0)
    run = CalibrationRun.of_request(
        request,
        owner=user if getattr(user, "is_authenticated", False) else None,
        artifact_version=artifact_version,
        forecast_set=forecast_set,
        overlap=_overlap(artifact_version, frame),
    )
    run.forecasts.save(Path(getattr(upload, "name", "forecasts.csv")).name, upload, save=False)
    with transaction.atomic():
        run.save()
        if enqueue:
            job_enqueue(run)
    return run


def calibration_run_work(run: CalibrationRun, ctx: JobContext) -> str:
    request = request_of(run)
    ctx.progress(0.1, "reading forecasts", force=True)
    with run.forecasts.open("rb") as fh:
        frame = read_forecasts_csv(fh, time_ordered=True)
    ctx.progress(0.3, f"calibrating {len(frame):,} forecasts with {request.method}", force=True)
    result = calibration_compute(frame=frame, request=request)
    ranges = calibration_ranges(frame["timestamp"] if "timestamp" in frame else None, result.n_calibration)
    if ranges is not None:
        version = run.artifact_version
        for name, rows in (
            ("calibration", slice(None, result.n_calibration)),
            ("evaluation", slice(result.n_calibration, None)),
        ):
            ranges[name]["overlap"] = _overlap(version, frame, rows)
    buffer = io.StringIO()
    intervals_frame(frame, result).to_csv(buffer, index=False)
    stored = run.intervals.storage.save(
        f"conformal/intervals/run-{run.pk}.csv", ContentFile(buffer.getvalue().encode())
    )
    try:
        with transaction.atomic():
            CalibrationRun.objects.filter(pk=run.pk).update(
                metrics=json_value(result.metrics), state=json_value(result.state), intervals=stored, ranges=ranges
            )
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
        raise DomainError("this calibration is not linked to a model version")
    if run.status != JobStatus.SUCCEEDED:
        raise DomainError(f"only a finished calibration can be attached (this one is {run.status})")
    from registry.models import ModelVersion

    ModelVersion.objects.select_for_update().get(pk=run.artifact_version_id)  # one attach at a time per version
    CalibrationRun.objects.filter(artifact_version_id=run.artifact_version_id, attached=True).update(attached=False)
    CalibrationRun.objects.filter(pk=run.pk).update(attached=True)
    run.refresh_from_db()
    return run
