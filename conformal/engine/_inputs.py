from __future__ import annotations

import numpy as np


def check_alpha(alpha: float) -> float:
    if not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be strictly between 0 and 1, not {alpha!r}")
    return float(alpha)


def _array(name: str, values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"{name} has a missing or infinite value at position {bad}")
    return array


def prepare(y_pred, *, scale=None, q_lo=None, q_hi=None, needs=(), y_true=None):
    """Check and align the forecast arrays a score needs; returns (inputs, y_true or None)."""
    inputs = {"y_pred": _array("y_pred", y_pred)}
    given = {"scale": scale, "q_lo": q_lo, "q_hi": q_hi}
    for name in needs:
        if given[name] is None:
            raise ValueError(f"this method needs {name} from the forecast")
        inputs[name] = _array(name, given[name])
        if len(inputs[name]) != len(inputs["y_pred"]):
            raise ValueError(f"{name} has {len(inputs[name])} values but y_pred has {len(inputs['y_pred'])}")
    if "scale" in inputs and (inputs["scale"] <= 0).any():
        raise ValueError("scale must be positive everywhere")
    y = None
    if y_true is not None:
        y = _array("y_true", y_true)
        if len(y) != len(inputs["y_pred"]):
            raise ValueError(f"y_true has {len(y)} values but y_pred has {len(inputs['y_pred'])}")
        if len(y) == 0:
            raise ValueError("no calibration points")
    return inputs, y
