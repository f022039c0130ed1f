from __future__ import annotations

import pandas as pd

from conformal.engine import with_bounds
from conformal.models import CalibrationRun
from forexgpt_site.jobs import JobStatus


def calibration_intervals(run: CalibrationRun) -> pd.DataFrame:
    if not run.intervals:
        raise ValueError(f"calibration {run.pk} has no intervals yet (status {run.status})")
    with run.intervals.open("rb") as fh:
        frame = pd.read_csv(fh)
    if "timestamp" in frame:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def calibration_for_version(version) -> CalibrationRun | None:
    """The calibration attached to a model version, if any."""
    return CalibrationRun.objects.filter(artifact_version=version, attached=True, status=JobStatus.SUCCEEDED).first()


def apply_calibration(run: CalibrationRun, forecasts: pd.DataFrame) -> pd.DataFrame:
    """Add `lo` / `hi` to new forecasts (the forecast columns) from a stored calibration."""
    return with_bounds(run.state, run.alpha, forecasts)
