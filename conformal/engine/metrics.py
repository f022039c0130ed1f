"""Interval quality: coverage over time, not only on average."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._inputs import check_alpha


def winkler_scores(y, lo, hi, alpha: float) -> np.ndarray:
    """Width plus 2/alpha times the distance by which the truth falls outside (lower is better)."""
    y, lo, hi = (np.asarray(a, float) for a in (y, lo, hi))
    width = np.maximum(hi - lo, 0.0)
    return width + (2 / alpha) * np.maximum(lo - y, 0.0) + (2 / alpha) * np.maximum(y - hi, 0.0)


def interval_metrics(y, lo, hi, *, alpha: float, window: int = 500, tolerance: float = 0.05, volatility=None) -> dict:
    """Coverage, widths, Winkler score, rolling coverage and coverage by volatility tercile.

    `volatility` (same length as y, known before each y) splits the points into terciles; without
    it, |y| over the previous `min(window, 50)` points is used as a proxy.
    Infinite intervals count as covering; their number is reported, and widths are over finite ones.
    """
    check_alpha(alpha)
    y, lo, hi = (np.asarray(a, float) for a in (y, lo, hi))
    n = len(y)
    if n == 0:
        raise ValueError("no points to evaluate")
    window = fitting_window(n, window)
    below, above = y < lo, y > hi
    covered = ~(below | above)
    width = hi - lo
    finite = np.isfinite(width)
    target = 1 - alpha
    coverage = float(covered.mean())
    winkler = winkler_scores(y, lo, hi, alpha)
    out = {
        "n": n,
        "target": target,
        "coverage": coverage,
        "under_coverage": max(0.0, target - coverage),
        "over_coverage": max(0.0, coverage - target),
        "mean_width": float(np.maximum(width[finite], 0).mean()) if finite.any() else math.inf,
        "median_width": float(np.median(np.maximum(width[finite], 0))) if finite.any() else math.inf,
        "n_infinite": int((~finite).sum()),
        "winkler": float(winkler[finite].mean()) if finite.any() else math.inf,
        "misses_below": int(below.sum()),
        "misses_above": int(above.sum()),
        "rolling_window": window,
    }
    if n >= window:  # false only below 10 points
        rolling = pd.Series(covered.astype(float)).rolling(window).mean().to_numpy()[window - 1 :]
        out["rolling_min"] = float(rolling.min())
        out["rolling_share_below"] = float((rolling < target - tolerance).mean())
        out["rolling_tolerance"] = tolerance
    else:
        out["rolling_min"] = None
        out["rolling_share_below"] = None
    if volatility is None:
        volatility = pd.Series(np.abs(y)).shift(1).rolling(min(window, 50), min_periods=1).mean().bfill().to_numpy()
    volatility = np.asarray(volatility, float)
    cuts = np.nanquantile(volatility, [1 / 3, 2 / 3])
    tercile = np.digitize(volatility, cuts)
    out["coverage_by_volatility"] = {
        name: float(covered[tercile == i].mean()) if (tercile == i).any() else None
        for i, name in enumerate(("low", "mid", "high"))
    }
    return out


def fitting_window(n: int, window: int = 500) -> int:
    """The rolling-coverage window for n points: `window` when they hold one, else a quarter of
    them (at least 10), so a short evaluation still gets its rolling view; reports say which."""
    return window if n >= window else max(10, n // 4)


def rolling_coverage(y, lo, hi, window: int) -> np.ndarray:
    """Share of the last `window` points covered, at each point (NaN before a full window)."""
    covered = (np.asarray(y) >= np.asarray(lo)) & (np.asarray(y) <= np.asarray(hi))
    return pd.Series(covered.astype(float)).rolling(window).mean().to_numpy()
