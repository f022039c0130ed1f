"""How far volatility alone goes: a volatility forecast times the empirical shape, scored by the
forecast-quality protocol's rules (issue #16's question: is 0.97 x the random walk within reach?).

    .venv/bin/python bench/forecast_ceiling.py [--out bench/results/forecast-ceiling-cpu.json]

No model: "filtered historical simulation". Each window's 12-bar return is forecast as
sigma_t x q, where sigma_t is the calendar-aware EWMA's spread of the horizon (`Seasonality`, fitted
on the training part, as the model's target scale: the hour of the week with the first week of the
month apart; `one_calendar` rows: the hour of the week alone) and q the empirical quantiles of the
standardized 12-bar returns of the training part (fat tails kept). The calendar, the EWMA's lambda and
a spread factor k are chosen on the validation part's windows; the test part's 5,000 evenly spaced windows (the protocol's)
are scored once, against the same random-walk, EWMA-Gaussian and seasonal-EWMA baselines. Every
forecaster here is a known distribution, so every score is exact (no sampling).
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

from training.engine.forecast import QUANTILES, Seasonality, baseline_scores, crps_empirical, distribution_scores  # noqa: E402
from training.engine.trainer import evenly_spaced, prepare_data  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv"
HORIZON, WINDOWS = 12, 5000
LAMBDAS = (0.94, 0.97, 0.985, 0.99, 0.995, 0.998, 0.999)
SPREADS = (0.95, 1.0, 1.05, 1.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    started = time.perf_counter()
    data = prepare_data(pd.read_csv(DATA).rename(columns={"timestamp": "ts"}), patch_len=64, horizon=HORIZON)
    close, ts, h = data.close, data.ts, HORIZON
    train_last = int(data.ends["train"].max())
    seasons = {
        "month_week": Seasonality.fit(close, ts, train_last, month_week=True),
        "one_calendar": Seasonality.fit(close, ts, train_last),
    }
    logc = np.log(close)
    bars = np.arange(200, len(close) - h)
    realized = np.full(len(close), np.nan)
    realized[bars] = logc[bars + h] - logc[bars]
    parts = {part: data.ends[part][evenly_spaced(len(data.ends[part]), WINDOWS)] for part in ("val", "test")}
    truth = {part: realized[ends] for part, ends in parts.items()}

    def scores(lam: float, calendar: str) -> list[dict]:
        """Exact scores of sigma_t * k * Z for each spread k, Z the training part's standardized returns
        (equal weights)."""
        season = seasons[calendar]
        sigma = np.full(len(close), np.nan)
        sigma[bars] = np.sqrt(season.variance(close, ts, bars, h, lam))
        z = (realized / sigma)[: train_last - h]  # standardized returns whose horizon ended in the training part
        z = np.sort(z[np.isfinite(z)])
        shape = np.quantile(z, QUANTILES)[:, None]
        rows = []
        for k in SPREADS:
            row = {"calendar": calendar, "lambda": lam, "spread": k}
            for part, ends in parts.items():
                s = sigma[ends] * k
                row[part] = distribution_scores(shape * s[None, :], s * crps_empirical(z, truth[part] / s), truth[part])
            rows.append(row)
        return rows

    grid = [row for calendar in seasons for lam in LAMBDAS for row in scores(lam, calendar)]
    best = min(grid, key=lambda row: row["val"]["crps"])  # chosen on validation only
    ends, y = parts["test"], truth["test"]
    baselines = baseline_scores(close, ts, ends, h, y, train_last=train_last)
    at_094 = next(r for r in grid if r["calendar"] == best["calendar"] and r["lambda"] == 0.94 and r["spread"] == 1.0)
    one = min((r for r in grid if r["calendar"] == "one_calendar"), key=lambda row: row["val"]["crps"])
    result = {
        "protocol": {
            "data": DATA.name,
            "windows": int(len(ends)),
            "scoring": "exact (no sampling)",
            "horizon_bars": h,
            "chosen_on": "validation part",
            "scored_on": "test part",
        },
        "chosen": {
            "calendar": best["calendar"],
            "lambda": best["lambda"],
            "spread": best["spread"],
            "val_crps": best["val"]["crps"],
            "test_crps": best["test"]["crps"],
            "test_coverage_q05_q95": best["test"]["coverage_q05_q95"],
            "ratio": {b: best["test"]["crps"] / s["crps"] for b, s in baselines.items()},
        },
        "one_calendar": {
            "lambda": one["lambda"],
            "spread": one["spread"],
            "val_crps": one["val"]["crps"],
            "test_crps": one["test"]["crps"],
            "ratio": {b: one["test"]["crps"] / s["crps"] for b, s in baselines.items()},
        },
        "lambda_0.94_spread_1": {
            "test_crps": at_094["test"]["crps"],
            "ratio": {b: at_094["test"]["crps"] / s["crps"] for b, s in baselines.items()},
        },
        "baselines": {b: {"crps": s["crps"], "coverage_q05_q95": s["coverage_q05_q95"]} for b, s in baselines.items()},
        "grid": [
            {
                "calendar": r["calendar"],
                "lambda": r["lambda"],
                "spread": r["spread"],
                "val_crps": r["val"]["crps"],
                "test_crps": r["test"]["crps"],
            }
            for r in grid
        ],
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
