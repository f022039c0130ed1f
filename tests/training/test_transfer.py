"""A model on another series: its statistics refitted on that series' bars of the model's training
period (robust to one shock, reading nothing later), the windows of its periods by date, and the spread
and drift fitted on the validation period's windows."""

import numpy as np
import pandas as pd
import pytest

from training.engine.features import horizon_targets
from training.engine.periods import periods_of
from training.engine.trainer import SPREADS, prepare_data
from training.engine.transfer import adapt_to_series, refit_statistics, split_by_dates


def _candles(n=3000, seed=0, vol=1e-3, start="2020-01-06"):
    """Hourly OHLC bars on weekdays, random-walk closes."""
    ts = pd.date_range(start, periods=n * 2, freq="h", tz="UTC")
    ts = ts[ts.day_of_week < 5][:n]
    close = 1.2 * np.exp(np.cumsum(np.random.default_rng(seed).standard_normal(n) * vol))
    prev = np.r_[close[0], close[:-1]]
    return pd.DataFrame(
        {
            "ts": ts,
            "open": prev,
            "high": np.maximum(prev, close) * 1.0002,
            "low": np.minimum(prev, close) * 0.9998,
            "close": close,
        }
    )


def test_the_statistics_come_from_the_training_bars_alone_and_one_shock_does_not_set_them():
    own = prepare_data(_candles(seed=1), patch_len=32, horizon=12)
    other = _candles(seed=2, vol=3e-3)  # three times as volatile: its own units differ from the model's
    last = 2500  # the clipped quantiles need a few thousand bars: 0.05% of 2,500 is past the one shock
    plain = refit_statistics(own.normalizer, other, own.channels, last, robust=False)
    robust = refit_statistics(own.normalizer, other, own.channels, last)
    close_at = own.channels.index("ret_close")
    assert plain.sigma[close_at] == pytest.approx(3 * own.normalizer.sigma[close_at], rel=0.15)
    assert robust.spread == own.normalizer.spread and robust.y_scale == own.normalizer.y_scale  # the model's
    later = other.copy()
    later.loc[last + 1 :, ["open", "high", "low", "close"]] *= 1.5  # bars after the training period
    again = refit_statistics(own.normalizer, later, own.channels, last)
    assert np.array_equal(again.mu, robust.mu) and np.array_equal(again.sigma, robust.sigma)
    assert np.array_equal(again.season.factors, robust.season.factors)
    shocked = other.copy()
    shocked.loc[700:, ["open", "high", "low", "close"]] *= 0.8  # one bar moves 20%, as EURCHF in January 2015
    shocked.loc[700, "high"] = shocked.loc[699, "close"]
    hit_plain = refit_statistics(own.normalizer, shocked, own.channels, last, robust=False)
    hit_robust = refit_statistics(own.normalizer, shocked, own.channels, last)
    assert hit_plain.sigma[close_at] > 1.5 * plain.sigma[close_at]  # one bar sets the plain spread ...
    assert hit_robust.sigma[close_at] == pytest.approx(robust.sigma[close_at], rel=0.02)  # ... not the clipped one
    assert hit_robust.season.factors.max() < 2 * robust.season.factors.max()


def test_another_series_windows_are_those_of_the_models_periods_by_date():
    model_data = prepare_data(_candles(2000), patch_len=32, horizon=12)
    periods = periods_of(model_data)
    other = _candles(2600, start="2019-12-02")  # starts a month earlier, ends later
    split = split_by_dates(other["ts"], periods, 32, 12)
    stamps = pd.DatetimeIndex(other["ts"])
    for part in ("train", "val"):
        ends = getattr(split, part)
        assert stamps[ends[0]] == pd.Timestamp(periods[part]["first_origin"])
        assert stamps[ends[-1]] == pd.Timestamp(periods[part]["last_origin"])
        assert len(ends) == periods[part]["windows"]  # the same weekday hours: the same windows
    assert len(split.test) == 0
    first_val = stamps.get_loc(pd.Timestamp(periods["val"]["first_origin"]))
    late = split_by_dates(
        other["ts"].iloc[first_val - 31 :].reset_index(drop=True), periods, 32, 12
    )  # just its context
    assert len(late.train) == 0 and len(late.val) == periods["val"]["windows"]


def test_the_spread_and_drift_are_fitted_on_the_validation_windows_and_a_rerun_fits_the_same():
    import torch

    from training.engine import DiffusionForecaster

    own = prepare_data(_candles(1200, seed=3), patch_len=32, horizon=12)
    torch.manual_seed(0)
    model = DiffusionForecaster(channels=len(own.channels), patch_len=32, horizon=12, dim=16, layers=1, heads=2).eval()
    other = _candles(1200, seed=4, vol=2e-3)
    split = split_by_dates(other["ts"], periods_of(own), 32, 12)

    def adapt(split):
        return adapt_to_series(
            model,
            own.normalizer,
            other,
            channels=own.channels,
            patch_len=32,
            horizon=12,
            split=split,
            n_samples=8,
            max_windows=40,
        )

    norm, fitted = adapt(split)
    assert norm.spread == fitted["spread"] and fitted["spread"] in SPREADS and fitted["windows"] == 40
    assert norm is not own.normalizer and own.normalizer.spread == 1.0
    again, _ = adapt(split)  # a resumed forecast set fits the same numbers
    assert (again.spread, again.drift) == (norm.spread, norm.drift) and np.array_equal(again.mu, norm.mu)
    targets = horizon_targets(other["close"].to_numpy(), 12)[split.val, -1]
    scale = norm.target_scale(other["close"].to_numpy(), split.val, 12, other["ts"])
    own_z = own.y["val"][:, -1]  # the model's own validation targets, in its units
    assert np.nanstd(targets / scale) == pytest.approx(np.std(own_z), rel=0.25)  # the other series in the same units
    with pytest.raises(ValueError, match="no training or validation window"):
        adapt(split_by_dates(other["ts"].iloc[:10], periods_of(own), 32, 12))
