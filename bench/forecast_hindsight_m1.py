"""How much a volatility forecast could gain if it knew the days around its target precisely: EURUSD's
1-minute bars (January-June 2017) give each hour's realized variance, and forecasts that look ahead at
it are scored against the seasonal GARCH(1,1)-t on the same hourly windows.

    OMP_NUM_THREADS=1 .venv/bin/python bench/forecast_hindsight_m1.py [--out bench/results/forecast-hindsight-m1-cpu.json]

`forecast_ceiling.py --hindsight` estimates the volatility around a target from hourly returns, whose
squares are a noisy measure of it; here each hour's variance is the sum of its sixty 1-minute squared
log returns (`EURUSD_M1_2017-01_2017-06.csv`), an estimate an order of magnitude less noisy. Forecasts
(each window's 12-bar return = sigma x q, q the empirical shape of the fitting half's standardized
returns, a spread factor k on that half; all scored exactly):
- `ewma`: the calendar-aware EWMA of hourly returns up to the forecast (lambda 0.995), what the model's
  target scale is - no look-ahead;
- `m1_before` W: the mean 1-minute realized variance of the W hours up to the forecast - no look-ahead;
- `m1_around` W: of the W hours before the forecast and the W hours right after the horizon (never the
  horizon's own hours): the volatility around the target, known precisely;
- `m1_inside`: the horizon's own 12 hours' realized variance - the size of the very path forecast (not
  its direction): the most any volatility forecast could know.
Each hour's variance is divided by its calendar factor and the horizon's factors multiply it back, as
the EWMA's. The series' training part (the protocol's split: 2017 lies in it) fits the calendar and the
GARCH-t; the windows are every hourly bar from 2017-01-09 to 2017-06-23 with 1-minute bars around it;
the first half of them (by date) chooses k and the shape, the second half is scored. The seasonal
GARCH-t and the random walk are the protocol's baselines on the same windows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from emit import emit  # noqa: E402  (bench/, the script's folder)
from forecast_ceiling import shape_scores  # noqa: E402  (bench/)
from forecast_quality import DATA, read_candles  # noqa: E402  (bench/)

from training.engine.forecast import Seasonality, baseline_scores  # noqa: E402
from training.engine.trainer import prepare_data  # noqa: E402

HORIZON = 12
M1 = DATA.parent / "EURUSD_M1_2017-01_2017-06.csv"
FIRST, LAST = "2017-01-09", "2017-06-23"  # origins with 1-minute bars at least 120 hours either side
WIDTHS = (3, 6, 12, 24, 72)
SPREADS = (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2)


def hourly_realized_variance(stamps: pd.DatetimeIndex) -> np.ndarray:
    """Per hourly bar: the sum of its 1-minute squared log returns (each minute's close against the one
    before it, whatever the gap inside the file); NaN for an hour with no 1-minute bar."""
    m1 = pd.read_csv(M1, usecols=["timestamp", "close"])
    ts = pd.to_datetime(m1.timestamp, utc=True)
    r2 = np.diff(np.log(m1.close.to_numpy()), prepend=np.nan) ** 2
    per_hour = pd.Series(r2, index=ts.dt.floor("h")).groupby(level=0).sum(min_count=1)
    return per_hour.reindex(stamps).to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not M1.exists():
        sys.exit(f"{M1} is absent: the benchmark needs ../shared/data")
    started = time.perf_counter()
    h = HORIZON
    data = prepare_data(read_candles(DATA), patch_len=64, horizon=h)
    close, ts = data.close, data.ts
    train_last = int(data.ends["train"].max())
    stamps = pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
    season = Seasonality.fit(close, ts, train_last, month_week=True)
    factors = season.bar_factors(stamps)
    rv = hourly_realized_variance(stamps) / factors  # deseasonalized, as the EWMA's squared returns
    logc = np.log(close)
    bars = np.flatnonzero((stamps >= FIRST) & (stamps < LAST))
    bars = bars[bars + h < len(close)]
    truth = logc[bars + h] - logc[bars]
    horizon_sum = season.horizon_sum(season.slots(stamps)[bars], h, stamps[bars])

    def window_mean(offsets) -> np.ndarray:
        values = rv[bars[:, None] + np.asarray(offsets)[None, :]]
        return np.nanmean(values, axis=1)

    sigma = {("ewma", 0): np.sqrt(season.variance(close, ts, bars, h, 0.995))}
    for w in WIDTHS:
        before, after = np.arange(-w + 1, 1), np.arange(h + 1, h + 1 + w)
        sigma[("m1_before", w)] = np.sqrt(window_mean(before) * horizon_sum)
        sigma[("m1_around", w)] = np.sqrt(window_mean(np.r_[before, after]) * horizon_sum)
    sigma[("m1_inside", h)] = np.sqrt(
        np.nansum(rv[bars[:, None] + np.arange(1, h + 1)] * factors[bars[:, None] + np.arange(1, h + 1)], axis=1)
    )
    ok = np.all([np.isfinite(s) & (s > 0) for s in sigma.values()], axis=0)
    half = len(bars) // 2
    fit, test = np.flatnonzero(ok[:half]), half + np.flatnonzero(ok[half:])
    baselines = baseline_scores(close, ts, bars[test], h, truth[test], train_last=train_last)
    rows = []
    for (kind, width), s in sigma.items():
        z = np.sort(truth[fit] / s[fit])
        fit_crps, k = min((shape_scores(z, s[fit] * k, truth[fit])["crps"], k) for k in SPREADS)
        scores = shape_scores(z, s[test] * k, truth[test])
        rows.append(
            {
                "forecast": kind,
                "width_hours": width,
                "spread": k,
                "fit_crps": fit_crps,
                "test_crps": scores["crps"],
                "test_coverage_q05_q95": scores["coverage_q05_q95"],
                "ratio": {b: scores["crps"] / v["crps"] for b, v in baselines.items()},
            }
        )
        print(
            f"{kind:10s} {width:3d} h  k {k:.2f}  test CRPS {scores['crps']:.4e}  "
            f"/ RW {rows[-1]['ratio']['random_walk']:.4f}  / GARCH-t {rows[-1]['ratio']['seasonal_garch_t']:.4f}  "
            f"coverage {scores['coverage_q05_q95']:.3f}",
            file=sys.stderr,
        )
    emit(
        {
            "series": DATA.name,
            "m1": M1.name,
            "origins": [str(stamps[bars[0]]), str(stamps[bars[-1]])],
            "fit_windows": int(len(fit)),
            "test_windows": int(len(test)),
            "test_first": str(stamps[bars[test[0]]]),
            "horizon_bars": h,
            "baselines": {
                b: {"crps": v["crps"], "coverage_q05_q95": v["coverage_q05_q95"]} for b, v in baselines.items()
            },
            "forecasts": rows,
            "wall_seconds": round(time.perf_counter() - started, 1),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
