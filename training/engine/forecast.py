"""Forecasts from sample paths, and their quality against baselines - all causal, no Django."""

from __future__ import annotations

import numpy as np
import pandas as pd

QUANTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
QUANTILE_NAMES = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")


def summarize(samples: np.ndarray) -> dict[str, np.ndarray]:
    """samples [m, n, horizon] of cumulative log returns -> quantiles per step, the median path, and
    the confidence: the share of samples whose final return has the sign of the median's."""
    q = np.quantile(samples, QUANTILES, axis=1)  # [7, m, horizon]
    median_final = q[3, :, -1]
    confidence = (np.sign(samples[:, :, -1]) == np.sign(median_final)[:, None]).mean(axis=1)
    out = {name: q[i] for i, name in enumerate(QUANTILE_NAMES)}
    out["median"] = q[3]
    out["confidence"] = confidence
    return out


def crps_samples(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of an ensemble per row (samples [m, n], y [m]) - the unbiased ('fair') estimator
    E|X - y| - 1/2 E|X - X'| with X != X', so ensembles of different size compare fairly."""
    n = samples.shape[1]
    term1 = np.abs(samples - y[:, None]).mean(axis=1)
    s = np.sort(samples, axis=1)
    # sum_{i<j} |x_i - x_j| = sum_i x_(i) (2i - n + 1) for sorted x, 0-based i
    weights = 2 * np.arange(n) - n + 1
    pair_sum = (s * weights[None, :]).sum(axis=1)
    return term1 - pair_sum / (n * (n - 1))


def pinball(q_pred: np.ndarray, y: np.ndarray, tau: float) -> float:
    diff = y - q_pred
    return float(np.mean(np.maximum(tau * diff, (tau - 1) * diff)))


def forecast_scores(samples: np.ndarray, y: np.ndarray) -> dict:
    """Quality of horizon-end forecasts: samples [m, n] and realized y [m]."""
    qs = np.quantile(samples, QUANTILES, axis=1)
    return {
        "crps": float(crps_samples(samples, y).mean()),
        "mae_median": float(np.abs(qs[3] - y).mean()),
        "pinball": {name: pinball(qs[i], y, tau) for i, (name, tau) in enumerate(zip(QUANTILE_NAMES, QUANTILES))},
        "coverage_q05_q95": float(((y >= qs[0]) & (y <= qs[-1])).mean()),
        "n": int(len(y)),
    }


def random_walk_samples(close: np.ndarray, ends: np.ndarray, horizon: int, *, n_samples: int = 100, window: int = 2000,
                        seed: int = 0) -> np.ndarray:
    """Baseline 1: zero drift, the horizon return drawn from the empirical distribution of the past
    `window` horizon returns known at t (their targets ended by t)."""
    logc = np.log(close)
    past = np.full(len(logc), np.nan)
    past[horizon:] = logc[horizon:] - logc[:-horizon]  # the horizon return ending at each bar
    rng = np.random.default_rng(seed)
    out = np.empty((len(ends), n_samples))
    for i, t in enumerate(ends):
        hist = past[max(horizon, t - window + 1): t + 1]
        hist = hist[np.isfinite(hist)]
        out[i] = rng.choice(hist, size=n_samples, replace=True) if len(hist) else 0.0
    return out


def ewma_gaussian_samples(close: np.ndarray, ends: np.ndarray, horizon: int, *, n_samples: int = 100, lam: float = 0.94,
                          seed: int = 0) -> np.ndarray:
    """Baseline 2: zero mean, Gaussian with EWMA volatility of 1-bar returns (RiskMetrics lambda)
    up to t, scaled by sqrt(horizon)."""
    ret = np.diff(np.log(close), prepend=np.log(close[0]))
    var = pd.Series(ret ** 2).ewm(alpha=1 - lam, adjust=False).mean().to_numpy()
    sigma = np.sqrt(var[ends] * horizon)
    z = np.random.default_rng(seed).standard_normal((len(ends), n_samples))
    return z * sigma[:, None]
