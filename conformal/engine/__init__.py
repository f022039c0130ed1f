"""Conformal prediction engine: split, asymmetric, normalized, CQR, sliding-window, ACI and quantile
tracking calibrators (each method declared once, as a `CalibrationMethod` in the registry),
multi-horizon wrapping, coverage metrics, and the coverage of the points a calibration did not see.
No Django here."""

from ._adaptive import AdaptiveConformal, QuantileTracking, SlidingWindowConformal
from ._methods import (
    METHOD_NAME_LENGTH,
    METHODS,
    ONLINE,
    CalibrationMethod,
    calibration_method,
    calibration_methods,
    calibrator_from_state,
    make_calibrator,
    method_choices,
    register_method,
    unregister_method,
)
from ._multi import MultiHorizonConformal
from ._scores import SCORES, conformal_quantile, conformal_rank, lower_conformal_quantile
from ._series import CalibrationResult, calibrate_series, calibration_size, check_params, forecast_columns
from ._split import AsymmetricConformal, SplitConformal
from ._state import with_bounds
from ._unseen import INTERVAL_KINDS, SCORED_KINDS, calibrated_bounds, calibration_ranges, unseen_coverage
from .metrics import fitting_window, interval_metrics, rolling_coverage, winkler_scores

__all__ = [
    "METHODS",
    "ONLINE",
    "SCORES",
    "AdaptiveConformal",
    "AsymmetricConformal",
    "CalibrationResult",
    "MultiHorizonConformal",
    "QuantileTracking",
    "SlidingWindowConformal",
    "SplitConformal",
    "calibrate_series",
    "calibration_size",
    "calibrator_from_state",
    "check_params",
    "conformal_quantile",
    "conformal_rank",
    "forecast_columns",
    "interval_metrics",
    "lower_conformal_quantile",
    "make_calibrator",
    "with_bounds",
    "fitting_window",
    "rolling_coverage",
    "winkler_scores",
    "INTERVAL_KINDS",
    "SCORED_KINDS",
    "calibrated_bounds",
    "calibration_ranges",
    "unseen_coverage",
    "METHOD_NAME_LENGTH",
    "CalibrationMethod",
    "calibration_method",
    "calibration_methods",
    "method_choices",
    "register_method",
    "unregister_method",
]
