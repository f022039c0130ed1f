"""Apply a stored calibration: its calibrator rebuilt from `get_state()` (`calibrator_from_state`,
each class's own `from_state`) gives new forecasts their bounds."""

from __future__ import annotations

from ._methods import calibrator_from_state


def with_bounds(state: dict, alpha: float, forecasts):
    """New forecasts (the forecast columns; the truth not known yet) with `lo` / `hi` from a fitted
    calibrator's stored state: what an attached calibration gives a model version's forecasts."""
    import numpy as np

    from ._series import forecast_columns

    cols = forecast_columns(forecasts.assign(y_true=0.0), alpha)
    lo, hi = calibrator_from_state(state).predict(
        cols["y_pred"], scale=cols.get("scale"), q_lo=cols.get("q_lo"), q_hi=cols.get("q_hi")
    )
    return forecasts.assign(lo=np.broadcast_to(lo, len(forecasts)), hi=np.broadcast_to(hi, len(forecasts)))
