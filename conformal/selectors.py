from __future__ import annotations

import numpy as np
import pandas as pd

from conformal.engine import calibrator_from_state, forecast_columns
from conformal.models import CalibrationRun


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
    return CalibrationRun.objects.filter(artifact_version=version, attached=True, status="succeeded").first()


def apply_calibration(run: CalibrationRun, forecasts: pd.DataFrame) -> pd.DataFrame:
    """Add `lo` / `hi` to new forecasts (the forecast command's columns) from a stored calibration."""
    calibrator = calibrator_from_state(run.state)
    cols = forecast_columns(forecasts.assign(y_true=0.0), run.alpha)  # the truth is not known yet
    lo, hi = calibrator.predict(cols["y_pred"], scale=cols.get("scale"), q_lo=cols.get("q_lo"), q_hi=cols.get("q_hi"))
    return forecasts.assign(lo=np.broadcast_to(lo, len(forecasts)), hi=np.broadcast_to(hi, len(forecasts)))
