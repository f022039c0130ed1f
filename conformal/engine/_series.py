"""Calibrate a forecast series end to end: a time-ordered split, then intervals and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._inputs import check_alpha
from ._methods import calibration_method
from .metrics import interval_metrics

_QUANTILE_COLUMNS = {0.05: "q05", 0.10: "q10", 0.25: "q25", 0.50: "q50", 0.75: "q75", 0.90: "q90", 0.95: "q95"}


def check_params(method: str, alpha: float, *, cal_size=None, window=None, gamma=None, lr=None, score=None) -> None:
    """Refuse bad parameters up front, naming the bad one."""
    from ._scores import SCORES

    check_alpha(alpha)
    calibration_method(method)
    for name, value in (("cal_size", cal_size), ("window", window)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    for name, value in (("gamma", gamma), ("lr", lr)):
        if value is not None and (not isinstance(value, (int, float)) or value <= 0):
            raise ValueError(f"{name} must be a positive step size, not {value!r}")
    if score is not None and score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose one of {', '.join(SCORES)}")


def forecast_columns(frame: pd.DataFrame, alpha: float) -> dict[str, np.ndarray]:
    """Map a forecast table to calibrator inputs.

    Accepts `y_true, y_pred[, q_lo, q_hi, scale]`, or the forecast command's columns
    (`pred_return`, `q05`..`q95`) plus `y_true`: then y_pred = pred_return, the quantile band is the
    one matching alpha (q05/q95 for 0.1) and scale = q75 - q25.
    """
    cols = {c.lower(): c for c in frame.columns}
    if "y_true" not in cols:
        raise ValueError("the forecasts need a y_true column (the realized value)")
    pred = cols.get("y_pred") or cols.get("pred_return") or cols.get("q50")
    if pred is None:
        raise ValueError("the forecasts need a y_pred (or pred_return) column")
    out = {"y_true": frame[cols["y_true"]].to_numpy(float), "y_pred": frame[pred].to_numpy(float)}
    lo_name = cols.get("q_lo") or cols.get(_QUANTILE_COLUMNS.get(round(alpha / 2, 4), "-"))
    hi_name = cols.get("q_hi") or cols.get(_QUANTILE_COLUMNS.get(round(1 - alpha / 2, 4), "-"))
    if lo_name and hi_name:
        out["q_lo"], out["q_hi"] = frame[lo_name].to_numpy(float), frame[hi_name].to_numpy(float)
    if "scale" in cols:
        out["scale"] = frame[cols["scale"]].to_numpy(float)
    elif "q75" in cols and "q25" in cols:
        out["scale"] = (frame[cols["q75"]] - frame[cols["q25"]]).to_numpy(float)
    for name, values in out.items():
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise ValueError(f"column {name} has a missing or non-numeric value at row {int(bad[0]) + 1}")
    return out


@dataclass
class CalibrationResult:
    method: str
    alpha: float
    n_calibration: int
    lo: np.ndarray
    hi: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    metrics: dict
    state: dict
    params: dict = field(default_factory=dict)


def calibration_size(n: int, cal_size: int | None = None) -> int:
    """The rows a calibration fits on among `n`: `cal_size`, or a third by default; ValueError when
    that leaves none to fit or none to evaluate, naming the count."""
    if cal_size is None:
        if n < 3:
            raise ValueError(f"{n} row(s) are too few to calibrate: at least 3 (a third fits, the rest is evaluated)")
        cal_size = n // 3
    if not isinstance(cal_size, int) or cal_size < 1:
        raise ValueError(f"cal_size must be a positive number of rows, not {cal_size!r}")
    if cal_size >= n:
        raise ValueError(f"cal_size {cal_size} leaves no rows to evaluate ({n} rows in all)")
    return cal_size


def calibrate_series(
    columns: dict[str, np.ndarray],
    *,
    method: str,
    alpha: float,
    cal_size: int | None = None,
    metrics_window: int = 500,
    **params,
) -> CalibrationResult:
    """Calibrate on the first `cal_size` points (default: a third), produce intervals for the rest.

    Split methods are fitted once; online methods (window, aci, pid) are fitted on the calibration
    points and then updated after every later point, each interval using only earlier truths.
    """
    check_alpha(alpha)
    n = len(columns["y_true"])
    cal_size = calibration_size(n, cal_size)
    spec = calibration_method(method)
    calibrator = spec.make(alpha, **params)
    extra = {k: columns.get(k) for k in ("scale", "q_lo", "q_hi")}
    head = {k: (v[:cal_size] if v is not None else None) for k, v in extra.items()}
    tail = {k: (v[cal_size:] if v is not None else None) for k, v in extra.items()}
    calibrator.fit(columns["y_true"][:cal_size], columns["y_pred"][:cal_size], **head)
    y_true, y_pred = columns["y_true"][cal_size:], columns["y_pred"][cal_size:]
    if spec.online:
        lo, hi = calibrator.predict_online(y_true, y_pred, **tail)
    else:
        lo, hi = calibrator.predict(y_pred, **tail)
    lo, hi = np.broadcast_to(lo, y_true.shape).astype(float), np.broadcast_to(hi, y_true.shape).astype(float)
    metrics = interval_metrics(
        y_true,
        lo,
        hi,
        alpha=alpha,
        window=metrics_window,
        volatility=tail["scale"] if tail["scale"] is not None else None,
    )
    if spec.online:
        metrics["n_infinite_online"] = calibrator.n_infinite_
    return CalibrationResult(
        method=method,
        alpha=alpha,
        n_calibration=cal_size,
        lo=lo,
        hi=hi,
        y_true=y_true,
        y_pred=y_pred,
        metrics=metrics,
        state=calibrator.get_state(),
        params={k: v for k, v in params.items() if v is not None},
    )
