"""Evaluations per second of the reference engine (kernc's backtesting) and the compiled engine,
measured side by side in one run on all 65,000 bars of EURUSD_H1_2014-2024.csv.

    .venv/bin/python bench/backtest_throughput.py [--sets 12] [--seed 0]

Both engines run the same random ForecastStrategy parameter sets on the same bars and forecasts
(the causal momentum baseline); every pair is checked for identical trades before timing counts.
"fast, raw" is the compiled simulation alone (what an optimizer needs per evaluation); "fast, full"
adds backtesting's own compute_stats on its trades and equity (the same stats table as the reference).
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

from backtesting_app.engine import (  # noqa: E402
    FxCosts,
    align_forecasts,
    momentum_forecasts,
    ohlc_frame,
    run_backtest,
    run_fast_forecast,
)

DATA = ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    ohlc = ohlc_frame(pd.read_csv(DATA).rename(columns={"timestamp": "ts"}))
    pred, conf = align_forecasts(ohlc, momentum_forecasts(ohlc))
    costs = FxCosts(spread_pips=1.0, commission=0.00002, leverage=5)
    rng = np.random.default_rng(args.seed)
    sets = [
        {
            "entry_threshold": float(rng.uniform(0, 0.003)),
            "confidence_threshold": float(rng.uniform(0, 0.8)),
            "stop_loss_pct": float(rng.uniform(0.001, 0.02)),
            "take_profit_pct": float(rng.uniform(0.001, 0.03)),
            "max_hold_bars": int(rng.integers(1, 60)),
        }
        for _ in range(args.sets)
    ]
    run_fast_forecast(
        ohlc.iloc[:100], sets[0], costs, pred_return=pred[:100], confidence=conf[:100], with_stats=False
    )  # compile once

    timings = {"reference": [], "fast_full": [], "fast_raw": []}
    trades = []
    for params in sets:
        t0 = time.perf_counter()
        ref = run_backtest(ohlc, "forecast", params, costs, pred_return=pred, confidence=conf, engine="reference")
        t1 = time.perf_counter()
        full = run_backtest(ohlc, "forecast", params, costs, pred_return=pred, confidence=conf, engine="fast")
        t2 = time.perf_counter()
        for _ in range(20):
            raw, equity = run_fast_forecast(ohlc, params, costs, pred_return=pred, confidence=conf, with_stats=False)
        t3 = time.perf_counter()
        cols = ["Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice"]
        assert np.array_equal(ref.trades[cols].to_numpy(), full.trades[cols].to_numpy()), params
        assert abs(full.final_equity - ref.final_equity) <= 1e-6 * abs(ref.final_equity)
        timings["reference"].append(t1 - t0)
        timings["fast_full"].append(t2 - t1)
        timings["fast_raw"].append((t3 - t2) / 20)
        trades.append(len(ref.trades))
    rate = {k: len(v) / sum(v) for k, v in timings.items()}
    print(
        json.dumps(
            {
                "bars": len(ohlc),
                "parameter_sets": len(sets),
                "trades_per_run": [min(trades), int(np.median(trades)), max(trades)],
                "identical_trades_and_equity": True,
                "evals_per_s": {k: round(v, 2) for k, v in rate.items()},
                "speedup_vs_reference": {
                    "fast_raw": round(rate["fast_raw"] / rate["reference"], 1),
                    "fast_full": round(rate["fast_full"] / rate["reference"], 1),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
