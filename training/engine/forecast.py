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


SEASON_PRIOR_BARS = 5  # ten years of H1 bars give ~400 per hour of the week: the prior matters only for short series


class Seasonality:
    """The calendar of volatility: each slot's average squared 1-bar return relative to the mean, over
    the training part - slots are the hour of the week for intraday bars, the day of the week for
    daily and longer ones. Slots with no bar in training (the weekend) are closed: the next `h` bars
    after a bar are the next `h` open slots, so a horizon's calendar is known in advance, without
    future timestamps."""

    def __init__(self, factors: np.ndarray, seen: np.ndarray, kind: str):
        self.factors, self.seen, self.kind = np.asarray(factors, float), np.asarray(seen, bool), kind

    @classmethod
    def fit(cls, close: np.ndarray, ts, train_last: int) -> "Seasonality":
        slot, kind, n = calendar_slots(ts)
        ret = np.diff(np.log(np.asarray(close, float)), prepend=np.log(close[0]))
        seen = slice(1, train_last + 1)
        sums = np.bincount(slot[seen], weights=ret[seen] ** 2, minlength=n)
        counts = np.bincount(slot[seen], minlength=n)
        mean = (ret[seen] ** 2).mean() or 1.0
        raw = np.maximum(sums / np.maximum(counts, 1) / mean, 1e-3)
        # shrunk towards 1 in log space, by counts / (counts + SEASON_PRIOR_BARS): a slot seen a few
        # times says little (a short series), one seen hundreds of times keeps its own factor
        factors = np.exp(np.log(raw) * counts / (counts + SEASON_PRIOR_BARS))
        return cls(factors, counts > 0, kind)

    def slots(self, ts) -> np.ndarray:
        slot, kind, _ = calendar_slots(ts)
        if kind != self.kind:
            raise ValueError(f"this series' calendar is {kind}; the seasonality was fitted on {self.kind}")
        return slot

    def horizon_sum(self, slots: np.ndarray, horizon: int) -> np.ndarray:
        """Sum of the factors of the next `horizon` open slots after each slot."""
        n = len(self.factors)
        open_slots = np.flatnonzero(self.seen) if self.seen.any() else np.arange(n)
        per_slot = np.empty(n)
        for s in range(n):
            after = open_slots[open_slots > s]
            ring = np.concatenate([after] + [open_slots] * (horizon // len(open_slots) + 1))
            per_slot[s] = self.factors[ring[:horizon]].sum()
        return per_slot[slots]

    def variance(self, close: np.ndarray, ts, ends: np.ndarray, horizon: int, lam: float) -> np.ndarray:
        """The horizon's variance at each end: an EWMA (lambda `lam`, bars <= t) of returns divided by
        their slot's factor, times the factors of the horizon's own slots."""
        slot = self.slots(ts)
        ret = np.diff(np.log(np.asarray(close, float)), prepend=np.log(close[0]))
        level = pd.Series(ret ** 2 / self.factors[slot]).ewm(alpha=1 - lam, adjust=False).mean().to_numpy()
        return level[ends] * self.horizon_sum(slot[ends], horizon)

    def to_npz(self) -> dict:
        return {"season_factors": self.factors, "season_seen": self.seen.astype(np.float64),
                "season_kind": np.array(0 if self.kind == "hour_of_week" else 1)}

    @classmethod
    def from_npz(cls, stats: dict) -> "Seasonality | None":
        if "season_factors" not in stats:
            return None
        return cls(stats["season_factors"], np.asarray(stats["season_seen"]) > 0,
                   "hour_of_week" if int(stats["season_kind"]) == 0 else "day_of_week")


def calendar_slots(ts) -> tuple[np.ndarray, str, int]:
    """(slot of each bar, kind, number of slots): hour of the week for bars shorter than a day, else
    the day of the week."""
    stamps = pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
    step = (stamps[1:] - stamps[:-1]).min() if len(stamps) > 1 else pd.Timedelta(hours=1)
    if step < pd.Timedelta(days=1):
        return (stamps.day_of_week * 24 + stamps.hour).to_numpy(), "hour_of_week", 168
    return stamps.day_of_week.to_numpy(), "day_of_week", 7


def seasonal_ewma_samples(close: np.ndarray, ts, ends: np.ndarray, horizon: int, *, train_last: int, n_samples: int = 100,
                          lam: float = 0.94, seed: int = 0) -> np.ndarray:
    """Baseline 3: the EWMA Gaussian with the calendar (`Seasonality`, fitted on the training part):
    zero mean, the variance of `Seasonality.variance`."""
    sigma = np.sqrt(Seasonality.fit(close, ts, train_last).variance(close, ts, ends, horizon, lam))
    z = np.random.default_rng(seed).standard_normal((len(ends), n_samples))
    return z * sigma[:, None]
