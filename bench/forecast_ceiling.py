"""How far volatility alone goes: a volatility forecast times the empirical shape, scored by the
forecast-quality protocol's rules (issue #16's question: is 0.97 x the random walk within reach?).

    .venv/bin/python bench/forecast_ceiling.py [--pairs EURUSD,AUDUSD,...] [--pair-windows 1000]
        [--out bench/results/forecast-ceiling-cpu.json]

No model: "filtered historical simulation". Each window's 12-bar return is forecast as
sigma_t x q, where sigma_t is a volatility forecast of the horizon fitted on the series' training part
and q the empirical quantiles of the training part's 12-bar returns in units of sigma (fat tails kept).
The volatility forecasts tried: the calendar-aware EWMA's spread (`Seasonality`, as the model's target
scale) for each lambda in LAMBDAS, and the seasonal GARCH(1,1)-t's (`training.engine.garch`, as the
fourth baseline but with the same calendar as the EWMA: `scale_model` "garch" of the model), and the
same calendar-aware EWMA of range-based variances instead of squared close-to-close returns (`parkinson`:
(ln high/low)^2 / 4 ln 2 plus the squared gap from the previous close to the open; `garman_klass`:
1/2 (ln high/low)^2 - (2 ln 2 - 1) (ln close/open)^2 plus the squared gap; each rescaled to the squared
returns' mean on the training part), each with
the hour of the week with the first week of the month apart (`month_week`) or the hour of the week alone
(`one_calendar`). The volatility forecast and a spread factor k are chosen on the validation part's
windows; the test part's windows (the protocol's: 5,000 evenly spaced on EURUSD, `--pair-windows` on
the other pairs, as `forecast_quality.py --pairs` scores them) are scored once, against the same four
baselines. Every forecaster here is a known distribution, so every score is exact (no sampling).

`--hindsight` adds volatility "forecasts" that look ahead, never chosen, to measure how much room a
better volatility forecast has at all: `after` W, the mean deseasonalized squared 1-bar return of the
W bars right after the horizon (t+h+1 .. t+h+W: the volatility of the days around the target, not
the target's own bars); `around` W, the same over the W bars before the forecast and the W after
the horizon; `two_sided`, the calendar-aware EWMA up to the forecast averaged with the same EWMA run
back from the series' end to the bar after the horizon; and `inside`, the horizon's own bars (the size
of the very path forecast, not its direction). Each is scaled by the horizon's calendar factors like
the EWMA, its W or lambda and k chosen on validation among its own rows (`hindsight_<kind>`; each W
apart: `hindsight_<kind>_<W>`). A forecaster that knows the days around its target is out of any
model's reach; how much it beats the seasonal GARCH-t by bounds what past data can hope to gain.
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
from forecast_quality import DATA, pair_path, read_candles  # noqa: E402  (bench/)

from training.engine.features import range_variances  # noqa: E402
from training.engine.forecast import QUANTILES, Seasonality, baseline_scores, crps_empirical, distribution_scores  # noqa: E402
from training.engine.garch import SeasonalGarchT  # noqa: E402
from training.engine.trainer import evenly_spaced, prepare_data  # noqa: E402

HORIZON, WINDOWS = 12, 5000
LAMBDAS = (0.94, 0.97, 0.985, 0.99, 0.995, 0.998, 0.999)
SPREADS = (0.9, 0.95, 1.0, 1.05, 1.1)
HINDSIGHT = (12, 24, 120)  # --hindsight: W bars after the horizon (and before the forecast, `around`)
LOOK_AHEAD = ("after", "around", "two_sided", "inside")


def shape_scores(z: np.ndarray, sigma: np.ndarray, truth: np.ndarray) -> dict:
    """Scores of the forecasts sigma x q, q the empirical distribution of the sorted standardized returns
    `z` (its QUANTILES for the pinball and coverage figures, the whole of it for the CRPS, exactly)."""
    shape = np.quantile(z, QUANTILES)[:, None]
    return distribution_scores(shape * sigma[None, :], sigma * crps_empirical(z, truth / sigma), truth)


def ceiling(path: Path, windows: int, hindsight: bool = False) -> dict:
    """The validation-chosen volatility-only forecast of one series, and the best of each kind."""
    candles = read_candles(path)
    data = prepare_data(candles, patch_len=64, horizon=HORIZON)
    close, ts, h = data.close, data.ts, HORIZON
    train_last = int(data.ends["train"].max())
    logc = np.log(close)
    bars = np.arange(200, len(close) - h)
    realized = np.full(len(close), np.nan)
    realized[bars] = logc[bars + h] - logc[bars]
    ranges = range_variances(candles)
    parts = {part: data.ends[part][evenly_spaced(len(data.ends[part]), windows)] for part in ("val", "test")}
    truth = {part: realized[ends] for part, ends in parts.items()}

    def spreads(season: Seasonality) -> dict:
        """scale name -> each bar's horizon spread (NaN before bar 200 and in the last h bars)."""
        out = {}
        for lam in LAMBDAS:
            out[("ewma", lam)] = season.variance(close, ts, bars, h, lam)
        stamps = pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
        factors, squared = season.bar_factors(stamps), season.deseasonalized(close, stamps) ** 2
        horizon_sum = season.horizon_sum(season.slots(stamps)[bars], h, stamps[bars])
        for kind, per_bar in ranges.items():
            per_bar = per_bar / factors
            per_bar = per_bar * squared[1 : train_last + 1].mean() / per_bar[1 : train_last + 1].mean()
            for lam in LAMBDAS:
                level = pd.Series(per_bar).ewm(alpha=1 - lam, adjust=False).mean().to_numpy()
                out[(kind, lam)] = level[bars] * horizon_sum
        garch = SeasonalGarchT().fit(close, ts, train_last, season=season)
        out[("garch", None)] = garch.step_variances(close, ts, bars, h).sum(axis=1)
        if hindsight:
            total = np.r_[0.0, np.cumsum(squared)]  # total[i] = sum of squared[:i]

            def sum_of(first, last):  # sum of squared[first:last] per bar, and how many bars
                first, last = np.minimum(first, len(squared)), np.minimum(last, len(squared))
                return total[last] - total[first], last - first

            for w in HINDSIGHT:  # near the series' end, the bars after the horizon that exist (none: the ones before)
                after, n_after = sum_of(bars + h + 1, bars + h + 1 + w)
                before, n_before = sum_of(bars - w + 1, bars + 1)
                mean_after = np.where(n_after > 0, after / np.maximum(n_after, 1), before / n_before)
                out[("after", w)] = mean_after * horizon_sum
                out[("around", w)] = (after + before) / (n_after + n_before) * horizon_sum
            for lam in LAMBDAS:  # the EWMA up to t (above) and the same EWMA run back from the end to t+h+1
                back = pd.Series(squared[::-1]).ewm(alpha=1 - lam, adjust=False).mean().to_numpy()[::-1]
                after = np.where(
                    bars + h + 1 < len(squared),
                    back[np.minimum(bars + h + 1, len(squared) - 1)] * horizon_sum,
                    out[("ewma", lam)],
                )
                out[("two_sided", lam)] = (out[("ewma", lam)] + after) / 2
            out[("inside", h)] = sum_of(bars + 1, bars + h + 1)[0] / h * horizon_sum  # the path's own bars
        return {key: np.r_[np.full(200, np.nan), np.sqrt(var), np.full(h, np.nan)] for key, var in out.items()}

    grid = []
    for calendar in ("month_week", "one_calendar"):
        season = Seasonality.fit(close, ts, train_last, month_week=calendar == "month_week")
        for (scale, lam), sigma in spreads(season).items():
            z = (realized / sigma)[: train_last - h]  # standardized returns whose horizon ended in the training part
            z = np.sort(z[np.isfinite(z)])
            for k in SPREADS:
                row = {"scale": scale, "calendar": calendar, "lambda": lam, "spread": k}
                for part, ends in parts.items():
                    row[part] = shape_scores(z, sigma[ends] * k, truth[part])
                grid.append(row)
    baselines = baseline_scores(close, ts, parts["test"], h, truth["test"], train_last=train_last)

    def summary(row: dict) -> dict:
        return {
            "scale": row["scale"],
            "calendar": row["calendar"],
            "lambda": row["lambda"],
            "spread": row["spread"],
            "val_crps": row["val"]["crps"],
            "test_crps": row["test"]["crps"],
            "test_coverage_q05_q95": row["test"]["coverage_q05_q95"],
            "ratio": {b: row["test"]["crps"] / s["crps"] for b, s in baselines.items()},
        }

    def best(**match) -> dict:  # chosen on validation only; look-ahead rows only when asked for by name
        rows = [r for r in grid if all(r[k] == v for k, v in match.items())]
        rows = [r for r in rows if r["scale"] not in LOOK_AHEAD] if "scale" not in match else rows
        return summary(min(rows, key=lambda row: row["val"]["crps"]))

    return {
        "pair": path.name.split("_")[0],
        "file": path.name,
        "windows": int(len(parts["test"])),
        "chosen": best(),
        "best_ewma": best(scale="ewma"),
        "best_garch": best(scale="garch"),
        "best_parkinson": best(scale="parkinson"),
        "best_garman_klass": best(scale="garman_klass"),
        "one_calendar": best(calendar="one_calendar", scale="ewma"),
        **{
            f"hindsight_{scale}": best(scale=scale, calendar="month_week")
            for scale in (LOOK_AHEAD if hindsight else ())
        },
        **{
            f"hindsight_{scale}_{w}": best(scale=scale, calendar="month_week", **{"lambda": w})
            for scale in ("after", "around")
            for w in (HINDSIGHT if hindsight else ())
        },
        "lambda_0.94_spread_1": summary(
            next(r for r in grid if r["calendar"] == "month_week" and r["lambda"] == 0.94 and r["spread"] == 1.0)
        ),
        "baselines": {b: {"crps": s["crps"], "coverage_q05_q95": s["coverage_q05_q95"]} for b, s in baselines.items()},
        "grid": [
            {k: r[k] for k in ("scale", "calendar", "lambda", "spread")}
            | {"val_crps": r["val"]["crps"], "test_crps": r["test"]["crps"]}
            for r in grid
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--pairs", default="EURUSD", help="files PAIR_H1_*.csv in ../shared/data (EURUSD: the protocol's)"
    )
    parser.add_argument("--pair-windows", type=int, default=1000, help="test windows of each pair but EURUSD")
    parser.add_argument("--hindsight", action="store_true", help="also the look-ahead volatility bounds")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    started = time.perf_counter()
    series = []
    for pair in args.pairs.upper().replace("/", "").split(","):
        path = pair_path(pair)
        series.append(ceiling(path, WINDOWS if path == DATA else args.pair_windows, args.hindsight))
        print(f"{pair}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    result = {
        "protocol": {
            "scoring": "exact (no sampling)",
            "horizon_bars": HORIZON,
            "chosen_on": "validation part",
            "scored_on": "test part",
        },
        "series": series,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
