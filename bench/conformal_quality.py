"""Conformal methods side by side on real EURUSD H1 forecasts, and the engine's speed.

    .venv/bin/python bench/conformal_quality.py [--alpha 0.1] [--cal-size 5000]

Forecaster (deliberately simple, fully causal): next-hour log return of the close predicted as 0,
with EWMA volatility (lambda = 0.94) from past returns as the scale and a +-1.645 sigma Gaussian band
as q_lo / q_hi. Calibration: the first --cal-size hours; evaluation: the remaining ~60,000 hours.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformal.engine import METHODS, AdaptiveConformal, SplitConformal, calibrate_series  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv"


def forecasts() -> dict[str, np.ndarray]:
    close = pd.read_csv(DATA)["close"].to_numpy()
    ret = np.diff(np.log(close))
    sigma = np.sqrt(pd.Series(ret**2).ewm(alpha=0.06).mean().shift(1).to_numpy())
    ret, sigma = ret[100:], sigma[100:]
    return {"y_true": ret, "y_pred": np.zeros_like(ret), "scale": sigma, "q_lo": -1.645 * sigma, "q_hi": 1.645 * sigma}


def speed() -> dict:
    rng = np.random.default_rng(0)
    residuals, new = rng.standard_t(4, size=1_000_000), rng.normal(size=1_000_000)
    started = time.perf_counter()
    lo, hi = SplitConformal(0.1).fit(residuals, np.zeros_like(residuals)).predict(new)
    split_s = time.perf_counter() - started
    y = rng.standard_t(4, size=102_000)
    aci = AdaptiveConformal(0.1, gamma=0.005, window=2000).fit(y[:2000], np.zeros(2000))
    started = time.perf_counter()
    for t in range(2000, 102_000):
        aci.predict_one(0.0)
        aci.update(y[t])
    online_s = time.perf_counter() - started
    return {
        "split_fit_1M_and_predict_1M_s": round(split_s, 3),
        "aci_100k_online_steps_s": round(online_s, 3),
        "aci_us_per_step": round(online_s / 100_000 * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--cal-size", type=int, default=5000)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    cols = forecasts()
    rows = []
    variants = [(m, {}) for m in METHODS] + [("aci", {"score": "normalized"}), ("window", {"score": "normalized"})]
    for method, extra in variants:
        m = calibrate_series(cols, method=method, alpha=args.alpha, cal_size=args.cal_size, **extra).metrics
        rows.append(
            {
                "method": method + (f" ({extra['score']})" if extra else ""),
                "coverage": round(m["coverage"], 4),
                "off_target_pts": round(100 * (m["coverage"] - m["target"]), 2),
                "worst_500_rolling": round(m["rolling_min"], 3),
                "share_windows_below_target_minus_5": round(m["rolling_share_below"], 3),
                "mean_width": float(f"{m['mean_width']:.6g}"),
                "winkler": float(f"{m['winkler']:.6g}"),
                "n_infinite": m["n_infinite"],
                "coverage_low_mid_high_vol": [round(v, 3) for v in m["coverage_by_volatility"].values()],
            }
        )
    print(
        json.dumps(
            {
                "points_evaluated": len(cols["y_true"]) - args.cal_size,
                "alpha": args.alpha,
                "methods": rows,
                "speed": speed(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
