"""A trained model on a series it was not trained on (another pair): the same network, the series' bars
put in the units it was trained in - no Django, no I/O.

The network stays as it was trained. What is fitted again, on the new series' own bars of the model's
own training and validation periods (dates, so nothing later than the model itself saw is read): the
input channels' mean / spread and the volatility calendar (and the GARCH of a GARCH target unit) on the
training period's bars, each from values clipped to their central quantiles so one shock (the SNB's
20% move of January 2015) does not set the scale; then the spread factor and the drift on the
validation period's windows, as after training (and the levels its bands are read at). Measured leave-one-pair-out in
`bench/forecast_quality.py --pair-adapt robust_spread` (docs/FORECASTER.md, other pairs)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from .features import Normalizer, Split, make_features
from .forecast import Seasonality
from .garch import SeasonalGarchT

# Another series is forecast only where it has at least this share of the model's own training and
# validation windows on those dates (and at least ADAPT_MIN_WINDOWS of each): statistics and a spread
# fitted on fewer would say more about the few bars than about the series.
ADAPT_MIN_SHARE = 0.25
ADAPT_MIN_WINDOWS = 20
CHANNEL_CLIP = 0.005  # each input channel's mean / spread from values between its 0.5% and 99.5% quantiles
RETURN_CLIP = 0.0005  # the calendar (and GARCH) from 1-bar returns between their 0.05% and 99.95% quantiles


def refit_statistics(
    model_norm: Normalizer, candles: pd.DataFrame, channels, train_last: int, *, robust: bool = True
) -> Normalizer:
    """The model's normalizer with the input channels' mean / spread, the volatility calendar (and a
    GARCH target unit) refitted on `candles`' bars up to `train_last`: the series in the units the network
    was trained in, whatever its volatility and hours. The target unit's `y_scale`, the spread and the
    drift stay the model's (`fit_spread` fits the last two again). `robust`: statistics a one-bar shock
    cannot set (CHANNEL_CLIP, RETURN_CLIP); without, plain means and spreads."""
    features, _ = make_features(candles, channels)
    close = candles["close"].to_numpy(float)
    ts = pd.to_datetime(candles["ts"], utc=True).to_numpy()
    rows = features[: train_last + 1]
    if robust:
        rows = np.clip(rows, np.quantile(rows, CHANNEL_CLIP, axis=0), np.quantile(rows, 1 - CHANNEL_CLIP, axis=0))
        ret = np.diff(np.log(close), prepend=np.log(close[0]))
        lo, hi = np.quantile(ret[1 : train_last + 1], [RETURN_CLIP, 1 - RETURN_CLIP])
        close = np.exp(np.cumsum(np.clip(ret, lo, hi))) * close[0]  # for the calendar and the GARCH fit only
    norm = copy.deepcopy(model_norm)
    norm.mu, norm.sigma = rows.mean(axis=0), rows.std(axis=0)
    norm.sigma[norm.sigma < 1e-8] = 1.0
    if model_norm.season is not None:
        norm.season = Seasonality.fit(close, ts, train_last, month_week=model_norm.season.month_factors is not None)
    if model_norm.garch is not None:
        norm.garch = SeasonalGarchT().fit(close, ts, train_last, season=norm.season)
    return norm


def split_by_dates(ts, periods: dict, patch_len: int, horizon: int, parts=("train", "val")) -> Split:
    """The window ends of another series whose origins fall in the model's periods (`periods`:
    `periods.periods_of`'s first_origin / last_origin, ISO UTC) - each with a full context and a realized
    horizon - for each of `parts`; the others empty. The platform asks for the training and validation
    periods only: forecasts are what the test period is for (the protocol scores the test period's)."""
    stamps = pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
    index = np.arange(len(stamps))
    usable = (index >= patch_len - 1) & (index <= len(stamps) - 1 - horizon)

    def part(name: str) -> np.ndarray:
        if name not in parts:
            return np.zeros(0, dtype=np.int64)
        first, last = (pd.Timestamp(periods[name][k]) for k in ("first_origin", "last_origin"))
        return index[usable & (stamps >= first) & (stamps <= last)]

    return Split(part("train"), part("val"), part("test"))


def windows_needed(periods: dict) -> dict[str, int]:
    """The training and validation windows another series needs on the model's dates (ADAPT_MIN_SHARE of
    the model's own, at least ADAPT_MIN_WINDOWS)."""
    return {
        part: max(ADAPT_MIN_WINDOWS, int(np.ceil(ADAPT_MIN_SHARE * periods[part]["windows"])))
        for part in ("train", "val")
    }


def adapt_to_series(
    model,
    model_norm: Normalizer,
    candles: pd.DataFrame,
    *,
    channels,
    patch_len: int,
    horizon: int,
    split: Split,
    seed: int = 0,
    n_samples: int = 100,
    max_windows: int = 1000,
    device: str = "cpu",
    levels: bool = True,
) -> tuple[Normalizer, dict]:
    """(the normalizer for `candles`, what `fit_spread` tried): statistics refitted on `split.train`'s bars
    (`refit_statistics`, robust), then the spread, drift and (with `levels`) band levels fitted on at most
    `max_windows` of `split.val`'s windows."""
    from .trainer import fit_spread, prepare_data  # torch and Lightning: only when a model is adapted

    if len(split.train) == 0 or len(split.val) == 0:
        raise ValueError("no training or validation window to fit the statistics and the spread on")
    norm = refit_statistics(model_norm, candles, channels, int(split.train.max()))
    data = prepare_data(candles, patch_len=patch_len, horizon=horizon, channels=channels, normalizer=norm, split=split)
    fitted = fit_spread(
        model, data, seed=seed, n_samples=n_samples, max_windows=max_windows, device=device, levels=levels
    )
    return norm, fitted
