"""Forecasts from sample paths, and their quality against baselines - all causal, no Django."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from .features import ewma_variance

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


def shrink_drift(paths: np.ndarray, drift: float) -> np.ndarray:
    """Paths [m, n_samples, ...] with each window's median moved to `drift` times itself: every path
    of a window shifted by the same amount, step by step, so the spread and shape stay the model's.
    drift 1 leaves them as sampled, 0 centres each window on a zero median return."""
    if drift == 1.0:
        return paths
    return paths - (1.0 - drift) * np.median(paths, axis=1, keepdims=True)


LEVEL_GRID = np.linspace(0.0, 1.0, 101)  # the levels a fitted level map is stored at


def pit_values(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Where each realized value fell in its forecast (samples [m, n], y [m]), on the predictive scale: the
    sorted sample of rank k (1-based) sits at level k / (n + 1) - for n draws of a distribution and one more
    draw y, P(y < the rank-k sample) is k / (n + 1) exactly, whatever n (numpy's "weibull" quantile
    convention). Between two samples, linearly between their levels; below every sample the middle of what
    is left below the lowest one, 1 / (2 (n + 1)) (where inside that tail is not known), above every sample
    likewise; NaN where y is. Uniform on [0, 1] for a calibrated forecaster, but for the tails beyond its
    samples."""
    n = samples.shape[1]
    ranked = np.sort(samples, axis=1)
    k = (ranked < y[:, None]).sum(axis=1)  # samples below
    inner = np.clip(k, 1, n - 1)
    lo = np.take_along_axis(ranked, inner[:, None] - 1, axis=1)[:, 0]
    hi = np.take_along_axis(ranked, inner[:, None], axis=1)[:, 0]
    between = np.clip((y - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
    tail = 0.5 / (n + 1)
    below = y < ranked[:, 0]  # (a value equal to the lowest sample is at its level, 1 / (n + 1))
    levels = np.where(below, tail, np.where(k == n, 1.0 - tail, (inner + between) / (n + 1)))
    return np.where(np.isnan(y), np.nan, levels)


def fit_levels(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The level map of a forecaster (Kuleshov et al. 2018, quantile recalibration), on LEVEL_GRID:
    at each level p, the level of its forecast distribution below which a share p of the realized values
    fell (the quantile p of their PIT values on the predictive scale, `pit_values`), so the map describes
    the model, not the number of samples it was fitted with. The identity for a calibrated forecaster; a
    model whose tails are too thin gets its q05 read further out than its 5% - never beyond its lowest
    sample, so a forecaster with more than 5% of the outcomes outside all its samples stays too narrow."""
    levels = np.nanquantile(pit_values(samples, y), LEVEL_GRID)
    levels[0], levels[-1] = 0.0, 1.0
    return np.maximum.accumulate(levels)


def levels_from_sample_scale(levels: np.ndarray, n: int = 100) -> np.ndarray:
    """A level map fitted before 2026-12-08 (stats key `levels`: PIT values on numpy's default scale, rank k
    of n at (k - 1) / (n - 1), with the 100 samples every fit used) on the predictive scale `fit_levels`
    now uses: the same sample positions, renamed (k - 1) / (n - 1) -> k / (n + 1), and beyond the samples
    (0 and 1 then) the middle of the tail `pit_values` now puts there; the ends stay 0 and 1."""
    levels = np.asarray(levels, np.float64)
    tail = 0.5 / (n + 1)
    out = np.where(levels <= 0, tail, np.where(levels >= 1, 1.0 - tail, ((n - 1) * levels + 1) / (n + 1)))
    out[0], out[-1] = 0.0, 1.0
    return out


def recalibrate(paths: np.ndarray, levels: np.ndarray | None) -> np.ndarray:
    """Paths [m, n_samples, horizon] whose horizon-end values are each window's own quantiles at the mapped
    levels (`fit_levels`), read on the predictive scale (`pit_values`): the path of rank j (level
    j / (n - 1), where the summaries and scores read it) ends where the window's n samples put the level the
    map gives that level - so its q05 and q95 cover what the map says for any number of samples, not only
    for as many as the map was fitted with. Step t takes the share t / horizon of that move (a random walk's
    bridge: given its end, its expected path is the straight line to it). Without a map (older models), the
    paths as they are."""
    if levels is None:
        return paths
    end = paths[:, :, -1]
    n, horizon = end.shape[1], paths.shape[2]
    order = np.argsort(end, axis=1)
    ranked = np.take_along_axis(end, order, axis=1)
    mapped = np.interp(np.arange(n) / (n - 1), LEVEL_GRID, levels)
    target = np.quantile(end, mapped, axis=1, method="weibull").T
    move = np.empty_like(end)
    np.put_along_axis(move, order, target - ranked, axis=1)
    return paths + move[:, :, None] * (np.arange(1, horizon + 1) / horizon)


def crps_samples(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of an ensemble per row (samples [m, n], y [m]) - the unbiased ('fair') estimator
    E|X - y| - 1/2 E|X - X'| with X != X', so ensembles of different size compare fairly."""
    n = samples.shape[1]
    term1 = np.abs(samples - y[:, None]).mean(axis=1)
    return term1 - _pair_sum(np.sort(samples, axis=1)) / (n * (n - 1))


def _pair_sum(sorted_values: np.ndarray) -> np.ndarray:
    """sum_{i<j} |x_i - x_j| along the last axis of sorted values: sum_i x_(i) (2i - n + 1), 0-based i."""
    n = sorted_values.shape[-1]
    return (sorted_values * (2 * np.arange(n) - n + 1)).sum(axis=-1)


def pinball(q_pred: np.ndarray, y: np.ndarray, tau: float) -> float:
    diff = y - q_pred
    return float(np.mean(np.maximum(tau * diff, (tau - 1) * diff)))


def forecast_scores(samples: np.ndarray, y: np.ndarray) -> dict:
    """Quality of horizon-end forecasts: samples [m, n] and realized y [m]."""
    return distribution_scores(np.quantile(samples, QUANTILES, axis=1), crps_samples(samples, y), y)


def distribution_scores(qs: np.ndarray, crps: np.ndarray, y: np.ndarray) -> dict:
    """The scores of a forecaster given its QUANTILES [7, m] and its CRPS per window [m]."""
    return {
        "crps": float(np.mean(crps)),
        "mae_median": float(np.abs(qs[3] - y).mean()),
        "pinball": {name: pinball(qs[i], y, tau) for i, (name, tau) in enumerate(zip(QUANTILE_NAMES, QUANTILES))},
        "coverage_q05_q95": float(((y >= qs[0]) & (y <= qs[-1])).mean()),
        "n": int(len(y)),
    }


# The baselines are distributions known exactly, so they are scored exactly: no sampling noise in the
# yardstick (100 random draws moved the random walk's CRPS by up to 0.6% from seed to seed).


def random_walk_history(close: np.ndarray, ends: np.ndarray, horizon: int, *, window: int = 2000) -> list[np.ndarray]:
    """Baseline 1, the empirical random walk: zero drift, the horizon return distributed as the past
    `window` horizon returns known at t (their targets ended by t), one sorted array per window."""
    logc = np.log(close)
    past = np.full(len(logc), np.nan)
    past[horizon:] = logc[horizon:] - logc[:-horizon]  # the horizon return ending at each bar
    out = []
    for t in ends:
        hist = past[max(horizon, t - window + 1) : t + 1]
        hist = np.sort(hist[np.isfinite(hist)])
        out.append(hist if len(hist) else np.zeros(1))
    return out


def ewma_sigma(close: np.ndarray, ends: np.ndarray, horizon: int, *, lam: float = 0.94) -> np.ndarray:
    """Baseline 2, the EWMA Gaussian: zero mean, the spread of the EWMA (RiskMetrics lambda) of squared
    1-bar returns up to t (`ewma_variance`), times sqrt(horizon)."""
    return np.sqrt(ewma_variance(close, lam)[ends] * horizon)


def gaussian_quantiles(sigma: np.ndarray, levels=QUANTILES) -> np.ndarray:
    """[len(levels), m] quantiles of zero-mean Gaussians with spread sigma [m]."""
    return ndtri(np.asarray(levels, float))[:, None] * np.asarray(sigma, float)[None, :]


def empirical_quantiles(histories: list[np.ndarray], levels=QUANTILES) -> np.ndarray:
    """[len(levels), m] quantiles of each window's empirical distribution."""
    return np.stack([np.quantile(h, levels) for h in histories], axis=1)


def gaussian_scores(sigma: np.ndarray, y: np.ndarray) -> dict:
    """Exact scores of zero-mean Gaussian forecasts: CRPS in closed form (Gneiting & Raftery 2007)."""
    sigma = np.maximum(np.asarray(sigma, float), 1e-300)
    z = y / sigma
    crps = sigma * (z * (2 * ndtr(z) - 1) + 2 * np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi) - 1 / np.sqrt(np.pi))
    return distribution_scores(gaussian_quantiles(sigma), crps, y)


def empirical_scores(histories: list[np.ndarray], y: np.ndarray) -> dict:
    """Exact scores of empirical-distribution forecasts (each window's sorted values, equal weights):
    CRPS = E|X - y| - 1/2 E|X - X'| over the distribution itself."""
    crps = np.array([crps_empirical(h, np.array([target]))[0] for h, target in zip(histories, y)])
    return distribution_scores(empirical_quantiles(histories), crps, y)


def crps_empirical(values: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of one empirical distribution (sorted `values`, equal weights) at each of `y`, exactly:
    E|X - y| - 1/2 E|X - X'|, from prefix sums (n log n + len(y) log n)."""
    n = len(values)
    below = np.searchsorted(values, y)  # values < y
    prefix = np.concatenate([[0.0], np.cumsum(values)])
    abs_mean = (y * below - prefix[below] + (prefix[-1] - prefix[below]) - y * (n - below)) / n
    return abs_mean - _pair_sum(values) / n**2


def baseline_scores(
    close: np.ndarray, ts, ends: np.ndarray, horizon: int, y: np.ndarray, *, train_last: int | None
) -> dict:
    """The baselines' exact scores on the same windows: the random walk, the EWMA Gaussian and, with
    `ts` and `train_last`, the seasonal EWMA and the seasonal GARCH(1,1)-t (`BASELINES`)."""
    from .garch import seasonal_garch_t_scores  # garch builds on this module's calendar

    out = {
        "random_walk": empirical_scores(random_walk_history(close, ends, horizon), y),
        "ewma_gaussian": gaussian_scores(ewma_sigma(close, ends, horizon), y),
    }
    if ts is not None and train_last is not None:
        out["seasonal_ewma"] = gaussian_scores(seasonal_ewma_sigma(close, ts, ends, horizon, train_last=train_last), y)
        out["seasonal_garch_t"] = seasonal_garch_t_scores(close, ts, ends, horizon, y, train_last=train_last)
    return out


# The baselines in the order the pages list them: result dicts' names (registry metrics: "crps_" + name) and the pages' labels.
BASELINES = {
    "seasonal_garch_t": "seasonal GARCH(1,1)-t",
    "seasonal_ewma": "seasonal EWMA (hour of week)",
    "ewma_gaussian": "EWMA Gaussian",
    "random_walk": "random walk (empirical)",
}


def strongest_baseline(crps_of: dict) -> tuple[str, float] | None:
    """(name, CRPS) of the baseline with the lowest CRPS among those `crps_of` (name -> CRPS) holds;
    None when it holds none."""
    known = [(name, float(crps_of[name])) for name in BASELINES if crps_of.get(name) is not None]
    return min(known, key=lambda pair: pair[1]) if known else None


SEASON_PRIOR_BARS = 5  # ten years of H1 bars give ~400 per hour of the week: the prior matters only for short series
# The first seven days of a month against the rest, per slot, shrunk towards the slot's own factor by
# counts / (counts + MONTH_WEEK_PRIOR_BARS): ten years give ~100 first-week bars per hour of the week.
MONTH_WEEK_PRIOR_BARS = 20


class Seasonality:
    """The calendar of volatility: each slot's average squared 1-bar return relative to the mean, over
    the training part - slots are the hour of the week for intraday bars, the day of the week for
    daily and longer ones. With `month_week` each slot has a second factor for the first seven days of
    the month (the first Friday's US payrolls: on EURUSD H1 2014-05 to 2021-09, Friday 12:00 UTC's mean
    squared return in the first week was 4.4x that of the other Fridays).
    Slots with no bar in training (the weekend) are closed: the next `h` bars after a bar are the next
    `h` open slots, so a horizon's calendar is known in advance, from the last bar's time alone."""

    def __init__(self, factors: np.ndarray, seen: np.ndarray, kind: str, month_factors: np.ndarray | None = None):
        self.factors, self.seen, self.kind = np.asarray(factors, float), np.asarray(seen, bool), kind
        # [2, slots], relative to `factors`: row 0 for the days after the 7th of a month, row 1 for its first seven days; None: one calendar
        self.month_factors = None if month_factors is None else np.asarray(month_factors, float).reshape(2, -1)

    @classmethod
    def fit(cls, close: np.ndarray, ts, train_last: int, *, month_week: bool = False) -> Seasonality:
        slot, kind, n = calendar_slots(ts)
        ret = np.diff(np.log(np.asarray(close, float)), prepend=np.log(close[0]))
        seen = slice(1, train_last + 1)
        mean = (ret[seen] ** 2).mean() or 1.0

        def shrunk(slots, size, prior, relative_to):
            sums = np.bincount(slots, weights=ret[seen] ** 2, minlength=size)
            counts = np.bincount(slots, minlength=size)
            raw = np.maximum(sums / np.maximum(counts, 1) / mean, 1e-3) / relative_to
            # a slot seen a few times says little (a short series), one seen hundreds of times keeps its own factor
            return np.exp(np.log(raw) * counts / (counts + prior)), counts

        factors, counts = shrunk(slot[seen], n, SEASON_PRIOR_BARS, 1.0)
        month = None
        if month_week:
            first = month_first_week(ts)[seen]
            month, _ = shrunk(slot[seen] + n * first, 2 * n, MONTH_WEEK_PRIOR_BARS, np.tile(factors, 2))
        return cls(factors, counts > 0, kind, month)

    def slots(self, ts) -> np.ndarray:
        slot, kind, _ = calendar_slots(ts)
        if kind != self.kind:
            raise ValueError(f"this series' calendar is {kind}; the seasonality was fitted on {self.kind}")
        return slot

    def horizon_sum(self, slots: np.ndarray, horizon: int, ts=None) -> np.ndarray:
        """Sum of the factors of the next `horizon` open slots after each slot (`horizon_factors`)."""
        return self.horizon_factors(slots, horizon, ts).sum(axis=1)

    def horizon_factors(self, slots: np.ndarray, horizon: int, ts=None) -> np.ndarray:
        """[len(slots), horizon]: the factors of the next `horizon` open slots after each slot; with
        month factors, `ts` (the time of each slot's bar) dates them."""
        n = len(self.factors)
        open_slots = np.flatnonzero(self.seen) if self.seen.any() else np.arange(n)
        ahead = np.empty((n, horizon), dtype=np.int64)  # slots ahead of each slot, counted on past the week's end
        for s in range(n):
            after = open_slots[open_slots > s]
            ring = np.concatenate([after] + [open_slots + n * (r + 1) for r in range(horizon // len(open_slots) + 1)])
            ahead[s] = ring[:horizon] - s
        slots = np.asarray(slots)
        nxt = (slots[:, None] + ahead[slots]) % n
        if self.month_factors is None:
            return self.factors[nxt]
        unit = "h" if self.kind == "hour_of_week" else "D"
        start = pd.DatetimeIndex(pd.to_datetime(ts, utc=True)).floor(unit).tz_localize(None).to_numpy()
        when = start[:, None] + ahead[slots] * np.timedelta64(1, unit)
        first = np.asarray(pd.DatetimeIndex(when.ravel()).day <= 7).reshape(when.shape)
        return self.factors[nxt] * self.month_factors[first.astype(int), nxt]

    def bar_factors(self, ts) -> np.ndarray:
        """Each bar's own factor (its slot's, with the month factor where there is one)."""
        stamps = pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
        slot = self.slots(stamps)
        return self.factors[slot] * (
            self.month_factors[month_first_week(stamps), slot] if self.month_factors is not None else 1
        )

    def deseasonalized(self, close: np.ndarray, ts) -> np.ndarray:
        """1-bar log returns divided by the square root of their bar's factor (the first bar's return is 0)."""
        ret = np.diff(np.log(np.asarray(close, float)), prepend=np.log(close[0]))
        return ret / np.sqrt(self.bar_factors(ts))

    def variance(self, close: np.ndarray, ts, ends: np.ndarray, horizon: int, lam: float) -> np.ndarray:
        """The horizon's variance at each end: an EWMA (lambda `lam`, bars <= t) of returns divided by
        their bar's factor, times the factors of the horizon's own slots."""
        stamps = pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
        level = pd.Series(self.deseasonalized(close, stamps) ** 2).ewm(alpha=1 - lam, adjust=False).mean().to_numpy()
        return level[ends] * self.horizon_sum(self.slots(stamps)[ends], horizon, stamps[ends])

    def to_npz(self) -> dict:
        out = {
            "season_factors": self.factors,
            "season_seen": self.seen.astype(np.float64),
            "season_kind": np.array(0 if self.kind == "hour_of_week" else 1),
        }
        return out | ({} if self.month_factors is None else {"season_month_factors": self.month_factors})

    @classmethod
    def from_npz(cls, stats: dict) -> Seasonality | None:
        if "season_factors" not in stats:
            return None
        return cls(
            stats["season_factors"],
            np.asarray(stats["season_seen"]) > 0,
            "hour_of_week" if int(stats["season_kind"]) == 0 else "day_of_week",
            stats.get("season_month_factors"),
        )


def month_first_week(ts) -> np.ndarray:
    """1 for bars in the first seven days of their month, else 0."""
    return np.asarray(pd.DatetimeIndex(pd.to_datetime(ts, utc=True)).day <= 7, dtype=np.int64)


def calendar_slots(ts) -> tuple[np.ndarray, str, int]:
    """(slot of each bar, kind, number of slots): hour of the week for bars shorter than a day, else
    the day of the week."""
    stamps = pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
    step = (stamps[1:] - stamps[:-1]).min() if len(stamps) > 1 else pd.Timedelta(hours=1)
    if step < pd.Timedelta(days=1):
        return (stamps.day_of_week * 24 + stamps.hour).to_numpy(), "hour_of_week", 168
    return stamps.day_of_week.to_numpy(), "day_of_week", 7


def seasonal_ewma_sigma(
    close: np.ndarray, ts, ends: np.ndarray, horizon: int, *, train_last: int, lam: float = 0.94
) -> np.ndarray:
    """Baseline 3, the seasonal EWMA: the EWMA Gaussian with the calendar (`Seasonality`, fitted on the
    training part): zero mean, the spread of `Seasonality.variance`."""
    return np.sqrt(Seasonality.fit(close, ts, train_last).variance(close, ts, ends, horizon, lam))
