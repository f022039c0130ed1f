"""Windows of normalized features from candles, and the horizon targets - bars <= t only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# The slow EWMA (half-life ~140 bars) of squared 1-bar returns: new models scale their targets by its
# calendar-aware spread (Normalizer) and see its level as an input (the volatility channels). Chosen
# on the validation part by bench/forecast_ceiling.py (0.94, RiskMetrics' daily lambda, was 0.7% worse
# there, and 0.6% in the protocol's test windows: bench/forecast_quality.py, variants default / fast_scale).
TARGET_SCALE_LAMBDA = 0.995
VOL_CHANNELS = ("log_sigma", "ret_z")
# Channels make_features can give but the default model does not read (a model asks for them by name in
# its channel order): `log_sigma_range`, the log spread of the same slow EWMA of each bar's Garman-Klass
# range variance (plus the squared gap from the previous close to its open) - a more efficient estimate
# of the volatility level than squared closes (bench/forecast_ceiling.py: chosen on the validation part
# for five of eight pairs as a volatility-only forecast). Measured as a model input: bench/forecast_quality.py
# --variants range_channel.
# `DAILY_CHANNELS`, a daily context beside the hourly one: what the last 5 and 20 trading days (120 and 480
# bars, 24 a day) did, which a context of 64 bars cannot see - their return and their high-low range in
# units of the slow spread times the root of their length (a trend and how far the price ranged against
# its volatility), and the 20 days' mean squared return against the slow EWMA's (volatility's longer
# level). Measured as model inputs: bench/forecast_quality.py --variants daily_context.
DAILY_CHANNELS = ("trend_5d", "trend_20d", "range_5d", "range_20d", "vol_20d")
DAY_BARS = 24
OPTIONAL_CHANNELS = ("log_sigma_range", *DAILY_CHANNELS)


def make_features(candles: pd.DataFrame, channels=None) -> tuple[np.ndarray, list[str]]:
    """Per-bar channels: log returns of open, high, low, close against the previous close, the log
    high/low range, a volume z-score (rolling, past only) when volume exists, hour-of-day and
    day-of-week as sin/cos, and the volatility channels (VOL_CHANNELS): the log spread of the slow
    EWMA of squared returns (`log_sigma`) and the close's return in units of the spread before it
    (`ret_z`, clipped to +-10) - the level of volatility and each bar's size against it, which a
    window of 64 bars cannot see on its own (the targets are in units of that slow spread). Row t uses
    bars <= t only. With `channels` (a model's channel order) just those, in that order; ValueError
    names any this series cannot give (volume_z without volume)."""
    o, h, l, c = (candles[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    prev = np.r_[c[0], c[:-1]]
    cols = {
        "ret_open": np.log(o / prev),
        "ret_high": np.log(h / prev),
        "ret_low": np.log(l / prev),
        "ret_close": np.log(c / prev),
        "log_range": np.log(h / l),
    }
    volume = candles["volume"].to_numpy(float) if "volume" in candles else np.zeros(len(c))
    if (volume > 0).any():
        v = pd.Series(np.log1p(volume))
        mean, std = v.rolling(500, min_periods=20).mean(), v.rolling(500, min_periods=20).std()
        cols["volume_z"] = ((v - mean) / std.replace(0, np.nan)).fillna(0).clip(-5, 5).to_numpy()
    ts = pd.to_datetime(candles["ts"], utc=True)
    hour = ts.dt.hour.to_numpy() + ts.dt.minute.to_numpy() / 60
    dow = ts.dt.day_of_week.to_numpy()
    cols |= {
        "hour_sin": np.sin(2 * np.pi * hour / 24),
        "hour_cos": np.cos(2 * np.pi * hour / 24),
        "dow_sin": np.sin(2 * np.pi * dow / 7),
        "dow_cos": np.cos(2 * np.pi * dow / 7),
    }
    var = np.maximum(ewma_variance(c, TARGET_SCALE_LAMBDA), 1e-14)
    cols |= {
        "log_sigma": 0.5 * np.log(var),
        "ret_z": np.clip(cols["ret_close"] / np.sqrt(np.r_[var[0], var[:-1]]), -10, 10),
    }
    names = list(cols) if channels is None else list(channels)
    if "log_sigma_range" in names:
        per_bar = range_variances(candles)["garman_klass"]
        level = pd.Series(per_bar).ewm(alpha=1 - TARGET_SCALE_LAMBDA, adjust=False).mean().to_numpy()
        cols["log_sigma_range"] = 0.5 * np.log(np.maximum(level, 1e-14))
    if set(DAILY_CHANNELS) & set(names):
        cols |= daily_context(h, l, c, cols["ret_close"], var)
    missing = [n for n in names if n not in cols]
    if missing:
        raise ValueError(
            f"this series cannot give the channel(s) {', '.join(missing)} the model was trained on"
            + (" (its bars have no volume)" if "volume_z" in missing else "")
        )
    return np.column_stack([cols[n] for n in names]).astype(np.float32), names


def daily_context(h, l, c, ret, var) -> dict[str, np.ndarray]:
    """DAILY_CHANNELS from bars <= t: over the last 5 and 20 days of DAY_BARS bars (fewer at the series'
    start), the close's log return and the log high-low range, each divided by the slow spread at t
    times the root of the window's length, and 0.5 log(the window's mean squared 1-bar return / the slow
    EWMA's variance) for 20 days (`ret`: make_features' 1-bar log returns of the close, 0 at the first bar)."""
    close_log = pd.Series(np.log(c))
    ret2 = pd.Series(ret**2)
    spread = np.sqrt(var)
    out = {}
    for days in (5, 20):
        n = days * DAY_BARS
        unit = spread * np.sqrt(n)
        start = close_log.shift(n).fillna(close_log.iloc[0]).to_numpy()
        high = pd.Series(h).rolling(n, min_periods=1).max().to_numpy()
        low = pd.Series(l).rolling(n, min_periods=1).min().to_numpy()
        out[f"trend_{days}d"] = np.clip((close_log.to_numpy() - start) / unit, -10, 10)
        out[f"range_{days}d"] = np.clip(np.log(high / low) / unit, 0, 20)
    mean_ret2 = ret2.rolling(20 * DAY_BARS, min_periods=1).mean().to_numpy()
    out["vol_20d"] = 0.5 * np.log(np.maximum(mean_ret2, 1e-14) / var)
    return out


def range_variances(candles: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-bar variance estimates from the bar's range - Parkinson, (ln high/low)^2 / 4 ln 2, and
    Garman-Klass, 1/2 (ln high/low)^2 - (2 ln 2 - 1) (ln close/open)^2 (never negative: |ln close/open| <=
    ln high/low) - each plus the squared gap from the previous close to the bar's open, which the bar's
    range does not see."""
    o, h, l, c = (candles[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    hl, co = np.log(h / l), np.log(c / o)
    gap2 = np.log(o / np.r_[c[0], c[:-1]]) ** 2
    return {
        "parkinson": hl**2 / (4 * np.log(2)) + gap2,
        "garman_klass": 0.5 * hl**2 - (2 * np.log(2) - 1) * co**2 + gap2,
    }


def horizon_targets(close: np.ndarray, horizon: int) -> np.ndarray:
    """targets[t, k] = log(close[t + k + 1] / close[t]), k < horizon (NaN past the data's end)."""
    logc = np.log(np.asarray(close, float))
    n = len(logc)
    out = np.full((n, horizon), np.nan, dtype=np.float32)
    for k in range(horizon):
        out[: n - k - 1, k] = logc[k + 1 :] - logc[: n - k - 1]
    return out


@dataclass
class Split:
    """Window end bars (t) of each part, chronological, with a gap so no target overlaps the next part."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def chronological_split(n_bars: int, patch_len: int, horizon: int, *, val: float = 0.15, test: float = 0.15) -> Split:
    """Window ends t in [patch_len - 1, n_bars - 1 - horizon], cut in time order. Between parts,
    `horizon + patch_len` bars are skipped, so a training target never reaches into a validation
    input (gap >= horizon as asked, plus the input window itself)."""
    if not _split_fits(n_bars, patch_len, horizon, val, test):
        least = _least_bars(n_bars, patch_len, horizon, val, test)
        raise ValueError(
            f"{n_bars:,} bars are too few for a train / validation / test split of windows of {patch_len} bars and a "
            f"{horizon}-bar horizon (gaps of {horizon + patch_len} bars between the parts): at least {least:,} are needed"
        )
    ends = np.arange(patch_len - 1, n_bars - horizon)
    n, n_train, n_val, n_test = _part_sizes(n_bars, patch_len, horizon, val, test)
    gap = horizon + patch_len
    test_part = ends[n - n_test :]
    val_part = ends[n - n_test - gap - n_val : n - n_test - gap]
    return Split(ends[:n_train], val_part, test_part)


def _part_sizes(n_bars: int, patch_len: int, horizon: int, val: float, test: float) -> tuple[int, int, int, int]:
    """(windows, train, val, test) window counts of `chronological_split` on `n_bars` bars."""
    n = max(0, n_bars - horizon - patch_len + 1)
    n_test, n_val = int(n * test), int(n * val)
    return n, max(0, n - n_test - 2 * (horizon + patch_len) - n_val), n_val, n_test


def _least_bars(n_bars: int, patch_len: int, horizon: int, val: float, test: float) -> int:
    """The fewest bars above `n_bars` that `_split_fits`: scanned up from a bound no smaller count can
    pass (50 windows, and a training part of 20 once the parts' shares and two gaps are taken), so in a
    few dozen steps whatever the window sizes."""
    gap = horizon + patch_len
    shares = 1 - val - test
    windows = max(50, int((18 + 2 * gap) / shares) - 1) if shares > 0 else 50
    n = max(n_bars + 1, windows + horizon + patch_len - 1)
    while not _split_fits(n, patch_len, horizon, val, test):
        n += 1
    return n


def _split_fits(n_bars: int, patch_len: int, horizon: int, val: float, test: float) -> bool:
    """Whether `n_bars` bars give at least 50 windows and 20 / 5 / 5 in the train / val / test parts."""
    n, n_train, n_val, n_test = _part_sizes(n_bars, patch_len, horizon, val, test)
    return n >= 50 and n_train >= 20 and n_val >= 5 and n_test >= 5


def ewma_variance(close: np.ndarray, lam: float) -> np.ndarray:
    """RiskMetrics EWMA of squared 1-bar log returns, per bar, from bars <= t only (the EWMA-Gaussian
    baseline's variance)."""
    close = np.asarray(close, float)
    ret = np.diff(np.log(close), prepend=np.log(close[0]))
    return pd.Series(ret**2).ewm(alpha=1 - lam, adjust=False).mean().to_numpy()


@dataclass
class Normalizer:
    """Per-channel mu / sigma and the target scale, fitted on the training part only.

    With `scale_lambda` (new models) each window's targets are divided by its own scale: `y_scale`
    times the spread of the calendar-aware EWMA at the window's last bar (`season`, a `Seasonality`
    fitted on the training part: the EWMA of calendar-adjusted returns times the factors of the
    horizon's own hours; without `season`, the plain EWMA's `sqrt(horizon * variance)`). The model
    learns returns in units of that baseline's spread, so its job is what the baseline misses.
    With `scale_model` "garch" the spread is the seasonal GARCH(1,1)-t's instead of the EWMA's (`garch`,
    fitted on the training part with the same calendar; `scale_lambda` then only says the scale is per
    window). Without `scale_lambda` (older models) one global `y_scale`. `spread` multiplies sampled paths and
    `drift` keeps that share of each window's own median path (`shrink_drift`): both are fitted on the
    validation part after training (`fit_spread`), 1 until then (and for models from before); so is
    `levels`, the quantile recalibration read after both (`forecast.recalibrate`; None before)."""

    mu: np.ndarray | None = None
    sigma: np.ndarray | None = None
    y_scale: float = 1.0
    scale_lambda: float | None = None
    season: object = None  # forecast.Seasonality
    spread: float = 1.0
    drift: float = 1.0
    scale_model: str = "ewma"  # or "garch"
    garch: object = None  # garch.SeasonalGarchT, with scale_model "garch"
    levels: np.ndarray | None = None  # forecast.fit_levels' map on forecast.LEVEL_GRID; None: the samples' own levels

    def fit(
        self,
        features: np.ndarray,
        train_ends: np.ndarray,
        patch_len: int,
        targets: np.ndarray,
        close: np.ndarray | None = None,
        ts=None,
        *,
        seasonal: bool = True,
        month_week: bool = True,
    ) -> Normalizer:
        from .forecast import Seasonality

        last = int(train_ends.max())
        rows = features[: last + 1]  # bars the training windows can see
        self.mu = rows.mean(axis=0)
        self.sigma = rows.std(axis=0)
        self.sigma[self.sigma < 1e-8] = 1.0
        self.y_scale = 1.0
        if self.scale_lambda and seasonal and ts is not None:
            self.season = Seasonality.fit(close, ts, last, month_week=month_week)
            if self.scale_model == "garch":
                from .garch import SeasonalGarchT

                self.garch = SeasonalGarchT().fit(close, ts, last, season=self.season)
        base = self.target_scale(close, train_ends, targets.shape[1], ts) if self.scale_lambda else 1.0
        self.y_scale = float(np.nanstd(targets[train_ends, -1] / base)) or 1.0
        return self

    def target_scale(self, close: np.ndarray | None, ends: np.ndarray, horizon: int, ts=None) -> np.ndarray | float:
        """The scale of each window's targets (ends: its last bar's index in `close`, `ts` the bars'
        times), or the one global scale."""
        if not self.scale_lambda:
            return self.y_scale
        if self.garch is not None:
            var = self.garch.step_variances(close, ts, ends, horizon).sum(axis=1)
        elif self.season is not None:
            var = self.season.variance(close, ts, ends, horizon, self.scale_lambda)
        else:
            var = horizon * ewma_variance(close, self.scale_lambda)[ends]
        floor = np.nanmedian(var[var > 0]) * 1e-4 if (var > 0).any() else 1e-12  # a flat stretch is not zero risk
        return (self.y_scale * np.sqrt(np.maximum(var, floor))).astype(np.float64)

    def forecast_scale(self, close: np.ndarray | None, ends: np.ndarray, horizon: int, ts=None) -> np.ndarray:
        """What sampled paths are multiplied by: the target scale times the fitted `spread`, one per window."""
        scale = np.broadcast_to(self.target_scale(close, ends, horizon, ts), np.shape(ends)).astype(np.float64)
        return scale * self.spread

    def transform(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mu) / self.sigma).astype(np.float32)

    def to_npz(self) -> dict:
        out = {
            "mu": self.mu.astype(np.float64),
            "sigma": self.sigma.astype(np.float64),
            "y_scale": np.array(self.y_scale),
            "scale_lambda": np.array(self.scale_lambda if self.scale_lambda else np.nan),
            "spread": np.array(self.spread),
            "drift": np.array(self.drift),
        }
        out |= {"level_map": np.asarray(self.levels, np.float64)} if self.levels is not None else {}
        out |= self.garch.to_npz() if self.garch is not None else {}
        return out | (self.season.to_npz() if self.season is not None else {})

    @classmethod
    def from_npz(cls, stats: dict) -> Normalizer:
        from .forecast import Seasonality, levels_from_sample_scale
        from .garch import SeasonalGarchT

        lam = float(stats["scale_lambda"]) if "scale_lambda" in stats else float("nan")
        if "level_map" in stats:  # the band levels' map on the predictive scale (forecast.fit_levels)
            levels = np.asarray(stats["level_map"], np.float64)
        elif "levels" in stats:  # a map fitted before 2026-12-08, on the scale of its 100 samples
            levels = levels_from_sample_scale(stats["levels"])
        else:
            levels = None
        season = Seasonality.from_npz(stats)
        garch = SeasonalGarchT.from_npz(stats, season) if season is not None else None
        return cls(
            np.asarray(stats["mu"], np.float32),
            np.asarray(stats["sigma"], np.float32),
            float(stats.get("y_scale", 1.0)),
            None if np.isnan(lam) else lam,
            season,
            float(stats.get("spread", 1.0)),
            float(stats.get("drift", 1.0)),
            "garch" if garch is not None else "ewma",
            garch,
            levels,
        )


def windows(features: np.ndarray, ends: np.ndarray, patch_len: int) -> np.ndarray:
    """[len(ends), patch_len, channels]: the window ending at each t (inclusive)."""
    idx = ends[:, None] + np.arange(-patch_len + 1, 1)[None, :]
    return features[idx]
