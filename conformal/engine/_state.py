"""Rebuild a fitted calibrator from `get_state()`, so stored calibrations apply to new forecasts."""

from __future__ import annotations

import math

from ._adaptive import AdaptiveConformal, QuantileTracking, SlidingWindowConformal, _ScoreWindow
from ._scores import make_score
from ._split import AsymmetricConformal, SplitConformal


def calibrator_from_state(state: dict):
    method = state.get("method")
    if method == "split":
        cal = SplitConformal(state["alpha"], score=state["score"])
        cal.score_, cal.q_ = make_score(state["score"]), float(state["q"])
        cal.is_infinite_ = math.isinf(cal.q_)
        return cal
    if method == "asymmetric":
        cal = AsymmetricConformal(state["alpha"])
        cal.q_lo_, cal.q_hi_ = float(state["q_lo"]), float(state["q_hi"])
        return cal
    if method in ("window", "aci"):
        if method == "window":
            cal = SlidingWindowConformal(state["alpha"], window=state["window"], score=state["score"])
        else:
            cal = AdaptiveConformal(state["alpha"], gamma=state["gamma"], window=state["window"], score=state["score"])
            cal.alpha_t_, cal.alpha_path_ = float(state["alpha_t"]), []
        cal.window_ = _ScoreWindow(state["scores"], state["window"])
    elif method == "pid":
        cal = QuantileTracking(state["alpha"], lr=state["lr"], score=state["score"])
        cal.q_t_, cal.step_ = float(state["q_t"]), float(state["step"])
    else:
        raise ValueError(f"cannot rebuild a calibrator from method {method!r}")
    cal.score_ = make_score(state["score"])
    cal.n_infinite_, cal.n_seen_, cal._pending = 0, 0, None
    return cal


def with_bounds(state: dict, alpha: float, forecasts):
    """New forecasts (the forecast columns; the truth not known yet) with `lo` / `hi` from a fitted
    calibrator's stored state: what an attached calibration gives a model version's forecasts."""
    import numpy as np

    from ._series import forecast_columns

    cols = forecast_columns(forecasts.assign(y_true=0.0), alpha)
    lo, hi = calibrator_from_state(state).predict(cols["y_pred"], scale=cols.get("scale"), q_lo=cols.get("q_lo"), q_hi=cols.get("q_hi"))
    return forecasts.assign(lo=np.broadcast_to(lo, len(forecasts)), hi=np.broadcast_to(hi, len(forecasts)))
