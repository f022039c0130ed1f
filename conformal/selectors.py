from __future__ import annotations

import pandas as pd

from conformal.engine import calibrated_bounds, unseen_coverage, with_bounds
from conformal.models import CalibrationRun
from forecasts.selectors import read_forecasts_csv
from forexgpt_site.errors import DomainError
from forexgpt_site.jobs import JobStatus


def calibration_intervals(run: CalibrationRun) -> pd.DataFrame:
    if not run.intervals:
        raise DomainError(f"calibration {run.pk} has no intervals yet (status {run.status})")
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


def calibration_coverage(run: CalibrationRun) -> dict | None:
    """The run's calibrated coverage on the points it did not see - the figure a forecast set page
    shows for it, from the same two functions (`conformal.engine.calibrated_bounds`, then
    `unseen_coverage`): over its own input, the points after its calibration part, each with its own
    sequential interval. None before it has finished, or when its forecasts had no timestamps."""
    if run.status != JobStatus.SUCCEEDED or not run.ranges or not run.intervals:
        return None
    with run.forecasts.open("rb") as fh:
        frame = read_forecasts_csv(fh)
    bounded = calibrated_bounds(
        frame, state=run.state, alpha=run.alpha, ranges=run.ranges, intervals=calibration_intervals(run)
    )
    return unseen_coverage(bounded, alpha=run.alpha)
